// Sends waiting for the person: a dialog over any page, and the list on the Safety page.
import { h, run, secondsUntil } from "./dom";
import { api, type PendingApproval } from "./ipc";
import { strings } from "./strings";

/** How long a card must stay as it is before Approve can be pressed: a card
 * that just appeared, or moved because another was withdrawn, is never
 * approved by a click meant for something else. */
export const ARM_MS = 1500;

function card(p: PendingApproval, out: HTMLElement): HTMLElement {
  const approve = h("button", { class: "primary approve", text: strings.approve, disabled: true }) as HTMLButtonElement;
  const deny = h("button", { class: "deny", text: strings.deny }) as HTMLButtonElement;
  approve.addEventListener("click", () => run(approve, out, () => api.answerApproval(p.id, true)));
  deny.addEventListener("click", () => run(deny, out, () => api.answerApproval(p.id, false)));
  // Shown as text, never as markup: it may contain anything.
  const content = h("pre", { class: "content", tabindex: 0, text: p.content });
  // Approve needs the card still for a moment and, when the text is longer
  // than its box, the text read to its end (scrolled): all of it is seen.
  let still = false;
  let readToEnd = true;
  const scrollHint = h("p", { class: "note scroll-hint", hidden: true, text: strings.approvalScroll });
  const arm = () => {
    approve.disabled = !(still && readToEnd);
    scrollHint.hidden = readToEnd;
  };
  setTimeout(() => {
    still = true;
    readToEnd = content.scrollHeight <= content.clientHeight + 2;
    arm();
  }, ARM_MS);
  content.addEventListener("scroll", () => {
    if (content.scrollTop + content.clientHeight >= content.scrollHeight - 2) {
      readToEnd = true;
      arm();
    }
  });
  return h(
    "article",
    { class: "approval", "data-id": p.id },
    h("p", { text: strings.approvalWho(p.client) }),
    h("p", { text: strings.approvalWhat(p.tool) }),
    h("p", { class: "to", text: strings.approvalTo(p.recipient, p.recipient_name ?? null, p.local) }),
    p.local ? h("p", { class: "local note", text: strings.approvalLocal }) : null,
    // What the act concerns (third-party text, shown as text): not sent.
    p.context ? h("p", { class: "context note", text: p.context }) : null,
    h("p", { text: strings.approvalContent([...p.content].length, p.local) }),
    content,
    // A picture of an image to send, made by the app from the bytes that will be sent.
    p.preview?.startsWith("data:image/png;base64,") ? h("img", { class: "preview", src: p.preview, alt: strings.approvalPreview }) : null,
    scrollHint,
    h("p", { class: "note expires", text: strings.approvalExpires(secondsUntil(p.expires_at)) }),
    h("div", { class: "actions" }, deny, approve),
  );
}

export function approvalsList(): { node: HTMLElement; refresh(): void; show(p: PendingApproval[]): void } {
  const node = h("div", { class: "approvals" });
  const out = h("p", { class: "note" });
  let key: string | null = null;
  const show = (pending: PendingApproval[]) => {
    const next = pending.map((p) => p.id).join(",");
    if (next === key) {
      node.querySelectorAll<HTMLElement>(".approval").forEach((el) => {
        const p = pending.find((x) => String(x.id) === el.dataset.id);
        const line = el.querySelector(".expires");
        if (p && line) line.textContent = strings.approvalExpires(secondsUntil(p.expires_at));
      });
      return;
    }
    key = next;
    node.replaceChildren(...(pending.length ? pending.map((p) => card(p, out)) : [h("p", { class: "note", text: strings.noPending })]), out);
  };
  return {
    node,
    show,
    refresh() {
      api.approvals().then(show).catch((e) => (out.textContent = String(e)));
    },
  };
}

/** The dialog: opens when a request arrives, closes when none is left. */
export class ApprovalDialog {
  readonly node = h("dialog", { id: "approval-dialog", "aria-labelledby": "approval-title" }) as HTMLDialogElement;
  private items = approvalsList();

  constructor() {
    this.node.append(h("h2", { id: "approval-title", text: strings.approvalTitle }), this.items.node);
    // Escape means "not now", never "yes": the request waits or times out.
  }

  private last: PendingApproval[] = [];

  show(pending: PendingApproval[]): void {
    this.last = pending;
    this.items.show(pending);
    if (pending.length && !this.node.open) {
      if (typeof this.node.showModal === "function") this.node.showModal();
      else this.node.setAttribute("open", "");
      this.node.querySelector<HTMLButtonElement>(".deny")?.focus();
    } else if (!pending.length && this.node.open) {
      if (typeof this.node.close === "function") this.node.close();
      else this.node.removeAttribute("open");
    }
  }

  /** Word the time left again (the list itself comes from the app's events). */
  tick(): void {
    if (this.last.length) this.items.show(this.last);
  }
}
