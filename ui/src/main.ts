// The window: the wizard until setup is done, then the main pages; the
// approval dialog over either. The status is asked for once (and again after
// the window changes a setting), then kept current by what the app pushes
// (`status` events, see status.ts); once a second the window only words its
// countdowns again, asking the app nothing.
import { h } from "./dom";
import { api, onApprovals, onNavigate, onStatus, onUpdateAvailable, type AppStatus, type UpdateOffer } from "./ipc";
import { applyPatch, type StatusPatch } from "./status";
import { ApprovalDialog } from "./approvals";
import { MainWindow } from "./pages";
import { strings } from "./strings";
import { UnlockPage } from "./unlock";
import { Wizard } from "./wizard";

export class App {
  private header = h("header");
  private body = h("div", { id: "body" }, h("p", { text: strings.loading }));
  private wizard: Wizard | null = null;
  /** The step the wizard opens on next (the link step when linking again). */
  private wizardStart = 0;
  private main: MainWindow | null = null;
  /** Shown instead of everything while the app waits for its passphrase. */
  private unlock: UnlockPage | null = null;
  private dialog = new ApprovalDialog();
  private error = h("p", { class: "error", role: "alert", hidden: true });
  private banner = h("p", { id: "update-banner", class: "note", role: "status", hidden: true });

  constructor(root: HTMLElement) {
    root.replaceChildren(this.header, this.banner, this.error, this.body, this.dialog.node);
  }

  /** The check at start found an update: say so, with a way to the About page. */
  updateAvailable = (offer: UpdateOffer) => {
    this.banner.replaceChildren(
      `${strings.updateOffered(offer.version, offer.current)} `,
      h("button", { id: "see-update", text: strings.seeUpdate, onclick: () => this.navigate("about") }),
    );
    this.banner.hidden = false;
  };

  render(status: AppStatus): void {
    this.error.hidden = true;
    const demo = status.demo
      ? h("p", { class: "demo", id: "demo-badge" }, h("strong", { class: "badge", text: strings.demoBadge }), ` ${strings.demoExplained}`)
      : null;
    if (!this.header.firstChild || (demo && !this.header.querySelector("#demo-badge"))) {
      this.header.replaceChildren(h("h1", { text: strings.appName }), h("p", { class: "tagline", text: strings.tagline }));
      if (demo) this.header.append(demo);
    }
    if (!status.setup_done && !this.wizard) {
      this.main = null;
      this.wizard = new Wizard(() => {
        this.wizard = null;
        // Known now, before the app's answer: a tick or a pushed patch in
        // between must not render the old status and open the wizard again.
        this.settled({ setup_done: true });
      }, this.wizardStart);
      this.wizardStart = 0;
      this.body.replaceChildren(this.wizard.node);
    } else if (status.setup_done && !this.wizard && !this.main) {
      this.main = new MainWindow((at) => {
        this.wizardStart = at === "link" ? 1 : 0;
        void api.reopenWizard().then(() => this.settled({ setup_done: false }));
      });
      this.body.replaceChildren(this.main.node);
    }
    this.wizard?.update(status);
    this.main?.update(status);
  }

  showError(error: unknown): void {
    this.error.textContent = `${strings.errorPrefix} ${String(error)}`;
    this.error.hidden = false;
  }

  navigate(page: string): void {
    this.main?.show(page);
  }

  approvals = (pending: Parameters<ApprovalDialog["show"]>[0]) => {
    this.dialog.show(pending);
    this.patch({ pending_approvals: pending.length });
  };

  /** The status as last known (asked for once, then patched). */
  private status: AppStatus | null = null;

  /** Apply what the app pushed; before the first answer, ask for the whole status. */
  patch = (patch: StatusPatch) => {
    if (!this.status) {
      void this.refresh();
      return;
    }
    this.status = applyPatch(this.status, patch);
    this.render(this.status);
  };

  /** The window changed a setting: keep the known status true at once, then ask again. */
  private settled(change: Partial<AppStatus>): void {
    if (this.status) {
      this.status = { ...this.status, ...change };
      this.render(this.status);
    }
    void this.refresh();
  }

  /** Word the countdowns again (no call to the app). */
  tick(): void {
    if (this.status && !this.unlock) this.render(this.status);
    this.dialog.tick();
  }

  private pending = false;
  async refresh(): Promise<void> {
    if (this.pending) return;
    this.pending = true;
    try {
      const lock = await api.lockState();
      if (lock) {
        if (!this.unlock) {
          this.unlock = new UnlockPage(() => void this.refresh());
          this.header.replaceChildren(h("h1", { text: strings.appName }), h("p", { class: "tagline", text: strings.tagline }));
          this.body.replaceChildren(this.unlock.node);
        }
        this.unlock.update(lock);
        return;
      }
      if (this.unlock) {
        this.unlock = null;
        this.body.replaceChildren();
      }
      this.status = await api.status();
      this.render(this.status);
    } catch (error) {
      this.showError(error);
    } finally {
      this.pending = false;
    }
  }
}

const root = document.getElementById("app");
if (root && (window as unknown as { __TAURI_INTERNALS__?: unknown }).__TAURI_INTERNALS__) {
  const app = new App(root);
  void app.refresh();
  onStatus(app.patch).catch((e) => app.showError(e));
  onApprovals(app.approvals).catch((e) => app.showError(e));
  onNavigate((page) => app.navigate(page)).catch((e) => app.showError(e));
  onUpdateAvailable(app.updateAvailable).catch((e) => app.showError(e));
  api.approvals().then(app.approvals).catch(() => {});
  // Countdowns (QR codes, retries, approvals) are worded from the clock.
  setInterval(() => app.tick(), 1000);
}
