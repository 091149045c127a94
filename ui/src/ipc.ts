// The one module that talks to the Rust side.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

export interface SyncProgress {
  messages: number;
  chats: number;
  percent: number | null;
  rate: number;
  eta_secs: number | null;
  elapsed_secs: number;
}

export interface AppStatus {
  version: string;
  data_dir: string;
  demo: boolean;
  /** The engine's state; `state.state` names it (unlinked, showing_qr, connected, ...). */
  state: { state: string; [key: string]: unknown };
  state_text: string;
  needs_attention: boolean;
  progress: SyncProgress;
  messages: number;
  chats: number;
  database_bytes: number;
}

/** Call `changed` whenever the engine reports something (state, progress, jobs). */
export function onEngineEvent(changed: () => void): Promise<() => void> {
  return listen("engine", () => changed());
}

export function appStatus(): Promise<AppStatus> {
  return invoke<AppStatus>("app_status");
}
