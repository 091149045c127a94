import { appStatus } from "./ipc";
import { renderError, renderShell, renderStatus } from "./view";

const root = document.getElementById("app");
if (root) {
  const body = renderShell(root);
  appStatus()
    .then((status) => renderStatus(body, status))
    .catch((error) => renderError(body, error));
}
