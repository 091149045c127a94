// The one module that talks to the Rust side: typed commands and events.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { StatusPatch } from "./status";

export interface SyncProgress {
  messages: number;
  chats: number;
  percent: number | null;
  rate: number;
  eta_secs: number | null;
  elapsed_secs: number;
}

export type JobState = "queued" | "running" | "paused" | "done" | "failed" | "cancelled";

export interface SyncJob {
  id: number;
  kind: "full" | "chat" | "community" | "mark_read";
  target: string | null;
  state: JobState;
  messages_done: number;
  chats_done: number;
  chats_total: number | null;
  last_error: string | null;
}

export type SendPolicy = "ask" | "allowlist" | "read_only" | "open";

export interface EngineState {
  /** unlinked, showing_qr, qr_exhausted, showing_code, linking, connected, reconnecting, logged_out, ... */
  state: string;
  code?: string;
  expires_at?: number;
  round?: number;
  rounds?: number;
  [key: string]: unknown;
}

export interface AppStatus {
  version: string;
  data_dir: string;
  demo: boolean;
  setup_done: boolean;
  state: EngineState;
  state_text: string;
  needs_attention: boolean;
  /** What mends the connection now, decided by the app. */
  fix: "relink" | "reconnect" | null;
  qr_svg: string | null;
  account: string | null;
  progress: SyncProgress;
  jobs: SyncJob[];
  messages: number;
  chats: number;
  newest_message: number | null;
  database_bytes: number;
  pending_approvals: number;
  send_policy: SendPolicy;
  demo_number: string | null;
}

export type ClientId = "claude_desktop" | "claude_code" | "cursor" | "vs_code" | "windsurf" | "zed" | "lm_studio";

export interface ClientState {
  client: ClientId;
  name: string;
  config_path: string;
  status: "not_installed" | "not_connected" | "connected" | "stale" | "elsewhere" | "broken";
  description: string;
  can_restart: boolean;
}

export interface ClientOutcome {
  client: ClientId;
  ok: boolean;
  message: string;
}

export interface PendingApproval {
  id: number;
  client: string;
  tool: string;
  recipient: string;
  /** The recipient's name in the archive (a person's or a group's). */
  recipient_name?: string | null;
  content: string;
  /** What the act concerns, not sent: the message replied to, reacted to or deleted. */
  context?: string | null;
  /** A small picture of an image to send (a PNG data URL made by the app). */
  preview?: string | null;
  /** The act stays on this computer (a download, a history fetch, a local delete). */
  local?: boolean;
  asked_at: number;
  expires_at: number;
}

export interface SafetySettings {
  send_policy: SendPolicy;
  recipients: string[];
  sends_per_minute: number;
  autostart: boolean;
  check_updates: boolean;
}

export interface AuditEntry {
  id: number;
  at: number;
  client: string;
  tool: string;
  recipient: string | null;
  decision: string;
  detail: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface ChatReach {
  chat_jid: string;
  name: string | null;
  oldest_ts: number | null;
  newest_ts: number | null;
  state: "idle" | "requested" | "complete" | "failed";
  messages_synced: number;
  last_error: string | null;
}

export interface DiagCheck {
  id: string;
  ok: boolean;
  text: string;
  fix: "reconnect" | "relink" | "permissions" | "assistants" | null;
}

export interface UpdateOffer {
  version: string;
  current: string;
  notes: string | null;
  date: string | null;
}

export interface UpdateProgress {
  received: number;
  total: number | null;
}

export interface Check {
  ok: boolean;
  text: string;
}

/** A backup of the archive (wa_store::restore::BackupInfo). */
export interface BackupInfo {
  path: string;
  made_at_secs: number;
  kind: "daily" | "before-upgrade";
  bytes: number;
  /** null: it does not open (damaged, or locked with another key). */
  messages: number | null;
}

export const api = {
  status: () => invoke<AppStatus>("app_status"),
  newQrCodes: () => invoke<void>("new_qr_codes"),
  pairWithPhone: (phone: string) => invoke<string>("pair_with_phone", { phone }),
  reconnect: () => invoke<void>("reconnect"),
  demoPhone: (action: "scan" | "enter_code" | "device_list_full" | "device_list_ok", code?: string) =>
    invoke<boolean>("demo_phone", { action, code }),
  startSync: (everything: boolean) => invoke<SyncJob | null>("start_sync", { everything }),
  fetchOlder: (chatJid: string, count: number) => invoke<SyncJob>("fetch_older", { chatJid, count }),
  chatReach: () => invoke<ChatReach[]>("chat_reach"),
  controlSync: (jobId: number, command: "pause" | "resume" | "cancel") =>
    invoke<SyncJob>("control_sync", { jobId, command }),
  assistants: () => invoke<ClientState[]>("assistants"),
  connectAssistants: (clients: ClientId[], connect: boolean) =>
    invoke<ClientOutcome[]>("connect_assistants", { clients, connect }),
  safetySettings: () => invoke<SafetySettings>("safety_settings"),
  setSafetySettings: (settings: SafetySettings) => invoke<void>("set_safety_settings", { settings }),
  finishSetup: (sendPolicy: SendPolicy, autostart: boolean) => invoke<void>("finish_setup", { sendPolicy, autostart }),
  reopenWizard: () => invoke<void>("reopen_wizard"),
  approvals: () => invoke<PendingApproval[]>("approvals"),
  answerApproval: (id: number, approved: boolean) => invoke<void>("answer_approval", { id, approved }),
  auditLog: (query: string | null, cursor: string | null) => invoke<Page<AuditEntry>>("audit_log", { query, cursor }),
  integrityCheck: () => invoke<Check>("integrity_check"),
  backupNow: () => invoke<Check>("backup_now"),
  listBackups: () => invoke<BackupInfo[]>("list_backups"),
  restoreBackup: (path: string) => invoke<Check>("restore_backup", { path }),
  logFolder: () => invoke<string>("log_folder"),
  diagnosticChecks: () => invoke<DiagCheck[]>("diagnostic_checks"),
  fixPermissions: () => invoke<void>("fix_permissions"),
  exportDiagnostics: () => invoke<Check>("export_diagnostics"),
  openFolder: (which: "logs" | "diagnostics" | "data") => invoke<void>("open_folder", { which }),
  restartAssistant: (client: ClientId) => invoke<void>("restart_assistant", { client }),
  checkForUpdate: () => invoke<UpdateOffer | null>("check_for_update"),
  installUpdate: () => invoke<string>("install_update"),
  restartApp: () => invoke<void>("restart_app"),
  lockState: () => invoke<LockInfo | null>("lock_state"),
  unlock: (passphrase: string | null, encrypt: boolean) => invoke<void>("unlock", { passphrase, encrypt }),
};

/** The app waits for its passphrase (no keychain on this computer). */
export interface LockInfo {
  /** The archive is encrypted already: type its passphrase. Otherwise choose one, or not to encrypt. */
  encrypted: boolean;
  /** Why the keychain is not used (technical, small print). */
  why: string;
}

/** Call `changed` whenever the engine reports something (state, progress, jobs). */
/** What changed in the app's status, pushed as it happens. */
export function onStatus(changed: (patch: StatusPatch) => void): Promise<() => void> {
  return listen<StatusPatch>("status", (e) => changed(e.payload));
}

export function onApprovals(changed: (pending: PendingApproval[]) => void): Promise<() => void> {
  return listen<PendingApproval[]>("approvals", (e) => changed(e.payload));
}

/** The tray asks to show a page ("assistants", "safety"). */
export function onNavigate(go: (page: string) => void): Promise<() => void> {
  return listen<string>("navigate", (e) => go(e.payload));
}

/** Download progress of an update being installed. */
export function onUpdateProgress(progress: (p: UpdateProgress) => void): Promise<() => void> {
  return listen<UpdateProgress>("update-progress", (e) => progress(e.payload));
}

/** The check at start found an update. */
export function onUpdateAvailable(found: (offer: UpdateOffer) => void): Promise<() => void> {
  return listen<UpdateOffer>("update-available", (e) => found(e.payload));
}
