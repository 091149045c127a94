// The one module that talks to the Rust side.
import { invoke } from "@tauri-apps/api/core";

export interface AppStatus {
  version: string;
  data_dir: string;
  messages: number;
  chats: number;
  database_bytes: number;
}

export function appStatus(): Promise<AppStatus> {
  return invoke<AppStatus>("app_status");
}
