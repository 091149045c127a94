import { strings } from "./strings";
import type { AppStatus } from "./ipc";

function el(tag: string, text?: string, className?: string): HTMLElement {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function renderShell(root: HTMLElement): HTMLElement {
  root.replaceChildren();
  const header = el("header");
  header.append(el("h1", strings.appName), el("p", strings.tagline, "tagline"));
  const status = el("section", undefined, "card");
  status.setAttribute("aria-labelledby", "status-heading");
  const heading = el("h2", strings.statusHeading);
  heading.id = "status-heading";
  const body = el("div", strings.loading);
  body.id = "status-body";
  status.append(heading, body);
  root.append(header, status, el("p", strings.privacy, "privacy"));
  return body;
}

export function renderStatus(body: HTMLElement, status: AppStatus): void {
  const list = el("ul");
  list.append(
    el("li", strings.messagesStored(status.messages)),
    el("li", strings.chatsStored(status.chats)),
    el("li", strings.databaseSize(status.database_bytes)),
    el("li", strings.dataFolder(status.data_dir)),
  );
  const state = el("p", status.state_text, status.needs_attention ? "state attention" : "state");
  state.id = "engine-state";
  state.dataset.state = status.state.state;
  const parts: HTMLElement[] = [];
  if (status.demo) {
    const demo = el("p", undefined, "demo");
    demo.append(el("strong", strings.demoBadge, "badge"), document.createTextNode(` ${strings.demoExplained}`));
    parts.push(demo);
  }
  parts.push(state);
  if (status.progress.messages > 0) {
    parts.push(el("p", strings.syncing(status.progress), "progress"));
  }
  body.replaceChildren(...parts, list, el("p", `v${status.version}`, "version"));
}

export function renderError(body: HTMLElement, error: unknown): void {
  body.replaceChildren(el("p", `${strings.errorPrefix} ${String(error)}`, "error"));
}
