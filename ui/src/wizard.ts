// The setup wizard: welcome, link, history, assistants, done. Each step is
// built when entered and updated in place from the app status.
import { h, list, radioGroup, run, secondsUntil, setText } from "./dom";
import { api, type AppStatus, type ClientId, type ClientState, type SendPolicy } from "./ipc";
import { strings } from "./strings";
import { jobsView, progressView } from "./sync-view";
import { stateText } from "./status";

export interface Step {
  node: HTMLElement;
  update(status: AppStatus): void;
}

export const COUNTRIES: [string, string][] = [
  ["+1", "United States / Canada"],
  ["+44", "United Kingdom"],
  ["+49", "Germany"],
  ["+33", "France"],
  ["+34", "Spain"],
  ["+39", "Italy"],
  ["+31", "Netherlands"],
  ["+55", "Brazil"],
  ["+52", "Mexico"],
  ["+54", "Argentina"],
  ["+91", "India"],
  ["+62", "Indonesia"],
  ["+234", "Nigeria"],
  ["+27", "South Africa"],
  ["+20", "Egypt"],
  ["+971", "United Arab Emirates"],
  ["+966", "Saudi Arabia"],
  ["+90", "Turkey"],
  ["+7", "Russia"],
  ["+81", "Japan"],
  ["+61", "Australia"],
];

export function welcomeStep(next: () => void): Step {
  const node = h(
    "section",
    { class: "step", "aria-labelledby": "step-title" },
    h("h2", { id: "step-title", text: strings.welcomeTitle }),
    h("p", { text: strings.welcomeIntro }),
    list(strings.welcomePoints),
    h("div", { class: "actions" }, h("button", { class: "primary", id: "start", onclick: next, text: strings.start })),
  );
  return { node, update: () => {} };
}

/** The device-limit guide: opened when codes keep running out, always reachable. */
function deviceLimitGuide(): HTMLDetailsElement {
  const out = h("p", { class: "note" });
  const retry = h("button", { id: "retry-link", text: strings.retry }) as HTMLButtonElement;
  retry.addEventListener("click", () => run(retry, out, () => api.newQrCodes()));
  return h(
    "details",
    { class: "guide", id: "device-limit" },
    h("summary", { text: strings.deviceLimitTitle }),
    h("p", { text: strings.deviceLimitText }),
    list(strings.deviceLimitSteps, true),
    retry,
    out,
  );
}

export function linkStep(next: () => void): Step {
  const stateLine = h("p", { class: "state", id: "link-state", "aria-live": "polite" });
  const qrBox = h("div", { class: "qr", id: "qr", role: "img", "aria-label": strings.qrAlt });
  const out = h("p", { class: "note" });
  const newCode = h("button", { id: "new-code", class: "primary", text: strings.showNewCode, hidden: true }) as HTMLButtonElement;
  newCode.addEventListener("click", () => run(newCode, out, () => api.newQrCodes()));
  const demoScan = h("button", { id: "demo-scan", text: strings.demoScan, hidden: true }) as HTMLButtonElement;
  const guide = deviceLimitGuide();
  const howTo = h(
    "div",
    { class: "howto" },
    h("div", {}, h("h3", { text: strings.androidTitle }), list(strings.androidSteps, true)),
    h("div", {}, h("h3", { text: strings.iphoneTitle }), list(strings.iphoneSteps, true)),
  );

  // By phone number.
  const country = h("select", { id: "country", "aria-label": strings.countryLabel }) as HTMLSelectElement;
  for (const [code, name] of COUNTRIES) country.append(h("option", { value: code.slice(1), text: `${name} (${code})` }));
  const number = h("input", {
    id: "phone-number",
    type: "tel",
    inputmode: "numeric",
    autocomplete: "tel-national",
    "aria-label": strings.phoneLabel,
    placeholder: "7700 900123",
  }) as HTMLInputElement;
  const getCode = h("button", { id: "get-code", class: "primary", text: strings.getCode }) as HTMLButtonElement;
  const phoneOut = h("p", { class: "note", id: "phone-out" });
  const codeBox = h("p", { class: "pair-code", id: "pair-code", "aria-live": "polite" });
  const demoCode = h("button", { id: "demo-enter-code", text: strings.demoEnterCode, hidden: true }) as HTMLButtonElement;
  const demoNumber = h("p", { class: "note", id: "demo-number", hidden: true });
  getCode.addEventListener("click", () => {
    // "+..." is a full international number; otherwise the country's code goes first.
    const international = number.value.trim().startsWith("+");
    const digits = number.value.replace(/\D/g, "").replace(international ? /^$/ : /^0+/, "");
    if (!digits) {
      phoneOut.textContent = strings.phoneNeeded;
      phoneOut.className = "error";
      return;
    }
    phoneOut.textContent = "";
    run(getCode, phoneOut, async () => {
      codeBox.textContent = await api.pairWithPhone(international ? digits : country.value + digits);
    });
  });
  const phonePanel = h(
    "div",
    { class: "panel", id: "by-phone", hidden: true },
    h("label", { for: "country", text: strings.countryLabel }),
    country,
    h("label", { for: "phone-number", text: strings.phoneLabel }),
    number,
    demoNumber,
    getCode,
    phoneOut,
    h("p", { text: strings.codeIntro }),
    codeBox,
    demoCode,
  );
  const qrPanel = h("div", { class: "panel", id: "by-qr" }, qrBox, newCode, demoScan, howTo);
  const toggle = h("button", { class: "link", id: "toggle-phone", text: strings.linkByPhone }) as HTMLButtonElement;
  toggle.addEventListener("click", () => {
    const byPhone = phonePanel.hidden;
    phonePanel.hidden = !byPhone;
    qrPanel.hidden = byPhone;
    toggle.textContent = byPhone ? strings.linkByQr : strings.linkByPhone;
    if (byPhone) number.focus();
  });
  const nextButton = h("button", { class: "primary", id: "link-next", text: strings.next, disabled: true, onclick: next }) as HTMLButtonElement;
  const retryConnection = h("button", { id: "reconnect", text: strings.tryAgain, hidden: true }) as HTMLButtonElement;
  retryConnection.addEventListener("click", () => run(retryConnection, out, () => api.reconnect()));

  let shownCode = "";
  let current: AppStatus | null = null;
  demoScan.addEventListener("click", () => run(demoScan, out, () => api.demoPhone("scan", current?.state.code)));
  demoCode.addEventListener("click", () =>
    run(demoCode, phoneOut, () => api.demoPhone("enter_code", codeBox.textContent ?? "")),
  );

  const node = h(
    "section",
    { class: "step", "aria-labelledby": "step-title" },
    h("h2", { id: "step-title", text: strings.linkTitle }),
    stateLine,
    toggle,
    qrPanel,
    phonePanel,
    guide,
    out,
    h("div", { class: "actions" }, retryConnection, nextButton),
  );

  return {
    node,
    update(status) {
      current = status;
      const s = status.state;
      setText(stateLine, s.state === "connected" ? strings.linked : stateText(status));
      stateLine.className = status.needs_attention ? "state attention" : "state";
      stateLine.dataset.state = s.state;
      const showingQr = s.state === "showing_qr" && status.qr_svg;
      if (showingQr && s.code !== shownCode) {
        shownCode = s.code ?? "";
        qrBox.innerHTML = status.qr_svg ?? "";
        qrBox.dataset.code = shownCode;
      } else if (!showingQr && shownCode) {
        shownCode = "";
        qrBox.replaceChildren(h("p", { text: s.state === "qr_exhausted" ? strings.qrRanOut : strings.qrPreparing }));
        delete qrBox.dataset.code;
      } else if (!showingQr && !qrBox.firstChild) {
        qrBox.append(h("p", { text: strings.qrPreparing }));
      }
      newCode.hidden = s.state !== "qr_exhausted";
      // Codes ran out at least once: the device limit is the likely reason.
      if (s.state === "qr_exhausted") guide.open = true;
      demoScan.hidden = !(status.demo && showingQr);
      if (s.state === "showing_code") {
        setText(codeBox, s.code ?? "");
        phoneOut.textContent = strings.codeRefresh(secondsUntil(s.expires_at));
        phoneOut.className = "note";
      }
      demoCode.hidden = !(status.demo && s.state === "showing_code");
      if (status.demo_number) {
        demoNumber.hidden = false;
        demoNumber.dataset.number = status.demo_number;
        setText(demoNumber, strings.demoNumber(status.demo_number));
      }
      retryConnection.hidden = !["reconnecting", "outdated", "temporarily_banned"].includes(s.state);
      nextButton.disabled = s.state !== "connected";
    },
  };
}

export function syncStep(next: () => void): Step {
  const recent = h("input", { type: "radio", name: "how-much", id: "sync-recent", value: "recent", checked: true });
  const everything = h("input", { type: "radio", name: "how-much", id: "sync-everything", value: "everything" });
  const out = h("p", { class: "note" });
  const start = h("button", { id: "sync-start", text: strings.syncStart }) as HTMLButtonElement;
  start.addEventListener("click", () =>
    run(start, out, async () => {
      await api.startSync((everything as HTMLInputElement).checked);
      start.disabled = true;
    }),
  );
  const progress = progressView();
  const jobs = jobsView(out);
  const node = h(
    "section",
    { class: "step", "aria-labelledby": "step-title" },
    h("h2", { id: "step-title", text: strings.syncTitle }),
    h(
      "fieldset",
      {},
      h("legend", { text: strings.syncTitle }),
      h("div", {}, recent, h("label", { for: "sync-recent", text: strings.syncRecent })),
      h("div", {}, everything, h("label", { for: "sync-everything", text: strings.syncEverything })),
      start,
    ),
    progress.node,
    jobs.node,
    out,
    h("div", { class: "actions" }, h("button", { class: "primary", id: "sync-next", onclick: next, text: strings.syncBackground })),
  );
  return {
    node,
    update(status) {
      progress.update(status);
      jobs.update(status);
    },
  };
}

export function assistantsList(onChange?: () => void): { node: HTMLElement; refresh(): Promise<ClientState[]>; selected(): string[] } {
  const node = h("ul", { class: "clients", id: "clients" });
  let clients: ClientState[] = [];
  return {
    node,
    async refresh() {
      clients = await api.assistants();
      node.replaceChildren();
      if (clients.length === 0) node.append(h("li", { text: strings.noneFound }));
      for (const c of clients) {
        const box = h("input", {
          type: "checkbox",
          id: `client-${c.client}`,
          value: c.client,
          // Ticked: installed and not connected, or pointing at an old copy of this app.
          checked: c.status === "not_connected" || c.status === "stale",
          disabled: c.status === "broken",
          onchange: () => onChange?.(),
        });
        node.append(
          h(
            "li",
            { "data-status": c.status },
            box,
            h("label", { for: `client-${c.client}` }, h("strong", { text: c.name }), " — ", c.description),
          ),
        );
      }
      return clients;
    },
    selected() {
      return Array.from(node.querySelectorAll<HTMLInputElement>("input:checked")).map((b) => b.value);
    },
  };
}

export function assistantsStep(next: () => void): Step {
  const clients = assistantsList();
  const out = h("div", { id: "connect-out", "aria-live": "polite" });
  const connect = h("button", { id: "connect", class: "primary", text: strings.connect }) as HTMLButtonElement;
  connect.addEventListener("click", () =>
    run(connect, out, async () => {
      const outcomes = await api.connectAssistants(clients.selected() as ClientId[], true);
      out.replaceChildren(...outcomes.map((o) => h("p", { class: o.ok ? "ok" : "error", text: o.message })));
      const now = await clients.refresh();
      const claude = now.find((c) => c.client === "claude_desktop");
      if (outcomes.some((o) => o.ok && o.client === "claude_desktop")) {
        out.append(h("p", { class: "note", text: strings.restartClaude }));
        // Where the system allows it, one button does it.
        if (claude?.can_restart) {
          const restart = h("button", { id: "restart-claude", text: strings.restartNow(claude.name) }) as HTMLButtonElement;
          restart.addEventListener("click", () => run(restart, out, () => api.restartAssistant("claude_desktop")));
          out.append(restart);
        }
      }
    }),
  );
  clients.refresh().catch((e) => (out.textContent = String(e)));
  const node = h(
    "section",
    { class: "step", "aria-labelledby": "step-title" },
    h("h2", { id: "step-title", text: strings.assistantsTitle }),
    h("p", { text: strings.assistantsIntro }),
    clients.node,
    connect,
    out,
    h("div", { class: "actions" }, h("button", { class: "primary", id: "assistants-next", onclick: next, text: strings.next })),
  );
  return { node, update: () => {} };
}

/** The send policies, safest first, as the person reads them. */
export function policyChoices(): [string, string][] {
  return ["ask", "read_only", "allowlist", "open"].map((p) => [p, strings.policies[p]]);
}

export function doneStep(finish: (policy: SendPolicy, autostart: boolean) => Promise<void>): Step {
  const radios = radioGroup("send-policy", strings.safetyQuestion, "policy", policyChoices(), "ask");
  const autostart = h("input", { type: "checkbox", id: "autostart", checked: true }) as HTMLInputElement;
  const out = h("p", { class: "note" });
  const done = h("button", { class: "primary", id: "finish", text: strings.finish }) as HTMLButtonElement;
  done.addEventListener("click", () => {
    const chosen = radios.querySelector<HTMLInputElement>("input:checked")?.value ?? "ask";
    run(done, out, () => finish(chosen as SendPolicy, autostart.checked));
  });
  const node = h(
    "section",
    { class: "step", "aria-labelledby": "step-title" },
    h("h2", { id: "step-title", text: strings.doneTitle }),
    h("p", { text: strings.doneIntro }),
    list(strings.examples),
    radios,
    h("div", {}, autostart, h("label", { for: "autostart", text: strings.autostart })),
    out,
    h("div", { class: "actions" }, done),
  );
  return { node, update: () => {} };
}

/** The wizard: a step bar and the current step. */
export class Wizard {
  readonly node = h("div", { class: "wizard" });
  private bar = h("ol", { class: "stepbar", "aria-label": "Setup steps" });
  private holder = h("div");
  private index = 0;
  private step: Step | null = null;
  private last: AppStatus | null = null;

  /** `start`: the step to open on (1, the link step, when linking again). */
  constructor(
    private finished: () => void,
    start = 0,
  ) {
    this.node.append(this.bar, this.holder);
    this.show(start);
  }

  private make(index: number): Step {
    const next = () => this.show(index + 1);
    switch (index) {
      case 0:
        return welcomeStep(next);
      case 1:
        return linkStep(next);
      case 2:
        return syncStep(next);
      case 3:
        return assistantsStep(next);
      default:
        return doneStep(async (policy, autostart) => {
          await api.finishSetup(policy, autostart);
          this.finished();
        });
    }
  }

  show(index: number): void {
    this.index = Math.min(index, strings.steps.length - 1);
    this.bar.replaceChildren(
      ...strings.steps.map((name, i) =>
        h("li", { class: i === this.index ? "current" : i < this.index ? "done" : "", "aria-current": i === this.index ? "step" : null, text: name }),
      ),
    );
    this.step = this.make(this.index);
    this.holder.replaceChildren(this.step.node);
    this.node.dataset.step = String(this.index + 1);
    if (this.last) this.step.update(this.last);
    this.step.node.querySelector<HTMLElement>("h2")?.setAttribute("tabindex", "-1");
    this.step.node.querySelector<HTMLElement>("h2")?.focus();
  }

  get current(): number {
    return this.index;
  }

  update(status: AppStatus): void {
    this.last = status;
    this.step?.update(status);
  }
}
