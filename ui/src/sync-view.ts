// History progress and sync jobs: shared by the wizard and the Sync page.
import { h, run, setText } from "./dom";
import { api, type AppStatus, type SyncJob } from "./ipc";
import { strings } from "./strings";
import { stateText } from "./status";

export function progressView(): { node: HTMLElement; update(status: AppStatus): void } {
  const bar = h("progress", { id: "sync-progress", max: 100, "aria-label": strings.syncTitle }) as HTMLProgressElement;
  const counts = h("p", { id: "sync-counts" });
  const detail = h("p", { class: "note", id: "sync-detail" });
  const node = h("div", { class: "progress" }, bar, counts, detail);
  return {
    node,
    update(status) {
      const p = status.progress;
      if (p.percent === null) bar.removeAttribute("value");
      else bar.value = p.percent;
      bar.dataset.percent = p.percent === null ? "" : String(p.percent);
      const running = status.jobs.some((j) => j.state === "running");
      if (p.messages === 0 && p.percent === null && !running) {
        setText(counts, status.state.state === "connected" ? strings.syncWaiting : stateText(status));
        setText(detail, "");
        return;
      }
      setText(counts, (p.percent === null ? "" : `${p.percent}% — `) + strings.syncCounts(p));
      const parts: string[] = [];
      if (p.percent === 100) parts.push(strings.syncDone);
      else {
        if (p.rate > 0) parts.push(strings.syncRate(p.rate));
        if (p.eta_secs !== null) parts.push(strings.syncEta(p.eta_secs));
      }
      setText(detail, parts.join(" · "));
    },
  };
}

function jobRow(job: SyncJob, out: HTMLElement): HTMLElement {
  const kind = strings.jobKinds[job.kind] ?? job.kind;
  const line = strings.jobLine(kind, strings.jobStates[job.state] ?? job.state, job.messages_done);
  const row = h("li", { "data-job": job.id, "data-state": job.state }, h("span", { text: line }));
  const button = (label: string, command: "pause" | "resume" | "cancel") => {
    const b = h("button", { class: `job-${command}`, text: label }) as HTMLButtonElement;
    b.addEventListener("click", () => run(b, out, () => api.controlSync(job.id, command)));
    return b;
  };
  if (job.state === "paused") row.append(button(strings.resume, "resume"));
  else row.append(button(strings.pause, "pause"));
  row.append(button(strings.cancel, "cancel"));
  if (job.last_error) row.append(h("p", { class: "attention", text: job.last_error }));
  return row;
}

export function jobsView(out: HTMLElement): { node: HTMLElement; update(status: AppStatus): void } {
  const node = h("ul", { class: "jobs", id: "jobs" });
  let shown = "";
  return {
    node,
    update(status) {
      // Rows are rebuilt only when jobs come, go or change state; counts update
      // in place, so a button never moves under the pointer as messages arrive.
      const key = JSON.stringify(status.jobs.map((j) => [j.id, j.state, j.last_error]));
      if (key !== shown) {
        shown = key;
        node.replaceChildren(...status.jobs.map((j) => jobRow(j, out)));
        return;
      }
      for (const job of status.jobs) {
        const line = node.querySelector<HTMLElement>(`li[data-job="${job.id}"] span`);
        const kind = strings.jobKinds[job.kind] ?? job.kind;
        if (line) setText(line, strings.jobLine(kind, strings.jobStates[job.state] ?? job.state, job.messages_done));
      }
    },
  };
}
