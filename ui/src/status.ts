// The window's copy of the app's status: asked for once (and after the
// person changes a setting), then kept current by the `status` events the app
// pushes (what changed: the state with its QR code, progress, a job, the
// archive's counts). Countdowns are worded here from the clock, so nothing is
// asked of the app to tell the seconds.
import type { AppStatus, EngineState, SyncJob } from "./ipc";
import { strings } from "./strings";

/** What changed, as the app pushes it (see wa_app::status::StatusPatch). */
export type StatusPatch = Partial<Omit<AppStatus, "jobs">> & { job?: SyncJob };

const OPEN: ReadonlyArray<SyncJob["state"]> = ["queued", "running", "paused"];

/** `status` with `patch` applied: fields replaced, and a changed job put in
 * its place among the open ones (or dropped once it ended). */
export function applyPatch(status: AppStatus, patch: StatusPatch): AppStatus {
  const { job, ...fields } = patch;
  const next: AppStatus = { ...status, ...fields };
  if (job) {
    const others = status.jobs.filter((j) => j.id !== job.id);
    next.jobs = OPEN.includes(job.state) ? [...others, job].sort((a, b) => a.id - b.id) : others;
  }
  return next;
}

/** A time left, as people read it: seconds under two minutes, then minutes, then hours. */
export function human(ms: number): string {
  const secs = Math.ceil(Math.max(0, ms) / 1000);
  if (secs < 120) return `${secs} s`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min`;
  const minutes = Math.floor(secs / 60) % 60;
  return minutes === 0 ? `${Math.floor(secs / 3600)} h` : `${Math.floor(secs / 3600)} h ${minutes} min`;
}

/** The sentence after the state's own words that counts down, if it has one. */
export function countdown(state: EngineState, now = Date.now()): string | null {
  const at = (key: string) => (typeof state[key] === "number" ? (state[key] as number) : null);
  switch (state.state) {
    case "showing_qr": {
      const expires = at("expires_at");
      return expires === null ? null : strings.countdown.qr(human(expires - now));
    }
    case "showing_code": {
      const expires = at("expires_at");
      return expires === null ? null : strings.countdown.code(human(expires - now));
    }
    case "reconnecting": {
      const next = at("next_try");
      const attempt = at("attempt");
      return next === null || !attempt ? null : strings.countdown.retry(human(next - now), attempt);
    }
    case "temporarily_banned": {
      const until = at("until");
      return until === null ? null : strings.countdown.banned(human(until - now));
    }
    default:
      return null;
  }
}

/** The state in words, its countdown worded now. */
export function stateText(status: AppStatus, now = Date.now()): string {
  const left = countdown(status.state, now);
  return left ? `${status.state_text} ${left}` : status.state_text;
}
