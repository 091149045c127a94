// The unlock page: shown instead of everything else while the app waits for
// its passphrase (this computer has no keychain to keep the archive's key).
// A new archive: choose a passphrase (typed twice) or choose not to encrypt.
// An encrypted one: type its passphrase. The passphrase is never stored.
import { h, run } from "./dom";
import { api, type LockInfo } from "./ipc";
import { strings } from "./strings";

export class UnlockPage {
  readonly node: HTMLElement;
  private mode: "choose" | "unlock" | null = null;
  private readonly title = h("h2", { id: "unlock-title" });
  private readonly intro = h("p", { id: "unlock-intro" });
  private readonly passphrase = h("input", {
    id: "passphrase",
    type: "password",
    autocomplete: "current-password",
    "aria-label": strings.passphraseLabel,
  }) as HTMLInputElement;
  private readonly again = h("input", {
    id: "passphrase-again",
    type: "password",
    autocomplete: "new-password",
    "aria-label": strings.passphraseAgainLabel,
  }) as HTMLInputElement;
  private readonly againLabel = h("label", { for: "passphrase-again", text: strings.passphraseAgainLabel });
  private readonly submit = h("button", { id: "unlock", class: "primary", type: "submit" }) as HTMLButtonElement;
  private readonly out = h("p", { id: "unlock-out", role: "alert" });
  private readonly optOut: HTMLElement;
  private readonly why = h("p", { class: "note", id: "unlock-why" });

  constructor(private readonly unlocked: () => void) {
    const form = h(
      "form",
      { id: "unlock-form", class: "panel" },
      h("label", { for: "passphrase", text: strings.passphraseLabel }),
      this.passphrase,
      this.againLabel,
      this.again,
      this.submit,
      this.out,
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.unlock();
    });
    const dontEncrypt = h("button", { id: "dont-encrypt", type: "button", text: strings.dontEncrypt }) as HTMLButtonElement;
    const confirm = h("button", { id: "dont-encrypt-confirm", type: "button", class: "danger", text: strings.dontEncryptConfirm, hidden: true }) as HTMLButtonElement;
    const optOutOut = h("p", { id: "dont-encrypt-out", role: "alert" });
    dontEncrypt.addEventListener("click", () => {
      confirm.hidden = false;
      optOutOut.textContent = strings.dontEncryptWarning;
      optOutOut.className = "confirm";
    });
    confirm.addEventListener("click", () =>
      run(confirm, optOutOut, async () => {
        await api.unlock(null, false);
        this.unlocked();
      }),
    );
    this.optOut = h("div", { id: "opt-out", class: "panel" }, h("h3", { text: strings.dontEncryptTitle }), h("p", { text: strings.dontEncryptText }), dontEncrypt, confirm, optOutOut);
    this.node = h("section", { id: "unlock-page", class: "page" }, this.title, this.intro, form, this.optOut, this.why);
  }

  update(info: LockInfo): void {
    const mode = info.encrypted ? "unlock" : "choose";
    this.why.textContent = strings.unlockWhy(info.why);
    if (mode === this.mode) return;
    this.mode = mode;
    const choosing = mode === "choose";
    this.title.textContent = choosing ? strings.choosePassphraseTitle : strings.unlockTitle;
    this.intro.textContent = choosing ? strings.choosePassphraseIntro : strings.unlockIntro;
    this.passphrase.autocomplete = choosing ? "new-password" : "current-password";
    this.again.hidden = !choosing;
    this.againLabel.hidden = !choosing;
    this.optOut.hidden = !choosing;
    this.submit.textContent = choosing ? strings.encryptWithPassphrase : strings.unlockButton;
    this.passphrase.focus();
  }

  private unlock(): void {
    if (this.mode === "choose" && this.passphrase.value !== this.again.value) {
      this.out.textContent = strings.passphrasesDiffer;
      this.out.className = "error";
      return;
    }
    this.out.textContent = strings.unlocking;
    this.out.className = "note";
    void run(this.submit, this.out, async () => {
      await api.unlock(this.passphrase.value, true);
      this.passphrase.value = "";
      this.again.value = "";
      this.unlocked();
    });
  }
}
