import { describe, expect, it } from "vitest";
import { formatBytes, strings } from "./strings";
import type { AppStatus } from "./ipc";
import { renderError, renderShell, renderStatus } from "./view";

function status(over: Partial<AppStatus>): AppStatus {
  return {
    version: "1.2.3",
    data_dir: "/tmp/x",
    demo: false,
    state: { state: "connected", since: 0 },
    state_text: "Connected to WhatsApp.",
    needs_attention: false,
    progress: { messages: 0, chats: 0, percent: null, rate: 0, eta_secs: null, elapsed_secs: 0 },
    messages: 1234,
    chats: 5,
    database_bytes: 2048,
    ...over,
  };
}

describe("status page", () => {
  it("shows the app name and a loading state first", () => {
    const root = document.createElement("main");
    const body = renderShell(root);
    expect(root.querySelector("h1")?.textContent).toBe(strings.appName);
    expect(body.textContent).toBe(strings.loading);
  });

  it("shows counts from the app", () => {
    const root = document.createElement("main");
    const body = renderShell(root);
    renderStatus(body, status({}));
    expect(body.textContent).toContain(strings.messagesStored(1234));
    expect(body.textContent).toContain("2.0 KB");
    expect(body.textContent).toContain("v1.2.3");
    expect(body.querySelector("#engine-state")?.textContent).toBe("Connected to WhatsApp.");
    expect(body.querySelector(".demo")).toBeNull();
  });

  it("labels demo mode and shows the engine's words and progress", () => {
    const root = document.createElement("main");
    const body = renderShell(root);
    renderStatus(
      body,
      status({
        demo: true,
        state: { state: "logged_out", reason: "removed_from_phone" },
        state_text: "This computer was unlinked from your phone.",
        needs_attention: true,
        progress: { messages: 5000, chats: 12, percent: 40, rate: 100, eta_secs: 60, elapsed_secs: 40 },
      }),
    );
    expect(body.querySelector(".demo .badge")?.textContent).toBe(strings.demoBadge);
    const state = body.querySelector<HTMLElement>("#engine-state");
    expect(state?.classList.contains("attention")).toBe(true);
    expect(state?.dataset.state).toBe("logged_out");
    expect(body.querySelector(".progress")?.textContent).toContain("40%");
  });

  it("shows errors in words", () => {
    const root = document.createElement("main");
    const body = renderShell(root);
    renderError(body, "The disk is full.");
    expect(body.querySelector(".error")?.textContent).toContain("The disk is full.");
  });

  it("formats sizes", () => {
    expect(formatBytes(512)).toBe("512 bytes");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MB");
  });
});
