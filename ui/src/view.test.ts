import { describe, expect, it } from "vitest";
import { formatBytes, strings } from "./strings";
import { renderError, renderShell, renderStatus } from "./view";

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
    renderStatus(body, { version: "1.2.3", data_dir: "/tmp/x", messages: 1234, chats: 5, database_bytes: 2048 });
    expect(body.textContent).toContain(strings.messagesStored(1234));
    expect(body.textContent).toContain("2.0 KB");
    expect(body.textContent).toContain("v1.2.3");
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
