import { appStatus, onEngineEvent } from "./ipc";
import { renderError, renderShell, renderStatus } from "./view";

const root = document.getElementById("app");
if (root) {
  const body = renderShell(root);
  let pending = false;
  const refresh = () => {
    if (pending) return;
    pending = true;
    appStatus()
      .then((status) => renderStatus(body, status))
      .catch((error) => renderError(body, error))
      .finally(() => {
        pending = false;
      });
  };
  refresh();
  onEngineEvent(refresh).catch((error) => renderError(body, error));
  // Countdowns (QR codes, retries) are worded from the clock: refresh them.
  setInterval(refresh, 1000);
}
