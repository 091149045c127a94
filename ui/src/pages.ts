// The main window after setup: Status, Sync, Assistants, Safety, Diagnostics, About.
import { h, list, radioGroup, run, setText } from "./dom";
import { api, onUpdateProgress, type AppStatus, type BackupInfo, type Check, type ClientId, type SafetySettings, type SendPolicy, type UpdateOffer } from "./ipc";
import { formatBytes, person, strings } from "./strings";
import { jobsView, progressView } from "./sync-view";
import { assistantsList, policyChoices } from "./wizard";
import { approvalsList } from "./approvals";
import { stateText } from "./status";

export interface Page {
  node: HTMLElement;
  update(status: AppStatus): void;
}

/** Open the setup again: from the start, or at the link step. */
export type Reopen = (at?: "link") => void;

/** Link again: fresh codes, then the wizard's link step, where the QR code is shown. */
const relinkWith = (reopen: Reopen) => async () => {
  await api.newQrCodes();
  reopen("link");
};

/** A button that runs `action`, saying a failure in `out`. */
function actionButton(id: string, label: string, out: HTMLElement, action: () => Promise<unknown>, cls?: string): HTMLButtonElement {
  const b = h("button", { id, class: cls ?? null, text: label }) as HTMLButtonElement;
  b.addEventListener("click", () => void run(b, out, action));
  return b;
}

function statusPage(reopen: Reopen): Page {
  const state = h("p", { class: "state", id: "engine-state" });
  const facts = h("ul", { id: "facts" });
  const progress = progressView();
  const out = h("p", { class: "note", "aria-live": "polite" });
  const relink = actionButton("status-relink", strings.relink, out, relinkWith(reopen), "primary");
  const reconnect = actionButton("status-reconnect", strings.reconnect, out, () => api.reconnect());
  relink.hidden = reconnect.hidden = true;
  // Only there when there is something to do (or to say about a try).
  const fixRow = h("div", { hidden: true }, h("div", { class: "actions" }, relink, reconnect), out);
  const node = h(
    "section",
    { "aria-labelledby": "page-title" },
    h("h2", { id: "page-title", text: strings.pages.status }),
    state,
    fixRow,
    progress.node,
    facts,
  );
  return {
    node,
    update(s) {
      setText(state, stateText(s));
      state.className = s.needs_attention ? "state attention" : "state";
      state.dataset.state = s.state.state;
      // What to do is a button right under the sentence that says it.
      relink.hidden = s.fix !== "relink";
      reconnect.hidden = s.fix !== "reconnect";
      fixRow.hidden = !s.fix && !out.textContent;
      progress.update(s);
      const lines = [
        strings.account(s.account),
        strings.lastMessage(s.newest_message),
        strings.messagesStored(s.messages),
        strings.chatsStored(s.chats),
        strings.databaseSize(s.database_bytes),
        strings.dataFolder(s.data_dir),
      ];
      if (facts.textContent !== lines.join("")) facts.replaceChildren(...lines.map((l) => h("li", { text: l })));
    },
  };
}

function syncPage(): Page {
  const out = h("p", { class: "note" });
  const progress = progressView();
  const jobs = jobsView(out);
  const everything = h("button", { id: "fetch-everything", text: strings.fetchEverything }) as HTMLButtonElement;
  everything.addEventListener("click", () => run(everything, out, () => api.startSync(true)));
  const chat = h("input", { id: "older-chat", "aria-label": strings.chatLabel, placeholder: "447700900123" }) as HTMLInputElement;
  const count = h("input", { id: "older-count", type: "number", min: 1, max: 10000, value: 200, "aria-label": strings.countLabel }) as HTMLInputElement;
  const fetch = h("button", { id: "fetch-older", text: strings.fetch }) as HTMLButtonElement;
  fetch.addEventListener("click", () => {
    // As typed: the app reads a number with its country code or a chat's address.
    run(fetch, out, () => api.fetchOlder(chat.value.trim(), Number(count.value) || 200));
  });
  const reach = h("table", { id: "reach", class: "audit" });
  let reachKey = "";
  const loadReach = () =>
    api
      .chatReach()
      .then((rows) => {
        const key = JSON.stringify(rows.map((r) => [r.chat_jid, r.oldest_ts, r.state]));
        if (key === reachKey) return;
        reachKey = key;
        reach.replaceChildren(
          h("tr", {}, ...strings.reachHeaders.map((t) => h("th", { text: t, scope: "col" }))),
          ...rows.map((r) => {
            const more = h("button", { class: "fetch-row", "data-chat": r.chat_jid, text: strings.fetchOlderRow }) as HTMLButtonElement;
            more.disabled = r.state === "complete" || r.state === "requested";
            more.addEventListener("click", () => run(more, out, () => api.fetchOlder(r.chat_jid, 200)));
            return h(
              "tr",
              { "data-state": r.state },
              h("td", { text: r.name ?? person(r.chat_jid) }),
              h("td", { text: r.oldest_ts ? new Date(r.oldest_ts).toLocaleDateString() : "" }),
              h("td", { text: strings.reachStates[r.state] ?? r.state }),
              h("td", {}, more),
            );
          }),
        );
      })
      .catch((e) => (out.textContent = String(e)));
  void loadReach();
  const node = h(
    "section",
    { "aria-labelledby": "page-title" },
    h("h2", { id: "page-title", text: strings.pages.sync }),
    progress.node,
    jobs.node,
    everything,
    h(
      "fieldset",
      {},
      h("legend", { text: strings.fetchOlderTitle }),
      h("label", { for: "older-chat", text: strings.chatLabel }),
      chat,
      h("label", { for: "older-count", text: strings.countLabel }),
      count,
      fetch,
    ),
    out,
    h("h3", { text: strings.reachTitle }),
    reach,
  );
  let lastJobs = "";
  return {
    node,
    update(s) {
      progress.update(s);
      jobs.update(s);
      const jobKey = JSON.stringify(s.jobs.map((j) => [j.id, j.state, j.chats_done]));
      if (jobKey !== lastJobs) {
        lastJobs = jobKey;
        void loadReach();
      }
      const idle = s.jobs.length === 0;
      if (idle && !node.querySelector(".no-jobs")) jobs.node.before(h("p", { class: "note no-jobs", text: strings.noJobs }));
      if (!idle) node.querySelector(".no-jobs")?.remove();
    },
  };
}

function assistantsPage(): Page {
  const out = h("div", { "aria-live": "polite" });
  const clients = assistantsList();
  const act = (connect: boolean) => {
    const b = h("button", { id: connect ? "connect" : "disconnect", text: connect ? strings.connect : strings.disconnect }) as HTMLButtonElement;
    b.addEventListener("click", () =>
      run(b, out, async () => {
        const outcomes = await api.connectAssistants(clients.selected() as ClientId[], connect);
        out.replaceChildren(...outcomes.map((o) => h("p", { class: o.ok ? "ok" : "error", text: o.message })));
        await clients.refresh();
      }),
    );
    return b;
  };
  clients.refresh().catch((e) => (out.textContent = String(e)));
  const node = h(
    "section",
    { "aria-labelledby": "page-title" },
    h("h2", { id: "page-title", text: strings.assistantsTitle }),
    h("p", { text: strings.assistantsIntro }),
    clients.node,
    h("div", { class: "actions start" }, act(true), act(false)),
    out,
  );
  return { node, update: () => {} };
}

function safetyPage(): Page {
  const out = h("p", { class: "note", "aria-live": "polite" });
  const radios = radioGroup("safety-policy", strings.safetyQuestion, "safety", policyChoices());
  const recipients = h("textarea", { id: "recipients", rows: 3 }) as HTMLTextAreaElement;
  const rate = h("input", { id: "rate", type: "number", min: 1, max: 120 }) as HTMLInputElement;
  const autostart = h("input", { id: "safety-autostart", type: "checkbox" }) as HTMLInputElement;
  const checkUpdates = h("input", { id: "safety-updates", type: "checkbox" }) as HTMLInputElement;
  const save = h("button", { id: "save-safety", class: "primary", text: strings.save }) as HTMLButtonElement;
  // Nothing can be changed or saved before the saved settings are shown: a
  // choice made earlier would be overwritten by them, and Save would write
  // the defaults over the person's settings.
  const controls = [...radios.querySelectorAll<HTMLInputElement>("input"), recipients, rate, autostart, checkUpdates, save];
  for (const c of controls) c.disabled = true;
  api
    .safetySettings()
    .then((s) => {
      radios.querySelector<HTMLInputElement>(`#safety-${s.send_policy}`)!.checked = true;
      recipients.value = s.recipients.join("\n");
      rate.value = String(s.sends_per_minute);
      autostart.checked = s.autostart;
      checkUpdates.checked = s.check_updates;
      for (const c of controls) c.disabled = false;
    })
    .catch((e) => (out.textContent = String(e)));
  save.addEventListener("click", () =>
    run(save, out, async () => {
      const settings: SafetySettings = {
        send_policy: (radios.querySelector<HTMLInputElement>("input:checked")?.value ?? "ask") as SendPolicy,
        // As typed: the app checks each line (a number with its country code,
        // or a chat's address) and says which one is wrong.
        recipients: recipients.value
          .split("\n")
          .map((r) => r.trim())
          .filter(Boolean),
        sends_per_minute: Number(rate.value) || 10,
        autostart: autostart.checked,
        check_updates: checkUpdates.checked,
      };
      await api.setSafetySettings(settings);
      out.textContent = strings.saved;
      out.className = "ok";
    }),
  );
  const pending = approvalsList();
  const search = h("input", { id: "audit-search", type: "search", "aria-label": strings.auditSearch, placeholder: strings.auditSearch }) as HTMLInputElement;
  const audit = h("table", { id: "audit", class: "audit" });
  const loadAudit = () =>
    api
      .auditLog(search.value || null, null)
      .then((page) => {
        audit.replaceChildren(
          ...page.items.map((e) =>
            h(
              "tr",
              {},
              h("td", { text: new Date(e.at).toLocaleString() }),
              h("td", { text: e.client }),
              h("td", { text: e.tool }),
              h("td", { text: e.recipient ?? "" }),
              h("td", { class: `decision ${e.decision}`, text: e.decision }),
              h("td", { text: e.detail ?? "" }),
            ),
          ),
        );
        if (page.items.length === 0) audit.append(h("tr", {}, h("td", { text: strings.auditEmpty })));
      })
      .catch((e) => (out.textContent = String(e)));
  search.addEventListener("input", () => void loadAudit());
  void loadAudit();
  const node = h(
    "section",
    { "aria-labelledby": "page-title" },
    h("h2", { id: "page-title", text: strings.pages.safety }),
    h("h3", { text: strings.pendingTitle }),
    pending.node,
    radios,
    h("label", { for: "recipients", text: strings.recipientsLabel }),
    recipients,
    h("label", { for: "rate", text: strings.rateLabel }),
    rate,
    h("div", {}, autostart, h("label", { for: "safety-autostart", text: strings.autostart })),
    h("div", {}, checkUpdates, h("label", { for: "safety-updates", text: strings.checkUpdatesSetting })),
    save,
    out,
    h("h3", { text: strings.auditTitle }),
    search,
    audit,
  );
  let pendingCount = -1;
  return {
    node,
    update(s) {
      pending.refresh();
      if (s.pending_approvals !== pendingCount) {
        pendingCount = s.pending_approvals;
        void loadAudit();
      }
    },
  };
}

function diagnosticsPage(go: (page: string) => void, reopen: Reopen): Page {
  const out = h("div", { id: "diagnostics-out", "aria-live": "polite" });
  const checks = h("ul", { id: "checks", class: "checks" });
  const fixes: Record<string, () => Promise<unknown>> = {
    reconnect: () => api.reconnect(),
    relink: relinkWith(reopen),
    permissions: () => api.fixPermissions(),
    assistants: async () => go("assistants"),
  };
  let checksKey = "";
  const loadChecks = () =>
    api
      .diagnosticChecks()
      .then((list) => {
        const key = JSON.stringify(list);
        if (key === checksKey) return;
        checksKey = key;
        checks.replaceChildren(
          ...list.map((c) => {
            const row = h("li", { "data-check": c.id, "data-ok": String(c.ok) }, h("span", { class: c.ok ? "ok" : "attention", text: c.ok ? "✓ " : "! " }), c.text);
            if (c.fix) {
              const b = h("button", { class: `fix fix-${c.fix}`, text: strings.fixes[c.fix] ?? c.fix }) as HTMLButtonElement;
              b.addEventListener("click", () => run(b, out, async () => {
                await fixes[c.fix!]?.();
                await loadChecks();
              }));
              row.append(" ", b);
            }
            return row;
          }),
        );
      })
      .catch((e) => (out.textContent = String(e)));
  const say = (c: Check) => out.replaceChildren(h("p", { class: c.ok ? "ok" : "error", text: c.text }));
  const backups = backupList(out, say);
  // The backups (with their Restore buttons) come once the checks above
  // them are shown, so that no button moves under the pointer.
  void loadChecks().finally(() => backups.load());
  const button = (id: string, label: string, action: () => Promise<unknown>) => actionButton(id, label, out, action);
  const logs = h("p", { class: "note" });
  api.logFolder().then((p) => (logs.textContent = strings.logsAt(p))).catch(() => {});
  const node = h(
    "section",
    { "aria-labelledby": "page-title" },
    h("h2", { id: "page-title", text: strings.pages.diagnostics }),
    h("h3", { text: strings.checksTitle }),
    checks,
    h(
      "div",
      { class: "actions start wrap" },
      button("diag-reconnect", strings.reconnect, fixes.reconnect),
      // The same as the check's fix: the QR code is shown by the wizard's link step.
      button("diag-relink", strings.relink, fixes.relink),
      button("diag-integrity", strings.integrity, () => api.integrityCheck().then(say)),
      button("diag-backup", strings.backup, () => api.backupNow().then(say).then(backups.load)),
      button("diag-export", strings.exportReport, () => api.exportDiagnostics().then(say)),
      button("diag-open-logs", strings.openLogs, () => api.openFolder("logs")),
    ),
    out,
    h("h3", { text: strings.backupsTitle }),
    backups.node,
    logs,
  );
  let lastState = "";
  return {
    node,
    update(s) {
      if (s.state.state !== lastState) {
        lastState = s.state.state;
        void loadChecks();
      }
    },
  };
}

/** The backups, newest first; "Restore…" asks to confirm in place, then the
 * app checks the backup, stages it and restarts (wa_store::restore). */
function backupList(out: HTMLElement, say: (c: Check) => void): { node: HTMLElement; load: () => Promise<void> } {
  const node = h("ul", { id: "backups", class: "checks" });
  const row = (b: BackupInfo) => {
    const li = h("li", { "data-backup": b.path }, strings.backupLine(b));
    if (b.messages === null) return li;
    const messages = b.messages;
    const ask = h("button", { class: "restore", text: strings.restore }) as HTMLButtonElement;
    ask.addEventListener("click", () => {
      const yes = h("button", { class: "danger restore-yes", text: strings.restoreYes }) as HTMLButtonElement;
      const no = h("button", { class: "restore-no", text: strings.cancel }) as HTMLButtonElement;
      const confirm = h("div", { class: "confirm", role: "alertdialog" }, h("p", { text: strings.restoreConfirm(messages) }), yes, " ", no);
      no.addEventListener("click", () => {
        confirm.remove();
        ask.hidden = false;
      });
      yes.addEventListener("click", () =>
        run(yes, out, async () => {
          no.disabled = true;
          say(await api.restoreBackup(b.path));
        }),
      );
      ask.hidden = true;
      li.append(confirm);
    });
    li.append(" ", ask);
    return li;
  };
  const load = () =>
    api
      .listBackups()
      .then((list) => {
        node.replaceChildren(...(list.length ? list.map(row) : [h("li", { class: "note", text: strings.noBackups })]));
      })
      .catch((e) => {
        out.textContent = String(e);
      });
  return { node, load };
}

/** About: the version, and updates (checked on request, installed only when asked). */
export function aboutPage(reopen: Reopen, checkNow = false): Page {
  const version = h("p", { id: "version" });
  const out = h("p", { id: "update-state", class: "note", "aria-live": "polite" });
  const notes = h("p", { id: "update-notes", class: "note", hidden: true });
  const check = h("button", { id: "check-updates", text: strings.checkUpdates }) as HTMLButtonElement;
  const install = h("button", { id: "install-update", class: "primary", text: strings.installUpdate, hidden: true }) as HTMLButtonElement;
  const say = (text: string, ok: boolean | null) => {
    out.textContent = text;
    out.className = ok === null ? "note" : ok ? "ok" : "error";
  };
  const offer = (o: UpdateOffer | null, current: string) => {
    install.hidden = !o;
    notes.hidden = !o?.notes;
    notes.textContent = o?.notes ?? "";
    say(o ? `${strings.updateOffered(o.version, o.current)} ${strings.updateKeeps}` : strings.upToDate(current), o ? null : true);
  };
  let current = "";
  const doCheck = () =>
    run(check, out, async () => {
      say(strings.checkingUpdates, null);
      offer(await api.checkForUpdate(), current);
    });
  check.addEventListener("click", () => void doCheck());
  install.addEventListener("click", () =>
    void run(install, out, async () => {
      const stop = await onUpdateProgress((p) => say(strings.updateDownloading(p.received, p.total), null));
      try {
        const installed = await api.installUpdate();
        install.hidden = true;
        say(strings.updateInstalled(installed), true);
        await api.restartApp();
      } finally {
        stop();
      }
    }),
  );
  const node = h(
    "section",
    { "aria-labelledby": "page-title" },
    h("h2", { id: "page-title", text: strings.pages.about }),
    h("p", { text: strings.tagline }),
    version,
    h("div", { class: "actions" }, check, install),
    out,
    notes,
    list([strings.privacy]),
    h("button", { id: "setup-again", text: strings.setupAgain, onclick: () => reopen() }),
  );
  let first = true;
  return {
    node,
    update(s) {
      current = s.version;
      setText(version, strings.version(s.version));
      if (first && checkNow) void doCheck();
      first = false;
    },
  };
}

export const PAGE_NAMES = ["status", "sync", "assistants", "safety", "diagnostics", "about"];

/** The main window: a page list and the current page. */
export class MainWindow {
  readonly node = h("div", { class: "main-window" });
  private nav = h("nav", { "aria-label": "Pages" });
  private holder = h("div", { class: "page" });
  private page: Page | null = null;
  private last: AppStatus | null = null;
  name = "status";

  constructor(private reopen: Reopen) {
    this.node.append(this.nav, this.holder);
    this.show("status");
  }

  /** Show a page; "about:check" opens About and checks for updates at once (the tray's item). */
  show(target: string): void {
    const [name, action] = target.split(":");
    this.name = PAGE_NAMES.includes(name) ? name : "status";
    this.nav.replaceChildren(
      ...PAGE_NAMES.map((p) =>
        h("button", {
          class: p === this.name ? "tab current" : "tab",
          id: `tab-${p}`,
          "aria-current": p === this.name ? "page" : null,
          text: strings.pages[p],
          onclick: () => this.show(p),
        }),
      ),
    );
    const make: Record<string, () => Page> = {
      status: () => statusPage(this.reopen),
      sync: syncPage,
      assistants: assistantsPage,
      safety: safetyPage,
      diagnostics: () => diagnosticsPage((p) => this.show(p), this.reopen),
      about: () => aboutPage(this.reopen, action === "check"),
    };
    this.page = make[this.name]();
    this.holder.replaceChildren(this.page.node);
    if (this.last) this.page.update(this.last);
  }

  update(status: AppStatus): void {
    this.last = status;
    this.page?.update(status);
  }
}

export { formatBytes };
