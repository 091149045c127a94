// A tiny DOM helper: elements with attributes, handlers and children. The UI
// uses no framework (see docs/ARCHITECTURE.md): a handful of pages, each built
// once and updated in place, so typed input is never thrown away.

type Attr = string | number | boolean | null | undefined | ((e: Event) => void);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, Attr> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") node.addEventListener(key.replace(/^on/, ""), value);
    else if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = String(value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

export function list(items: string[], ordered = false): HTMLElement {
  const node = h(ordered ? "ol" : "ul");
  for (const item of items) node.append(h("li", { text: item }));
  return node;
}

/** Replace `node`'s text only when it changed (keeps screen readers calm). */
export function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** Seconds until `at` (Unix ms), never negative. */
export function secondsUntil(at: number | undefined, now = Date.now()): number {
  return at ? Math.max(0, Math.round((at - now) / 1000)) : 0;
}

/** Run an action from a button: disabled while it runs, errors shown in `out`. */
export async function run(button: HTMLButtonElement | null, out: HTMLElement | null, action: () => Promise<unknown>) {
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    if (out) {
      out.textContent = String(error);
      out.className = "error";
    }
  } finally {
    if (button) button.disabled = false;
  }
}

/** A labelled group of radio buttons; ids are `${prefix}-${value}`. */
export function radioGroup(
  id: string,
  legend: string,
  prefix: string,
  choices: [value: string, label: string][],
  checked?: string,
): HTMLFieldSetElement {
  const group = h("fieldset", { id }, h("legend", { text: legend }));
  for (const [value, label] of choices) {
    group.append(
      h(
        "div",
        {},
        h("input", { type: "radio", name: prefix, id: `${prefix}-${value}`, value, checked: value === checked }),
        h("label", { for: `${prefix}-${value}`, text: label }),
      ),
    );
  }
  return group;
}
