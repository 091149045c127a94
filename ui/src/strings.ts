// Every string the UI shows, in one place, ready for translation.
import type { SyncProgress } from "./ipc";

export const strings = {
  appName: "WhatsApp MCP Desktop",
  tagline: "Let your AI assistant read, search and act on your WhatsApp — from this computer only.",
  privacy: "Your messages stay on this computer. Nothing is sent anywhere except to WhatsApp itself.",
  loading: "Starting…",
  errorPrefix: "Something went wrong:",
  demoBadge: "Demo",
  demoExplained: "Demo mode: a simulated WhatsApp account with generated chats. Nothing here is real and nothing is sent.",
  // The unlock page (no keychain on this computer)
  choosePassphraseTitle: "Choose a passphrase for your messages",
  choosePassphraseIntro:
    "Your messages are kept encrypted on this computer. This computer has no keychain to keep the key for you, so choose a passphrase: you will type it each time the app starts. Nobody can recover it for you.",
  unlockTitle: "Unlock your messages",
  unlockIntro: "Your messages are encrypted with the passphrase you chose. Type it to start.",
  passphraseLabel: "Passphrase",
  passphraseAgainLabel: "The same passphrase again",
  encryptWithPassphrase: "Encrypt with this passphrase",
  unlockButton: "Unlock",
  unlocking: "Opening your messages…",
  passphrasesDiffer: "The two passphrases are not the same. Type them again.",
  dontEncryptTitle: "Or keep them unencrypted",
  dontEncryptText:
    "Your data folder can only be opened by your user account either way; without encryption, anyone who gets a copy of the folder (a backup, a stolen disk) can read your messages.",
  dontEncrypt: "Don't encrypt…",
  dontEncryptConfirm: "Keep my messages unencrypted",
  dontEncryptWarning: "Sure? This is remembered; to encrypt later, see the README's \"Encryption at rest\".",
  unlockWhy: (why: string) => `Why no keychain: ${why}.`,

  next: "Next",
  back: "Back",
  stepOf: (n: number, total: number) => `Step ${n} of ${total}`,
  steps: ["Welcome", "Link", "History", "Assistants", "Done"],

  // 1. Welcome
  welcomeTitle: "Welcome",
  welcomeIntro: "WhatsApp MCP Desktop lets AI assistants such as Claude read, search and — only if you allow it — send WhatsApp messages for you.",
  welcomePoints: [
    "Your messages are stored on this computer only, in a folder only you can open.",
    "It links to WhatsApp like WhatsApp Web does: your phone stays the main device.",
    "Setup asks for three things: link your phone, choose how much history to keep, and pick your assistants.",
  ],
  start: "Start",

  // 2. Link
  linkTitle: "Link your WhatsApp",
  linkByQr: "Scan a QR code",
  linkByPhone: "Use a phone number instead",
  qrPreparing: "Preparing a code…",
  qrAlt: "QR code to scan with WhatsApp on your phone",
  qrRanOut: "The codes ran out before one was scanned.",
  showNewCode: "Show a new code",
  androidTitle: "Android",
  androidSteps: ["Open WhatsApp on your phone.", "Tap ⋮ (More options), then Linked devices.", "Tap Link a device and point your phone at this screen."],
  iphoneTitle: "iPhone",
  iphoneSteps: ["Open WhatsApp on your phone.", "Tap Settings, then Linked devices.", "Tap Link a Device and point your phone at this screen."],
  phoneLabel: "Your WhatsApp phone number",
  countryLabel: "Country",
  getCode: "Get a code",
  codeIntro: "On your phone: Linked devices › Link a device › Link with phone number instead, then type this code:",
  codeRefresh: (secs: number) => `The code is valid for ${secs} s more.`,
  phoneNeeded: "Type your phone number first (with the country chosen above, or starting with + and the country code).",
  linking: "Your phone accepted. Finishing the link…",
  linked: "Linked! Your history is on its way.",
  demoScan: "Scan with the demo phone",
  demoEnterCode: "Type the code on the demo phone",
  demoNumber: (n: string) => `The demo phone's number is ${n} (type it with the +).`,
  deviceLimitTitle: "Your phone refuses to link?",
  deviceLimitText:
    "WhatsApp allows a limited number of linked devices (computers and tablets) per account. When the list is full, your phone refuses a new one.",
  deviceLimitSteps: [
    "On your phone, open WhatsApp › Linked devices.",
    "Tap a device you no longer use, then Log out.",
    "Come back here and press Retry.",
  ],
  retry: "Retry",
  tryAgain: "Try again",

  // 3. History
  syncTitle: "Your message history",
  syncRecent: "Recent messages (what your phone sends now — quickest)",
  syncEverything: "Everything your phone offers (can take a while; runs in the background)",
  syncStart: "Start",
  syncWaiting: "Waiting for your phone to send your history…",
  syncCounts: (p: SyncProgress) => `${p.messages.toLocaleString()} messages in ${p.chats.toLocaleString()} chats`,
  syncRate: (rate: number) => `${Math.round(rate).toLocaleString()} messages a second`,
  syncEta: (secs: number) => (secs < 90 ? `about ${secs} s left` : `about ${Math.round(secs / 60)} min left`),
  syncDone: "Your history is here.",
  syncBackground: "Continue in the background",
  pause: "Pause",
  resume: "Resume",
  cancel: "Cancel",
  jobLine: (kind: string, state: string, messages: number) => `${kind}: ${state} — ${messages.toLocaleString()} messages fetched`,
  jobKinds: { full: "All history", chat: "One chat", community: "A community", mark_read: "Mark read" } as Record<string, string>,
  jobStates: {
    queued: "waiting",
    running: "running",
    paused: "paused",
    done: "done",
    failed: "stopped",
    cancelled: "cancelled",
  } as Record<string, string>,

  // 4. Assistants
  assistantsTitle: "Connect your assistants",
  assistantsIntro: "Choose the assistants that may use your WhatsApp. Their settings files are updated for you; a copy of each is kept.",
  connect: "Connect",
  disconnect: "Disconnect",
  noneFound: "No assistant was found on this computer. You can connect one later from the main window.",
  restartClaude: "Restart Claude Desktop to finish: quit it completely (also from its tray icon) and open it again.",

  // 5. Done
  doneTitle: "All set",
  doneIntro: "Try asking Claude:",
  examples: [
    "“What did my family group talk about this weekend?”",
    "“Find the address Sam sent me last month.”",
    "“Summarise the unread messages from work chats.”",
  ],
  safetyQuestion: "When an assistant wants to send a message, mark a chat read, download a file or fetch older history:",
  policies: {
    ask: "Ask me each time (recommended)",
    read_only: "Never: assistants may only read",
    allowlist: "Allow the people I list, ask for others",
    open: "Always allow (not recommended)",
  } as Record<string, string>,
  autostart: "Start WhatsApp MCP Desktop when I log in (in the tray)",
  finish: "Finish",

  // Main window
  pages: { status: "Status", sync: "Sync", assistants: "Assistants", safety: "Safety", diagnostics: "Diagnostics", about: "About" } as Record<string, string>,
  account: (a: string | null) => `Account: ${a ? person(a) : "not linked"}`,
  lastMessage: (t: number | null) => `Newest message: ${t ? new Date(t).toLocaleString() : "none yet"}`,
  messagesStored: (n: number) => `${n.toLocaleString()} messages stored`,
  chatsStored: (n: number) => `${n.toLocaleString()} chats`,
  databaseSize: (bytes: number) => `Database: ${formatBytes(bytes)}`,
  dataFolder: (path: string) => `Data folder: ${path}`,
  fetchEverything: "Fetch all older history",
  fetchOlderTitle: "Fetch older messages of one chat",
  chatLabel: "Chat (phone number or chat ID)",
  countLabel: "How many",
  fetch: "Fetch",
  noJobs: "No sync is running.",
  reachTitle: "How far back each chat goes",
  reachHeaders: ["Chat", "Oldest message", "State", ""],
  reachStates: { idle: "more may be on your phone", requested: "fetching…", complete: "everything your phone has", failed: "stopped" } as Record<string, string>,
  fetchOlderRow: "Fetch older",
  save: "Save",
  saved: "Saved.",
  recipientsLabel: "Allowed recipients (one phone number or chat ID per line)",
  rateLabel: "At most this many sends a minute",
  pendingTitle: "Waiting for your approval",
  noPending: "Nothing is waiting.",
  auditTitle: "What assistants did",
  auditSearch: "Search the log",
  auditEmpty: "No assistant has acted yet.",
  reconnect: "Reconnect now",
  relink: "Link again (new QR code)",
  integrity: "Check the archive",
  backup: "Back up now",
  backupsTitle: "Backups",
  noBackups: "No backup yet: the app makes one every day, and “Back up now” makes one at once.",
  backupLine: (b: { made_at_secs: number; kind: string; bytes: number; messages: number | null }) =>
    `${new Date(b.made_at_secs * 1000).toLocaleString()} · ${b.kind === "daily" ? "daily" : "before an upgrade"} · ` +
    (b.messages === null ? "cannot be opened" : `${b.messages.toLocaleString()} messages`) +
    ` · ${formatBytes(b.bytes)}`,
  restore: "Restore…",
  restoreConfirm: (messages: number) =>
    `Replace your archive with this backup (${messages.toLocaleString()} messages)? The app restarts; your current archive is kept ` +
    "in the data folder, and messages newer than the backup sync again from your phone.",
  restoreYes: "Replace my archive",
  logsAt: (path: string) => `Logs are in ${path}`,
  exportReport: "Export a diagnostic report",
  checksTitle: "Checks",
  fixes: { reconnect: "Reconnect", relink: "Link again", permissions: "Make it private", assistants: "Connect assistants" } as Record<string, string>,
  openLogs: "Open the logs folder",
  restartNow: (name: string) => `Restart ${name} now`,
  version: (v: string) => `Version ${v}`,
  setupAgain: "Run the setup again",
  checkUpdates: "Check for updates",
  checkingUpdates: "Asking the update server…",
  upToDate: (v: string) => `You have the newest version (${v}).`,
  updateOffered: (v: string, current: string) => `Version ${v} is available (you have ${current}).`,
  updateKeeps: "Installing keeps your messages, settings and the link to WhatsApp. The app restarts to finish.",
  installUpdate: "Install and restart",
  seeUpdate: "See the update",
  updateDownloading: (received: number, total: number | null) =>
    total ? `Downloading: ${Math.floor((received * 100) / total)}% of ${formatBytes(total)}` : `Downloading: ${formatBytes(received)}`,
  updateInstalled: (v: string) => `Version ${v} is installed. Restarting…`,
  checkUpdatesSetting: "Check for updates when the app starts (it always asks before installing)",

  // Approval dialog
  approvalTitle: "An assistant asks to act for you",
  approvalWho: (client: string) => `Assistant: ${client}`,
  approvalWhat: (tool: string) => `Action: ${tool.replace(/_/g, " ")}`,
  /** "To:" for what others receive; "Chat:" for what stays on this computer. */
  approvalTo: (recipient: string, name: string | null, local = false) => {
    const who = name ? `${name} (${person(recipient)})` : person(recipient);
    return local ? `Chat: ${who}` : `To: ${who}`;
  },
  approvalContent: (chars: number, local = false) =>
    `Exactly what will be ${local ? "done" : "sent"} (${chars.toLocaleString("en")} character${chars === 1 ? "" : "s"}):`,
  approvalLocal: "This stays on this computer and your phone: nothing is sent to anyone.",
  approvalScroll: "Scroll to the end of the text to approve it.",
  approvalPreview: "The picture that will be sent",
  /** Countdowns after the connection's state in words (the window words them from the clock). */
  countdown: {
    qr: (left: string) => `It changes in ${left}.`,
    code: (left: string) => `It is valid for ${left}.`,
    retry: (left: string, attempt: number) => `Trying again in ${left} (attempt ${attempt}).`,
    banned: (left: string) => `You can use it again in ${left}.`,
  },
  approvalExpires: (secs: number) => `If you do not answer in ${secs} s, it is not done.`,
  approve: "Approve",
  deny: "Deny",
};

/** A WhatsApp address as people write it: +phone for people, the ID for groups. */
export function person(jid: string): string {
  const m = /^(\d+)(?::\d+)?@s\.whatsapp\.net$/.exec(jid);
  return m ? `+${m[1]}` : jid;
}

export function formatBytes(bytes: number): string {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} ${units[0]}` : `${value.toFixed(1)} ${units[unit]}`;
}
