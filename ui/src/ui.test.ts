// Each wizard step's states and the main window's parts, rendered from app
// status values (the commands are mocked: these test the views, not the app).
import { beforeEach, describe, expect, it, vi } from "vitest";

const calls: { cmd: string; args: unknown }[] = [];
const answers: Record<string, unknown> = {};
vi.mock("@tauri-apps/api/core", () => ({
  invoke: vi.fn(async (cmd: string, args: unknown) => {
    calls.push({ cmd, args });
    if (cmd in answers) {
      const a = answers[cmd];
      if (a instanceof Error) throw a;
      return a;
    }
    return null;
  }),
}));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(async () => () => {}) }));

import type { AppStatus, PendingApproval } from "./ipc";
import { assistantsStep, doneStep, linkStep, syncStep, Wizard } from "./wizard";
import { ApprovalDialog, ARM_MS } from "./approvals";
import { MainWindow } from "./pages";
import { formatBytes, person, strings } from "./strings";
import { UnlockPage } from "./unlock";
import { applyPatch, countdown, stateText } from "./status";
import { App } from "./main";

function status(over: Partial<AppStatus> = {}): AppStatus {
  return {
    version: "1.2.3",
    data_dir: "/tmp/x",
    demo: false,
    setup_done: false,
    state: { state: "connected", since: 0 },
    state_text: "Connected to WhatsApp.",
    needs_attention: false,
    fix: null,
    qr_svg: null,
    account: "447700900123@s.whatsapp.net",
    progress: { messages: 0, chats: 0, percent: null, rate: 0, eta_secs: null, elapsed_secs: 0 },
    jobs: [],
    messages: 1234,
    chats: 5,
    newest_message: null,
    database_bytes: 2048,
    pending_approvals: 0,
    send_policy: "ask",
    demo_number: null,
    ...over,
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  calls.length = 0;
  for (const k of Object.keys(answers)) delete answers[k];
  document.body.replaceChildren();
});

describe("link step", () => {
  it("shows the QR code from the app, with instructions, and Next only once linked", () => {
    const step = linkStep(() => {});
    document.body.append(step.node);
    step.update(status({
      state: { state: "showing_qr", code: "2@abc", expires_at: Date.now() + 20_000, round: 1 },
      state_text: "Scan the QR code…",
      qr_svg: "<svg data-test='qr'></svg>",
    }));
    const qr = step.node.querySelector<HTMLElement>("#qr")!;
    expect(qr.dataset.code).toBe("2@abc");
    expect(qr.querySelector("svg")).not.toBeNull();
    expect(qr.getAttribute("aria-label")).toBe(strings.qrAlt);
    expect(step.node.textContent).toContain("Linked devices");
    expect(step.node.querySelector<HTMLButtonElement>("#link-next")!.disabled).toBe(true);
    expect(step.node.querySelector<HTMLElement>("#new-code")!.hidden).toBe(true);

    step.update(status());
    expect(step.node.querySelector<HTMLButtonElement>("#link-next")!.disabled).toBe(false);
    expect(step.node.querySelector("#link-state")!.textContent).toBe(strings.linked);
    expect(qr.dataset.code).toBeUndefined();
  });

  it("when the codes run out: a new-code button and the device-limit guide, opened", () => {
    const step = linkStep(() => {});
    step.update(status({ state: { state: "qr_exhausted", rounds: 1 }, state_text: "The QR codes ran out.", needs_attention: true }));
    expect(step.node.querySelector<HTMLElement>("#new-code")!.hidden).toBe(false);
    const guide = step.node.querySelector<HTMLDetailsElement>("#device-limit")!;
    expect(guide.open).toBe(true);
    expect(guide.textContent).toContain("Linked devices");
    expect(step.node.querySelector("#link-state")!.className).toContain("attention");
  });

  it("the device-limit guide is reachable while a code is shown, and Retry asks for new codes", async () => {
    const step = linkStep(() => {});
    step.update(status({ state: { state: "showing_qr", code: "2@x", expires_at: 0 }, qr_svg: "<svg></svg>" }));
    const guide = step.node.querySelector<HTMLDetailsElement>("#device-limit")!;
    expect(guide.open).toBe(false);
    step.node.querySelector<HTMLButtonElement>("#retry-link")!.click();
    await flush();
    expect(calls.map((c) => c.cmd)).toContain("new_qr_codes");
  });

  it("by phone number: asks for the number, sends country + digits, shows the code", async () => {
    answers.pair_with_phone = "ABCD-EFGH";
    const step = linkStep(() => {});
    step.node.querySelector<HTMLButtonElement>("#toggle-phone")!.click();
    expect(step.node.querySelector<HTMLElement>("#by-phone")!.hidden).toBe(false);
    step.node.querySelector<HTMLButtonElement>("#get-code")!.click();
    expect(step.node.querySelector("#phone-out")!.textContent).toBe(strings.phoneNeeded);
    const select = step.node.querySelector<HTMLSelectElement>("#country")!;
    select.value = "44";
    step.node.querySelector<HTMLInputElement>("#phone-number")!.value = "07700 900123";
    step.node.querySelector<HTMLButtonElement>("#get-code")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "pair_with_phone")!.args).toEqual({ phone: "447700900123" });
    expect(step.node.querySelector("#pair-code")!.textContent).toBe("ABCD-EFGH");
  });

  it("a refused number is said in words", async () => {
    answers.pair_with_phone = new Error("WhatsApp refused: no WhatsApp account uses that number");
    const step = linkStep(() => {});
    step.node.querySelector<HTMLInputElement>("#phone-number")!.value = "+1 555 0100 999";
    step.node.querySelector<HTMLButtonElement>("#get-code")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "pair_with_phone")!.args).toEqual({ phone: "15550100999" });
    expect(step.node.querySelector("#phone-out")!.textContent).toContain("no WhatsApp account uses that number");
  });

  it("demo mode offers the demo phone's scan and number", () => {
    const step = linkStep(() => {});
    step.update(status({ demo: true, demo_number: "+447700900000", state: { state: "showing_qr", code: "2@d" }, qr_svg: "<svg></svg>" }));
    expect(step.node.querySelector<HTMLElement>("#demo-scan")!.hidden).toBe(false);
    expect(step.node.querySelector<HTMLElement>("#demo-number")!.dataset.number).toBe("+447700900000");
  });
});

describe("history step", () => {
  it("shows waiting, then counts with rate and time left, then done", () => {
    const step = syncStep(() => {});
    step.update(status());
    expect(step.node.querySelector("#sync-counts")!.textContent).toBe(strings.syncWaiting);
    step.update(status({ progress: { messages: 4200, chats: 40, percent: 20, rate: 1500, eta_secs: 12, elapsed_secs: 3 } }));
    expect(step.node.querySelector<HTMLProgressElement>("#sync-progress")!.value).toBe(20);
    expect(step.node.querySelector("#sync-counts")!.textContent).toContain("4,200 messages in 40 chats");
    expect(step.node.querySelector("#sync-detail")!.textContent).toContain("1,500 messages a second");
    expect(step.node.querySelector("#sync-detail")!.textContent).toContain("about 12 s left");
    step.update(status({ progress: { messages: 21000, chats: 200, percent: 100, rate: 900, eta_secs: 0, elapsed_secs: 30 } }));
    expect(step.node.querySelector("#sync-detail")!.textContent).toBe(strings.syncDone);
  });

  it("jobs get Pause/Resume and Cancel that call the app", async () => {
    const step = syncStep(() => {});
    const job = { id: 7, kind: "full" as const, target: null, state: "running" as const, messages_done: 800, chats_done: 3, chats_total: 200, last_error: null };
    step.update(status({ jobs: [job] }));
    step.node.querySelector<HTMLButtonElement>(".job-pause")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "control_sync")!.args).toEqual({ jobId: 7, command: "pause" });
    const pauseButton = step.node.querySelector(".job-pause");
    step.update(status({ jobs: [{ ...job, messages_done: 950 }] }));
    expect(step.node.querySelector(".job-pause")).toBe(pauseButton);
    expect(step.node.querySelector("#jobs")!.textContent).toContain("950 messages fetched");
    step.update(status({ jobs: [{ ...job, state: "paused", last_error: "Your phone did not answer." }] }));
    expect(step.node.querySelector(".job-resume")).not.toBeNull();
    expect(step.node.textContent).toContain("Your phone did not answer.");
  });

  it("Start with 'everything' asks for the full history job", async () => {
    const step = syncStep(() => {});
    step.node.querySelector<HTMLInputElement>("#sync-everything")!.checked = true;
    step.node.querySelector<HTMLButtonElement>("#sync-start")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "start_sync")!.args).toEqual({ everything: true });
  });
});

describe("assistants and done steps", () => {
  it("lists clients, ticks the unconnected ones, and connects the ticked ones", async () => {
    answers.assistants = [
      { client: "claude_desktop", name: "Claude Desktop", config_path: "/h/c.json", status: "not_connected", description: "Claude Desktop is installed and not connected yet.", can_restart: true },
      { client: "cursor", name: "Cursor", config_path: "/h/.cursor/mcp.json", status: "not_installed", description: "Cursor was not found on this computer.", can_restart: false },
    ];
    answers.connect_assistants = [{ client: "claude_desktop", ok: true, message: "Claude Desktop is connected. Restart Claude Desktop to finish." }];
    const step = assistantsStep(() => {});
    await flush();
    const box = step.node.querySelector<HTMLInputElement>("#client-claude_desktop")!;
    expect(box.checked).toBe(true);
    step.node.querySelector<HTMLButtonElement>("#connect")!.click();
    await flush();
    await flush();
    expect(calls.find((c) => c.cmd === "connect_assistants")!.args).toEqual({ clients: ["claude_desktop"], connect: true });
    expect(step.node.querySelector("#connect-out")!.textContent).toContain(strings.restartClaude);
    expect(step.node.querySelector<HTMLInputElement>("#client-cursor")!.checked).toBe(false);
    step.node.querySelector<HTMLButtonElement>("#restart-claude")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "restart_assistant")!.args).toEqual({ client: "claude_desktop" });
  });

  it("a broken config is shown and cannot be ticked", async () => {
    answers.assistants = [{ client: "claude_desktop", name: "Claude Desktop", config_path: "/c", status: "broken", description: "not valid JSON (line 4, column 3)", can_restart: false }];
    const step = assistantsStep(() => {});
    await flush();
    const box = step.node.querySelector<HTMLInputElement>("#client-claude_desktop")!;
    expect(box.disabled).toBe(true);
    expect(step.node.textContent).toContain("line 4, column 3");
  });

  it("done: ask-before-sending and autostart are the defaults and are sent on Finish", async () => {
    const finish = vi.fn(async () => {});
    const step = doneStep(finish);
    expect(step.node.querySelector<HTMLInputElement>("#policy-ask")!.checked).toBe(true);
    expect(step.node.querySelector<HTMLInputElement>("#autostart")!.checked).toBe(true);
    step.node.querySelector<HTMLInputElement>("#policy-read_only")!.checked = true;
    step.node.querySelector<HTMLButtonElement>("#finish")!.click();
    await flush();
    expect(finish).toHaveBeenCalledWith("read_only", true);
  });
});

describe("wizard", () => {
  it("walks the five steps in order with a step bar", () => {
    answers.assistants = [];
    const wizard = new Wizard(() => {});
    document.body.append(wizard.node);
    expect(wizard.node.dataset.step).toBe("1");
    expect(wizard.node.querySelector(".stepbar li.current")!.textContent).toBe("Welcome");
    wizard.node.querySelector<HTMLButtonElement>("#start")!.click();
    expect(wizard.node.dataset.step).toBe("2");
    expect(document.activeElement?.id).toBe("step-title");
    wizard.update(status());
    wizard.node.querySelector<HTMLButtonElement>("#link-next")!.click();
    wizard.node.querySelector<HTMLButtonElement>("#sync-next")!.click();
    wizard.node.querySelector<HTMLButtonElement>("#assistants-next")!.click();
    expect(wizard.node.dataset.step).toBe("5");
  });
});

describe("approvals", () => {
  const pending: PendingApproval = {
    id: 3, client: "claude-ai", tool: "send_message", recipient: "447700900123@s.whatsapp.net",
    content: "<img src=x onerror=alert(1)> hi", asked_at: Date.now(), expires_at: Date.now() + 30_000,
  };

  it("the dialog shows who, what, to whom and the exact text (as text, never markup)", () => {
    const dialog = new ApprovalDialog();
    document.body.append(dialog.node);
    dialog.show([pending]);
    expect(dialog.node.hasAttribute("open")).toBe(true);
    const content = dialog.node.querySelector(".content")!;
    expect(content.textContent).toBe(pending.content);
    expect(content.querySelector("img")).toBeNull();
    expect(dialog.node.textContent).toContain("To: +447700900123");
    expect(dialog.node.textContent).toContain("claude-ai");
    dialog.show([]);
    expect(dialog.node.hasAttribute("open")).toBe(false);
    expect(dialog.node.textContent).toContain(strings.noPending);
  });

  it("Approve is armed only once the card has been still for a moment, and says the text's length", async () => {
    vi.useFakeTimers();
    try {
      const dialog = new ApprovalDialog();
      dialog.show([pending]);
      const approve = dialog.node.querySelector<HTMLButtonElement>(".approve")!;
      expect(approve.disabled).toBe(true);
      expect(dialog.node.textContent).toContain(`(${[...pending.content].length} characters`);
      vi.advanceTimersByTime(ARM_MS - 100);
      expect(approve.disabled).toBe(true);
      // Another request arrives: the cards are drawn again and wait again.
      dialog.show([pending, { ...pending, id: 4 }]);
      const redrawn = dialog.node.querySelector<HTMLButtonElement>(".approve")!;
      vi.advanceTimersByTime(200);
      expect(redrawn.disabled).toBe(true);
      vi.advanceTimersByTime(ARM_MS);
      expect(redrawn.disabled).toBe(false);
      redrawn.click();
    } finally {
      vi.useRealTimers();
    }
    await flush();
    expect(calls.find((c) => c.cmd === "answer_approval")!.args).toEqual({ id: 3, approved: true });
  });

  it("names the recipient and shows what the act concerns apart from the text sent", () => {
    const dialog = new ApprovalDialog();
    dialog.show([{ ...pending, recipient: "120363@g.us", recipient_name: "Family", content: "👍", context: "Reacting to Ana (+34600111222): “dinner at 8?”" }]);
    expect(dialog.node.querySelector(".to")!.textContent).toBe("To: Family (120363@g.us)");
    expect(dialog.node.querySelector(".context")!.textContent).toContain("dinner at 8?");
    expect(dialog.node.querySelector(".content")!.textContent).toBe("👍");
  });

  it("an act that stays on this computer says so, and names the chat rather than a recipient", () => {
    const dialog = new ApprovalDialog();
    dialog.show([{ ...pending, tool: "download_media", recipient_name: "Ana", local: true,
      content: "save to this computer: the photo (image/jpeg, 2.3 MB)" }]);
    expect(dialog.node.querySelector(".to")!.textContent).toBe("Chat: Ana (+447700900123)");
    expect(dialog.node.querySelector(".local")!.textContent).toBe(strings.approvalLocal);
    expect(dialog.node.textContent).toContain("Exactly what will be done");
    expect(dialog.node.textContent).not.toContain("will be sent");
    dialog.show([{ ...pending, id: 5 }]);
    expect(dialog.node.querySelector(".local")).toBeNull();
    expect(dialog.node.textContent).toContain("Exactly what will be sent");
  });

  it("shows the picture of an image to send, and nothing that is not the app's own PNG", () => {
    const dialog = new ApprovalDialog();
    const png = "data:image/png;base64,iVBORw0KGgo=";
    dialog.show([{ ...pending, tool: "send_file", content: "file beach.jpg (image/jpeg, 2.0 MB, sha256 ab12)", preview: png }]);
    expect(dialog.node.querySelector<HTMLImageElement>("img.preview")!.getAttribute("src")).toBe(png);
    dialog.show([{ ...pending, id: 6, preview: "https://attacker.example/pixel.png" }]);
    expect(dialog.node.querySelector("img")).toBeNull();
  });

  it("Deny and Approve answer the request", async () => {
    const dialog = new ApprovalDialog();
    dialog.show([pending]);
    dialog.node.querySelector<HTMLButtonElement>(".deny")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "answer_approval")!.args).toEqual({ id: 3, approved: false });
  });
});

describe("main window", () => {
  it("has every page and the status page counts the archive", () => {
    answers.safety_settings = { send_policy: "ask", recipients: [], sends_per_minute: 10, autostart: true };
    answers.audit_log = { items: [], next_cursor: null };
    answers.assistants = [];
    answers.approvals = [];
    answers.log_folder = "/logs";
    answers.chat_reach = [];
    const main = new MainWindow(() => {});
    main.update(status({ setup_done: true }));
    expect(main.node.querySelectorAll("nav button").length).toBe(6);
    expect(main.node.querySelector("#facts")!.textContent).toContain("1,234 messages stored");
    expect(main.node.querySelector("#facts")!.textContent).toContain("Account: +447700900123");
    for (const page of ["sync", "assistants", "safety", "diagnostics", "about"]) {
      main.show(page);
      expect(main.node.querySelector("h2")!.textContent).not.toBe("");
    }
    main.show("nonsense");
    expect(main.name).toBe("status");
  });
});

describe("safety page", () => {
  it("lets nothing be changed or saved until the saved settings are shown", async () => {
    let release: (v: unknown) => void = () => {};
    answers.safety_settings = new Promise((r) => (release = r));
    answers.audit_log = { items: [], next_cursor: null };
    answers.approvals = [];
    const main = new MainWindow(() => {});
    main.show("safety");
    await flush();
    const readOnly = main.node.querySelector<HTMLInputElement>("#safety-read_only")!;
    const save = main.node.querySelector<HTMLButtonElement>("#save-safety")!;
    expect(readOnly.disabled).toBe(true);
    expect(save.disabled).toBe(true);
    expect(main.node.querySelector<HTMLTextAreaElement>("#recipients")!.disabled).toBe(true);
    release({ send_policy: "read_only", recipients: ["447700900123"], sends_per_minute: 7, autostart: false, check_updates: true });
    await flush();
    await flush();
    expect(readOnly.disabled).toBe(false);
    expect(readOnly.checked).toBe(true);
    expect(save.disabled).toBe(false);
    expect(main.node.querySelector<HTMLInputElement>("#rate")!.value).toBe("7");
  });
});

describe("sync page", () => {
  it("lists how far back each chat goes and fetches older messages of one", async () => {
    answers.chat_reach = [
      { chat_jid: "447700900123@s.whatsapp.net", name: null, oldest_ts: Date.UTC(2024, 0, 2), newest_ts: null, state: "idle", messages_synced: 40, last_error: null },
      { chat_jid: "120363@g.us", name: "Family", oldest_ts: null, newest_ts: null, state: "complete", messages_synced: 10, last_error: null },
    ];
    const main = new MainWindow(() => {});
    main.show("sync");
    await flush();
    const rows = main.node.querySelectorAll("#reach tr[data-state]");
    expect(rows.length).toBe(2);
    expect(rows[0].textContent).toContain("+447700900123");
    expect(rows[1].textContent).toContain("Family");
    expect(rows[1].querySelector<HTMLButtonElement>(".fetch-row")!.disabled).toBe(true);
    rows[0].querySelector<HTMLButtonElement>(".fetch-row")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "fetch_older")!.args).toEqual({ chatJid: "447700900123@s.whatsapp.net", count: 200 });
  });
});

describe("diagnostics page", () => {
  it("lists the checks, and each problem has its fix", async () => {
    answers.log_folder = "/logs";
    answers.diagnostic_checks = [
      { id: "data", ok: false, text: "Other users can open the data folder (permissions 755).", fix: "permissions" },
      { id: "whatsapp", ok: true, text: "WhatsApp: Connected to WhatsApp.", fix: null },
      { id: "assistants", ok: false, text: "No assistant is connected yet.", fix: "assistants" },
    ];
    answers.assistants = [];
    const main = new MainWindow(() => {});
    main.show("diagnostics");
    await flush();
    const rows = main.node.querySelectorAll<HTMLElement>("#checks li");
    expect(rows.length).toBe(3);
    expect(rows[1].querySelector(".fix")).toBeNull();
    rows[0].querySelector<HTMLButtonElement>(".fix-permissions")!.click();
    await flush();
    expect(calls.some((c) => c.cmd === "fix_permissions")).toBe(true);
    main.node.querySelector<HTMLButtonElement>(".fix-assistants")!.click();
    await flush();
    expect(main.name).toBe("assistants");
  });

  it("Link again asks for new codes and opens the wizard, where the QR code is shown", async () => {
    answers.log_folder = "/logs";
    answers.diagnostic_checks = [];
    const reopen = vi.fn();
    const main = new MainWindow(reopen);
    main.show("diagnostics");
    main.node.querySelector<HTMLButtonElement>("#diag-relink")!.click();
    await flush();
    expect(calls.some((c) => c.cmd === "new_qr_codes")).toBe(true);
    expect(reopen).toHaveBeenCalled();
  });
});

describe("diagnostics backups", () => {
  const backups = [
    { path: "/d/backups/messages-1800172800.db", made_at_secs: 1800172800, kind: "daily", bytes: 3 * 1024 * 1024, messages: 1500 },
    { path: "/d/backups/messages-1800090000.db", made_at_secs: 1800090000, kind: "daily", bytes: 8192, messages: null },
    { path: "/d/backups/before-upgrade-v3-1800000000.db", made_at_secs: 1800000000, kind: "before-upgrade", bytes: 2 * 1024 * 1024, messages: 900 },
  ];

  it("lists each backup with what it holds; one that cannot open offers no restore", async () => {
    answers.log_folder = "/logs";
    answers.diagnostic_checks = [];
    answers.list_backups = backups;
    const main = new MainWindow(() => {});
    main.show("diagnostics");
    await flush();
    const rows = main.node.querySelectorAll<HTMLElement>("#backups li");
    expect(rows.length).toBe(3);
    expect(rows[0].textContent).toContain("1,500 messages");
    expect(rows[0].textContent).toContain("3.0 MB");
    expect(rows[1].textContent).toContain("cannot be opened");
    expect(rows[1].querySelector(".restore")).toBeNull();
    expect(rows[2].textContent).toContain("before an upgrade");
  });

  it("asks before replacing the archive; Cancel sends nothing, the confirmation restores that backup", async () => {
    answers.log_folder = "/logs";
    answers.diagnostic_checks = [];
    answers.list_backups = backups;
    answers.restore_backup = { ok: true, text: "The backup with 900 messages will replace your archive: the app restarts now." };
    const main = new MainWindow(() => {});
    main.show("diagnostics");
    await flush();
    const row = main.node.querySelectorAll<HTMLElement>("#backups li")[2];
    row.querySelector<HTMLButtonElement>(".restore")!.click();
    expect(row.querySelector(".confirm")!.textContent).toContain("900 messages");
    row.querySelector<HTMLButtonElement>(".restore-no")!.click();
    expect(row.querySelector(".confirm")).toBeNull();
    expect(calls.some((c) => c.cmd === "restore_backup")).toBe(false);
    row.querySelector<HTMLButtonElement>(".restore")!.click();
    row.querySelector<HTMLButtonElement>(".restore-yes")!.click();
    await flush();
    expect(calls.find((c) => c.cmd === "restore_backup")!.args).toEqual({ path: "/d/backups/before-upgrade-v3-1800000000.db" });
    expect(main.node.querySelector("#diagnostics-out")!.textContent).toContain("the app restarts now");
  });

  it("shows the backups (and their Restore buttons) only once the checks above them are in place", async () => {
    let release: (v: unknown) => void = () => {};
    answers.log_folder = "/logs";
    answers.diagnostic_checks = new Promise((r) => (release = r));
    answers.list_backups = backups;
    const main = new MainWindow(() => {});
    main.show("diagnostics");
    await flush();
    expect(main.node.querySelectorAll("#backups li").length).toBe(0);
    release([{ id: "archive", ok: true, text: "The archive is fine.", fix: null }]);
    await flush();
    await flush();
    expect(main.node.querySelectorAll("[data-check]").length).toBe(1);
    expect(main.node.querySelectorAll("#backups li").length).toBe(3);
  });

  it("says so when there is no backup yet", async () => {
    answers.log_folder = "/logs";
    answers.diagnostic_checks = [];
    answers.list_backups = [];
    const main = new MainWindow(() => {});
    main.show("diagnostics");
    await flush();
    expect(main.node.querySelector("#backups")!.textContent).toContain("No backup yet");
  });
});

describe("unlock page", () => {
  const mount = (encrypted: boolean, unlocked = () => {}) => {
    const page = new UnlockPage(unlocked);
    document.body.append(page.node);
    page.update({ encrypted, why: "no Secret Service on this desktop" });
    return page;
  };
  const type = (id: string, value: string) => {
    (document.getElementById(id) as HTMLInputElement).value = value;
  };
  const submit = () => (document.getElementById("unlock-form") as HTMLFormElement).requestSubmit();

  it("a new archive: the passphrase twice; different ones are refused before asking the app", async () => {
    let unlocked = 0;
    mount(false, () => unlocked++);
    expect(document.getElementById("unlock-title")?.textContent).toBe(strings.choosePassphraseTitle);
    expect((document.getElementById("passphrase-again") as HTMLElement).hidden).toBe(false);
    expect((document.getElementById("opt-out") as HTMLElement).hidden).toBe(false);
    expect(document.getElementById("unlock-why")?.textContent).toContain("no Secret Service");
    type("passphrase", "correct horse");
    type("passphrase-again", "correct horsE");
    submit();
    await flush();
    expect(calls.filter((c) => c.cmd === "unlock")).toEqual([]);
    expect(document.getElementById("unlock-out")?.textContent).toBe(strings.passphrasesDiffer);
    type("passphrase-again", "correct horse");
    submit();
    await flush();
    expect(calls.filter((c) => c.cmd === "unlock")).toEqual([{ cmd: "unlock", args: { passphrase: "correct horse", encrypt: true } }]);
    expect(unlocked).toBe(1);
    expect((document.getElementById("passphrase") as HTMLInputElement).value).toBe("");
  });

  it("an encrypted archive: one field, no opt-out, and a wrong passphrase is said in words", async () => {
    const { invoke } = await import("@tauri-apps/api/core");
    vi.mocked(invoke).mockImplementationOnce(async (cmd: string, args: unknown) => {
      calls.push({ cmd, args });
      throw "That passphrase does not open your message archive.";
    });
    let unlocked = 0;
    mount(true, () => unlocked++);
    expect(document.getElementById("unlock-title")?.textContent).toBe(strings.unlockTitle);
    expect((document.getElementById("passphrase-again") as HTMLElement).hidden).toBe(true);
    expect((document.getElementById("opt-out") as HTMLElement).hidden).toBe(true);
    type("passphrase", "wrong one");
    submit();
    await flush();
    expect(unlocked).toBe(0);
    expect(document.getElementById("unlock-out")?.textContent).toContain("does not open");
    expect(document.getElementById("unlock-out")?.className).toBe("error");
  });

  it("not encrypting needs a second, explicit click", async () => {
    let unlocked = 0;
    mount(false, () => unlocked++);
    (document.getElementById("dont-encrypt") as HTMLButtonElement).click();
    await flush();
    expect(calls.filter((c) => c.cmd === "unlock")).toEqual([]);
    const confirm = document.getElementById("dont-encrypt-confirm") as HTMLButtonElement;
    expect(confirm.hidden).toBe(false);
    confirm.click();
    await flush();
    expect(calls.filter((c) => c.cmd === "unlock")).toEqual([{ cmd: "unlock", args: { passphrase: null, encrypt: false } }]);
    expect(unlocked).toBe(1);
  });
});

describe("strings", () => {
  it("formats sizes and addresses for people", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(2048)).toBe("2.0 KB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MB");
    expect(person("447700900123@s.whatsapp.net")).toBe("+447700900123");
    expect(person("447700900123:12@s.whatsapp.net")).toBe("+447700900123");
    expect(person("120363@g.us")).toBe("120363@g.us");
  });
});

describe("about page", () => {
  it("says when this is the newest version", async () => {
    answers.check_for_update = null;
    const main = new MainWindow(() => {});
    main.update(status({ setup_done: true }));
    main.show("about");
    main.node.querySelector<HTMLButtonElement>("#check-updates")!.click();
    await flush();
    expect(main.node.querySelector("#update-state")!.textContent).toBe("You have the newest version (1.2.3).");
    expect(main.node.querySelector<HTMLButtonElement>("#install-update")!.hidden).toBe(true);
  });

  it("offers an update, installs it only when asked, then restarts", async () => {
    answers.check_for_update = { version: "1.3.0", current: "1.2.3", notes: "Faster search.", date: null };
    answers.install_update = "1.3.0";
    const main = new MainWindow(() => {});
    main.update(status({ setup_done: true }));
    // The tray's "Check for updates…" opens About and checks at once.
    main.show("about:check");
    main.update(status({ setup_done: true }));
    await flush();
    expect(calls.map((c) => c.cmd)).toContain("check_for_update");
    expect(calls.map((c) => c.cmd)).not.toContain("install_update");
    expect(main.node.querySelector("#update-state")!.textContent).toContain("Version 1.3.0 is available (you have 1.2.3).");
    expect(main.node.querySelector("#update-notes")!.textContent).toBe("Faster search.");
    const install = main.node.querySelector<HTMLButtonElement>("#install-update")!;
    expect(install.hidden).toBe(false);
    install.click();
    await flush();
    await flush();
    expect(calls.map((c) => c.cmd)).toEqual(expect.arrayContaining(["install_update", "restart_app"]));
    expect(main.node.querySelector("#update-state")!.textContent).toBe("Version 1.3.0 is installed. Restarting…");
  });

  it("shows a refused update in words and does not restart", async () => {
    answers.check_for_update = { version: "1.3.0", current: "1.2.3", notes: null, date: null };
    answers.install_update = new Error("The update was refused: its signature does not match.");
    const main = new MainWindow(() => {});
    main.update(status({ setup_done: true }));
    main.show("about");
    main.node.querySelector<HTMLButtonElement>("#check-updates")!.click();
    await flush();
    main.node.querySelector<HTMLButtonElement>("#install-update")!.click();
    await flush();
    await flush();
    const out = main.node.querySelector("#update-state")!;
    expect(out.textContent).toContain("signature does not match");
    expect(out.className).toBe("error");
    expect(calls.map((c) => c.cmd)).not.toContain("restart_app");
  });
});

describe("status page", () => {
  it("puts Link again right under a logout, and nothing when connected", async () => {
    const main = new MainWindow((at) => calls.push({ cmd: "reopen", args: at }));
    main.update(status({ setup_done: true }));
    expect(main.node.querySelector<HTMLButtonElement>("#status-relink")!.hidden).toBe(true);
    expect(main.node.querySelector<HTMLButtonElement>("#status-reconnect")!.hidden).toBe(true);
    main.update(status({ setup_done: true, state: { state: "logged_out" }, needs_attention: true, fix: "relink", state_text: "This computer was unlinked." }));
    const relink = main.node.querySelector<HTMLButtonElement>("#status-relink")!;
    expect(relink.hidden).toBe(false);
    expect(main.node.querySelector<HTMLButtonElement>("#status-reconnect")!.hidden).toBe(true);
    relink.click();
    await flush();
    expect(calls).toEqual([
      { cmd: "new_qr_codes", args: undefined },
      { cmd: "reopen", args: "link" },
    ]);
    main.update(status({ setup_done: true, state: { state: "reconnecting" }, fix: "reconnect", state_text: "Reconnecting." }));
    expect(main.node.querySelector<HTMLButtonElement>("#status-reconnect")!.hidden).toBe(false);
    expect(main.node.querySelector<HTMLButtonElement>("#status-relink")!.hidden).toBe(true);
  });
});

describe("pushed status", () => {
  it("a patch replaces what changed and keeps the rest; a job is put in place, and dropped once it ended", () => {
    const job = { id: 7, kind: "full" as const, target: null, state: "running" as const, messages_done: 10, chats_done: 1, chats_total: 9, last_error: null };
    const before = status({ jobs: [{ ...job, id: 3 }] });
    const after = applyPatch(before, { messages: 2000, job, fix: null });
    expect(after.messages).toBe(2000);
    expect(after.chats).toBe(5);
    expect(after.jobs.map((j) => j.id)).toEqual([3, 7]);
    const paused = applyPatch(after, { job: { ...job, state: "paused", messages_done: 50 } });
    expect(paused.jobs.find((j) => j.id === 7)!.messages_done).toBe(50);
    expect(applyPatch(paused, { job: { ...job, state: "done" } }).jobs.map((j) => j.id)).toEqual([3]);
    expect(before.messages).toBe(1234);
  });

  it("countdowns are worded from the clock: seconds, minutes, hours", () => {
    const now = 1_000_000;
    const qr = { state: "showing_qr", code: "2@a", expires_at: now + 45_000, round: 1 };
    expect(countdown(qr, now)).toBe("It changes in 45 s.");
    expect(countdown(qr, now + 44_100)).toBe("It changes in 1 s.");
    expect(countdown({ state: "reconnecting", attempt: 3, next_try: now + 150_000, problem: { kind: "recycled" } }, now)).toBe(
      "Trying again in 2 min (attempt 3).",
    );
    expect(countdown({ state: "reconnecting", attempt: 0, next_try: now, problem: { kind: "recycled" } }, now)).toBeNull();
    expect(countdown({ state: "temporarily_banned", until: now + 3_900_000, reason: "spam" }, now)).toBe(
      "You can use it again in 1 h 5 min.",
    );
    expect(countdown({ state: "connected", since: 0 }, now)).toBeNull();
    expect(stateText(status({ state: qr, state_text: "Scan the QR code." }), now)).toBe("Scan the QR code. It changes in 45 s.");
  });

  it("the window asks for the status once, then follows what is pushed; the clock's tick asks nothing", async () => {
    answers.lock_state = null;
    answers.app_status = status({ state: { state: "unlinked" }, state_text: "Not linked yet." });
    const root = document.createElement("div");
    document.body.append(root);
    const app = new App(root);
    await app.refresh();
    const asked = () => calls.filter((c) => c.cmd === "app_status").length;
    expect(asked()).toBe(1);
    root.querySelector<HTMLButtonElement>("#start")!.click();
    const expires = Date.now() + 30_000;
    app.patch({
      state: { state: "showing_qr", code: "2@pushed", expires_at: expires, round: 1 },
      state_text: "Scan the QR code.",
      qr_svg: "<svg data-test='qr'></svg>",
    });
    await flush();
    const qr = root.querySelector<HTMLElement>("#qr")!;
    expect(qr.dataset.code).toBe("2@pushed");
    expect(root.querySelector("#link-state")!.textContent).toMatch(/Scan the QR code\. It changes in (29|30) s\./);
    calls.length = 0;
    app.tick();
    app.tick();
    expect(calls).toEqual([]);
    app.patch({ state: { state: "connected", since: 1 }, state_text: "Connected to WhatsApp.", qr_svg: null });
    await flush();
    expect(root.querySelector("#link-state")!.textContent).toBe(strings.linked);
    expect(asked()).toBe(0);
  });

  it("finishing the wizard opens the main window even when the clock ticks before the app answers", async () => {
    answers.app_status = status({ setup_done: false });
    answers.assistants = [];
    answers.safety_settings = { send_policy: "ask", recipients: [], sends_per_minute: 10, autostart: true };
    answers.audit_log = { items: [], next_cursor: null };
    answers.approvals = [];
    answers.chat_reach = [];
    const root = document.createElement("div");
    document.body.append(root);
    const app = new App(root);
    (app as unknown as { wizardStart: number }).wizardStart = 4;
    await app.refresh();
    expect(root.querySelector("#finish")).not.toBeNull();
    // The app is slow to answer (a sync keeps it busy); the window ticks meanwhile.
    let answer: (s: AppStatus) => void = () => {};
    answers.app_status = new Promise<AppStatus>((resolve) => (answer = resolve));
    root.querySelector<HTMLButtonElement>("#finish")!.click();
    await flush();
    app.tick();
    app.patch({ messages: 1300 });
    expect(root.querySelector("#finish")).toBeNull();
    answer(status({ setup_done: true, messages: 1300 }));
    await flush();
    await flush();
    expect(root.querySelector("#tab-status")).not.toBeNull();
    expect(root.querySelector("#finish")).toBeNull();
  });
});
