#!/usr/bin/python3
"""End-to-end smoke test of the real app in a real X display (Xvfb) and D-Bus session.

Run inside `dbus-run-session -- xvfb-run -a`, with Debian's python3 (it needs
python3-gi):

    /usr/bin/python3 tests/app_smoke.py path/to/whatsapp-mcp-desktop

The test plays the desktop's tray host: it owns org.kde.StatusNotifierWatcher,
the D-Bus service through which Linux panels learn about tray icons, so it can
check that the app's tray icon registers and that its menu holds what a person
needs (Open first, a status line, Quit). It then finds the app's window, takes a
screenshot (artifacts/app-window.png) and checks that the page rendered, and that
the data folder, the archive and WhatsApp's session file are the user's alone.
Then it runs `--demo` (artifacts/app-demo.png): the simulated phone links by
itself, the tray says "Demo: Connected", and history lands in the demo archive
while the real one stays untouched; the test also plays the notification
server and checks "linked" and "history ready" are announced, the tray menu's
sync and settings items, the tray icon's state, and that a second launch hands
over to the running copy. Last, secrets (artifacts/app-secrets.log): at DEBUG,
in keychain mode, with a second start held up by another program, neither the
archive key nor a key of WhatsApp's session file reaches a log or the report.
"""

import base64
import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

from gi.repository import Gio, GLib
from checks import check, finish
import archive

WATCHER_XML = """
<node>
  <interface name="org.kde.StatusNotifierWatcher">
    <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
  </interface>
</node>
"""

NOTIFICATIONS_XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/><arg type="u" direction="out"/>
    </method>
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/><arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
  </interface>
</node>
"""





class Watcher:
    """A minimal StatusNotifierWatcher that records registered items."""

    def __init__(self, bus):
        self.items = []
        info = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML).interfaces[0]
        bus.register_object("/StatusNotifierWatcher", info, self.on_call, self.on_get_property, None)
        Gio.bus_own_name_on_connection(bus, "org.kde.StatusNotifierWatcher", Gio.BusNameOwnerFlags.NONE, None, None)

    def on_call(self, conn, sender, path, iface, method, params, invocation):
        if method == "RegisterStatusNotifierItem":
            service = params.unpack()[0]
            # Items register either a bus name or an object path on their own connection.
            if service.startswith("/"):
                self.items.append((sender, service))
            else:
                self.items.append((service, "/StatusNotifierItem"))
        invocation.return_value(None)

    def on_get_property(self, conn, sender, path, iface, prop):
        if prop == "RegisteredStatusNotifierItems":
            return GLib.Variant("as", [f"{s}{p}" for s, p in self.items])
        if prop == "IsStatusNotifierHostRegistered":
            return GLib.Variant("b", True)
        return GLib.Variant("i", 0)


class Notifications:
    """A minimal desktop notification server that records what it was asked to show."""

    def __init__(self, bus):
        self.shown = []
        info = Gio.DBusNodeInfo.new_for_xml(NOTIFICATIONS_XML).interfaces[0]
        bus.register_object("/org/freedesktop/Notifications", info, self.on_call, None, None)
        Gio.bus_own_name_on_connection(bus, "org.freedesktop.Notifications", Gio.BusNameOwnerFlags.NONE, None, None)

    def on_call(self, conn, sender, path, iface, method, params, invocation):
        if method == "Notify":
            args = params.unpack()
            self.shown.append((args[3], args[4]))
            invocation.return_value(GLib.Variant("(u)", (len(self.shown),)))
        elif method == "GetCapabilities":
            invocation.return_value(GLib.Variant("(as)", (["body"],)))
        elif method == "GetServerInformation":
            invocation.return_value(GLib.Variant("(ssss)", ("smoke", "test", "1", "1.2")))
        else:
            invocation.return_value(None)


def pump_until(predicate, seconds):
    context = GLib.MainContext.default()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        while context.pending():
            context.iteration(False)
        if predicate():
            return True
        time.sleep(0.05)
    return False


def menu_labels(layout):
    """Labels of a com.canonical.dbusmenu layout, depth first."""
    _id, props, children = layout
    labels = [props["label"]] if "label" in props else []
    for child in children:
        labels.extend(menu_labels(child))
    return labels


def tray_labels(bus, item):
    service, path = item
    props = bus.call_sync(service, path, "org.freedesktop.DBus.Properties", "GetAll",
                          GLib.Variant("(s)", ("org.kde.StatusNotifierItem",)),
                          GLib.VariantType("(a{sv})"), Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
    layout = bus.call_sync(service, props.get("Menu"), "com.canonical.dbusmenu", "GetLayout",
                           GLib.Variant("(iias)", (0, -1, [])), None, Gio.DBusCallFlags.NONE,
                           5000, None).unpack()[1]
    return props, [label.replace("_", "") for label in menu_labels(layout)]


def screenshot(artifacts, name):
    shot = os.path.join(artifacts, name)
    subprocess.run(["import", "-window", "root", shot], check=True, timeout=30)
    colors = subprocess.run(["convert", shot, "-format", "%k", "info:"], capture_output=True, text=True,
                            timeout=30).stdout.strip()
    return colors


def stored_messages(db):
    """Messages in the app's encrypted archive, read the way another program
    would: SQLCipher's Python binding with the key from the keychain (read-only).
    WAMCP_PY is a Python that has sqlcipher3 (./dev's virtualenv)."""
    return archive.count_with(os.environ.get("WAMCP_PY", sys.executable), db, "keychain")


def start_app(app, artifacts, log_name, args, prepare=None, **extra_env):
    home = tempfile.mkdtemp(prefix="wamcp-smoke-")
    data_dir = os.path.join(home, "data")
    if prepare:
        prepare(data_dir)
    # A socket of its own, so a copy of the app the developer runs is not disturbed.
    env = dict(os.environ, WHATSAPP_MCP_DATA_DIR=data_dir, HOME=home, WHATSAPP_MCP_LOG="info",
               WHATSAPP_MCP_SOCKET=os.path.join(home, "run", "app.sock"))
    env.update(extra_env)
    log = open(os.path.join(artifacts, log_name), "w")
    proc = subprocess.Popen([app, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    return home, data_dir, log, proc


def stop_app(home, log, proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(home, ignore_errors=True)


def real_account_run(app, artifacts, bus, watcher):
    """The app as a new user starts it: no account linked, no network to WhatsApp here."""
    home, data_dir, log, proc = start_app(app, artifacts, "app-smoke.log", [])
    try:
        registered = pump_until(lambda: watcher.items, 60)
        check("tray icon registers with the tray host", registered, "(no RegisterStatusNotifierItem in 60 s)")
        if registered:
            props, labels = tray_labels(bus, watcher.items[-1])
            check("tray item is active", props.get("Status") == "Active", str(props.get("Status")))
            check("tray item has an icon", bool(props.get("IconName")), str(props.get("IconName")))
            check("tray menu starts with Open", bool(labels) and labels[0].startswith("Open"), str(labels))
            check("tray menu has Quit", "Quit" in labels, str(labels))
            check("tray menu has a status line", len(labels) >= 3 and labels[1] not in ("", "Quit"), str(labels))

        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "WhatsApp MCP Desktop"],
                               capture_output=True, text=True, timeout=60)
        window_ids = found.stdout.split()
        check("the window is shown", bool(window_ids), found.stderr)
        time.sleep(3)  # let the page load and ask the app for its status
        colors = screenshot(artifacts, "app-window.png")
        check("the page rendered (text and colours on screen)", colors.isdigit() and int(colors) > 50,
              f"unique colours: {colors}")
        if window_ids:
            title = subprocess.run(["xdotool", "getwindowname", window_ids[0]], capture_output=True,
                                   text=True).stdout.strip()
            check("the window is titled after the product", title == "WhatsApp MCP Desktop", title)
        db = os.path.join(data_dir, "messages.db")
        session = os.path.join(data_dir, "whatsapp-session.db")
        check("the database was created", os.path.exists(db))
        check("WhatsApp's session file was created beside it", os.path.exists(session))
        if os.path.exists(db):
            check("the data folder is the user's alone", stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700,
                  oct(os.stat(data_dir).st_mode))
            for path in (db, session):
                if os.path.exists(path):
                    check(f"{os.path.basename(path)} is the user's alone",
                          stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode))
        if registered:
            # No WhatsApp account and (here) no route to WhatsApp: the tray must say
            # what is wrong in words, not sit on "Starting" (the old bridges' silence).
            item = watcher.items[-1]
            told = pump_until(lambda: any(l.startswith(("Can't reach WhatsApp", "Scan the QR code"))
                                          for l in tray_labels(bus, item)[1]), 45)
            check("without a route to WhatsApp the tray says why", told, str(tray_labels(bus, item)[1]))
        check("the app is still running", proc.poll() is None, f"exit code {proc.poll()}")
    finally:
        stop_app(home, log, proc)


def demo_run(app, artifacts, bus, watcher, notifications):
    """`--demo`: the simulated account links itself and its history lands, labelled Demo."""
    before = len(watcher.items)
    home, data_dir, log, proc = start_app(app, artifacts, "app-demo.log", ["--demo"])
    try:
        registered = pump_until(lambda: len(watcher.items) > before, 60)
        check("demo: tray icon registers", registered)
        if not registered:
            return
        item = watcher.items[-1]
        first_props, labels = tray_labels(bus, item)
        first_icon = first_props.get("IconName")
        check("demo: the tray says Demo", any(label.startswith("Demo") for label in labels), str(labels))
        connected = pump_until(lambda: any(l.startswith("Demo: Connected") for l in tray_labels(bus, item)[1]), 60)
        check("demo: the simulated phone links by itself and the tray says so", connected,
              str(tray_labels(bus, item)[1]))
        db = os.path.join(data_dir, "demo", "messages.db")
        synced = pump_until(lambda: stored_messages(db) > 1000, 90)
        check("demo: history lands in the demo archive", synced, f"{stored_messages(db)} messages")
        check("demo: the real archive is untouched", not os.path.exists(os.path.join(data_dir, "messages.db")))
        key = archive.keychain_key() or ""
        check("encryption: the archive's key is in the system keychain (Secret Service), 256 random bits",
              len(key) == 64 and len(set(key)) > 4, f"{len(key)} characters")
        with open(db, "rb") as f:
            head = f.read(4096)
        check("encryption: the archive on disk is not plain SQLite", len(head) == 4096
              and not head.startswith(b"SQLite format 3"), repr(head[:16]))
        check("encryption: another key reads nothing from it (control for the count above)",
              archive.count_with(os.environ.get("WAMCP_PY", sys.executable), db, "x:" + "0" * 64) == 0)
        summaries = lambda: [title for title, _body in notifications.shown]  # noqa: E731
        check("demo: a notification says WhatsApp is linked",
              pump_until(lambda: "WhatsApp is linked" in summaries(), 30), str(notifications.shown))
        check("demo: a notification says the history is ready",
              pump_until(lambda: "Your WhatsApp history is ready" in summaries(), 90), str(notifications.shown))
        props, labels = tray_labels(bus, item)
        check("demo: the tray menu has Pause sync, Connect assistants…, Settings and Check for updates…",
              {"Connect assistants…", "Settings", "Check for updates…"} <= set(labels)
              and any(label in ("Pause sync", "Resume sync") for label in labels), str(labels))
        check("demo: the tray icon shows the state (no longer the plain starting icon)",
              "tray-" in str(props.get("IconName")) or props.get("IconName") != first_icon,
              f"{first_icon} -> {props.get('IconName')}")
        # A second launch brings the running copy forward and ends; it does not start another.
        env = dict(os.environ, WHATSAPP_MCP_DATA_DIR=data_dir, HOME=home,
                   WHATSAPP_MCP_SOCKET=os.path.join(home, "run", "app.sock"))
        second = subprocess.run([app, "--demo"], env=env, capture_output=True, text=True, timeout=60)
        check("demo: a second launch hands over to the running copy and ends", second.returncode == 0
              and proc.poll() is None, f"exit {second.returncode}: {second.stderr[-300:]}")
        # An assistant asks to send (raw JSON-RPC through the helper beside the app):
        # the person is told by a notification that a send waits for approval.
        helper = os.path.join(os.path.dirname(app), "whatsapp-mcp")
        if check("demo: the helper is installed beside the app", os.path.exists(helper), helper):
            asking = subprocess.Popen([helper], env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            lines = [
                {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "smoke", "version": "1"}}},
                {"jsonrpc": "2.0", "method": "notifications/initialized"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                    "name": "send_message", "arguments": {"recipient": "447700900001", "message": "hi"}}},
            ]
            asking.stdin.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
            asking.stdin.flush()
            told = pump_until(lambda: "An assistant is waiting for your approval" in
                              [title for title, _ in notifications.shown], 30)
            check("demo: a send waiting for approval is announced by a notification", told,
                  str(notifications.shown))
            asking.kill()
            asking.wait(10)
        subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "WhatsApp MCP Desktop"],
                       capture_output=True, text=True, timeout=60)
        time.sleep(2)
        colors = screenshot(artifacts, "app-demo.png")
        check("demo: the page rendered", colors.isdigit() and int(colors) > 50, f"unique colours: {colors}")
        check("demo: the app is still running", proc.poll() is None, f"exit code {proc.poll()}")
    finally:
        stop_app(home, log, proc)


def secrets_run(app, artifacts):
    """Secrets never reach a log or the report (issue 20). The app runs at DEBUG
    in keychain mode, twice: the second start waits for the archive, which
    another program holds (a slow start, when sqlx logs each slow statement,
    `PRAGMA key` included, at WARN). Neither the archive key nor any key in
    WhatsApp's session file is in the app's logs, its output, or the
    diagnostic report; the logs do hold the session (the control)."""
    py = os.environ.get("WAMCP_PY", sys.executable)
    helper = os.path.join(os.path.dirname(app), "whatsapp-mcp")
    home, data_dir, log, proc = start_app(app, artifacts, "app-secrets.log", [], WHATSAPP_MCP_LOG="debug")
    env = dict(os.environ, WHATSAPP_MCP_DATA_DIR=data_dir, HOME=home, WHATSAPP_MCP_LOG="debug",
               WHATSAPP_MCP_SOCKET=os.path.join(home, "run", "app.sock"))
    db = os.path.join(data_dir, "messages.db")
    session = os.path.join(data_dir, "whatsapp-session.db")
    holder = None
    app_log = os.path.join(data_dir, "logs", "app.log")

    def logged():
        try:
            with open(app_log, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    try:
        # The session at work: with no route to WhatsApp here, the engine says so.
        pump_until(lambda: "WhatsApp is unreachable" in logged(), 60)
        keys = pump_until(lambda: len(archive.secrets_with(py, session, "keychain")) >= 3, 60)
        session_keys = archive.secrets_with(py, session, "keychain")
        archive_key = archive.keychain_key() or ""
        check("secrets: the archive key is in the keychain and the session file holds its keys",
              keys and len(archive_key) == 64, f"{len(session_keys)} keys in the session")
        proc.terminate()
        proc.wait(15)
        # Another program holds the archive while the app starts again.
        holder = subprocess.Popen([py, archive.__file__, "hold", db, "keychain", "4"], stdout=subprocess.PIPE,
                                  text=True)
        held = holder.stdout.readline().strip() == "held"
        proc = subprocess.Popen([app], env=env, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(2)
        opened_while_held = logged().count("store opened")
        released = holder.stdout.readline().strip() == "released"
        holder.wait(10)
        opened = pump_until(lambda: logged().count("store opened") == 2, 60)
        pump_until(lambda: os.path.exists(os.path.join(home, "run", "app.sock")), 30)
        check("secrets: the app's second start waited for the archive another program held (a slow start)",
              held and released and opened_while_held == 1 and opened,
              f"held={held} released={released} opened while held={opened_while_held - 1}")
        report = subprocess.run([helper, "doctor", "--bundle"], env=env, capture_output=True, text=True, timeout=60)
        found = re.search(r"Written to (\S+\.txt)\.", report.stdout)
        bundle = open(found.group(1), encoding="utf-8").read() if found and os.path.exists(found.group(1)) else ""
        proc.terminate()
        proc.wait(15)
        log.flush()
        texts = {"report": bundle}
        for path in glob.glob(os.path.join(data_dir, "logs", "*.log")) + [log.name]:
            with open(path, encoding="utf-8", errors="replace") as f:
                texts[os.path.basename(path)] = f.read()
        written = "\n".join(texts.values())
        # The client library logs through `log`, which the app does not forward;
        # were it forwarded, its lines would be in these files and checked too.
        check("secrets: the logs hold both starts and the session at DEBUG, and the report was written (control)",
              " DEBUG " in texts.get("app.log", "") and texts.get("app.log", "").count("store opened") == 2
              and "WhatsApp is unreachable" in written and "Version:" in bundle,
              f"{sorted(texts)}; {len(written)} characters")
        forms = {archive_key, archive_key.upper()} | set(session_keys)
        for key in session_keys:
            raw = bytes.fromhex(key)
            forms |= {key.upper(), base64.b64encode(raw).decode(), str(list(raw))[1:-1]}
        leaked = sorted({name for name, text in texts.items() for form in forms if form and form in text})
        check(f"secrets: no key in any log or the report ({len(forms)} forms of {len(session_keys) + 1} keys)",
              archive_key and not leaked and "PRAGMA key" not in written, str(leaked))
        # The doctor's call above was answered: at DEBUG the MCP library would log its result in full.
        check("secrets: no tool result (message texts, names) is logged at DEBUG",
              "serve_inner" in written and "CallToolResult" not in written,
              next((line for line in written.splitlines() if "CallToolResult" in line), "")[:300])
    finally:
        if holder and holder.poll() is None:
            holder.kill()
        stop_app(home, log, proc)


def record_notifications(path):
    """`app_smoke.py --notifications FILE`: only be the desktop's notification
    server, appending each notification to FILE as a JSON line (the wizard's
    end-to-end test runs this beside the app, on the same session bus)."""
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    notifications = Notifications(bus)
    written = 0
    while True:
        pump_until(lambda: len(notifications.shown) > written, 1)
        with open(path, "a", encoding="utf-8") as out:
            for title, body in notifications.shown[written:]:
                out.write(json.dumps({"title": title, "body": body}) + "\n")
        written = len(notifications.shown)


def damaged_archive_run(app, artifacts, bus, watcher, notifications):
    """A damaged archive at start: set aside, rebuilt, and the person is told."""
    def damage(data_dir):
        demo = os.path.join(data_dir, "demo")
        os.makedirs(demo, mode=0o700)
        with open(os.path.join(demo, "messages.db"), "wb") as f:
            f.write(b"SQLite format 3\0" + os.urandom(64 * 1024))

    before = len(watcher.items)
    home, data_dir, log, proc = start_app(app, artifacts, "app-damaged.log", ["--demo"], prepare=damage)
    try:
        registered = pump_until(lambda: len(watcher.items) > before, 60)
        check("damaged archive: the app starts anyway (tray icon registers)", registered)
        summaries = lambda: [title for title, _body in notifications.shown]  # noqa: E731
        check("damaged archive: a notification says the archive was repaired",
              pump_until(lambda: "Your message archive was repaired" in summaries(), 30), str(notifications.shown))
        demo = os.path.join(data_dir, "demo")
        kept = [n for n in os.listdir(demo) if n.startswith("messages.damaged-")]
        check("damaged archive: the damaged file is kept aside", bool(kept), str(os.listdir(demo)))
        db = os.path.join(demo, "messages.db")
        check("damaged archive: history lands in the rebuilt archive",
              pump_until(lambda: stored_messages(db) > 100, 90), f"{stored_messages(db)} messages")
    finally:
        stop_app(home, log, proc)


def locked_run(app, artifacts, bus, watcher):
    """No keychain (turned off here): the app waits for its passphrase. The
    tray says so and the window shows, even for a start in the tray."""
    def visible_window():
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "WhatsApp MCP Desktop"],
                               capture_output=True, text=True, timeout=10)
        return found.stdout.split()

    before = len(watcher.items)
    home, data_dir, log, proc = start_app(app, artifacts, "app-locked.log", ["--demo", "--hidden"],
                                          WHATSAPP_MCP_KEYCHAIN="off")
    try:
        registered = pump_until(lambda: len(watcher.items) > before, 60)
        check("locked: the app starts (tray icon registers)", registered)
        if registered:
            item = watcher.items[-1]
            told = pump_until(lambda: any(label.startswith("Locked") for label in tray_labels(bus, item)[1]), 30)
            check("locked: the tray says it waits for the passphrase", told, str(tray_labels(bus, item)[1]))
        check("locked: the window shows even when started in the tray (it asks for the passphrase)",
              pump_until(visible_window, 30))
        check("locked: no archive is created before the passphrase",
              not os.path.exists(os.path.join(data_dir, "demo", "messages.db")))
        check("locked: the app is still running", proc.poll() is None, f"exit code {proc.poll()}")
    finally:
        stop_app(home, log, proc)


def main():
    if sys.argv[1] == "--notifications":
        record_notifications(sys.argv[2])
        return
    app = os.path.abspath(sys.argv[1])
    artifacts = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    check("a real keychain (GNOME Keyring's Secret Service) runs in this D-Bus session", archive.start_keyring())
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    watcher = Watcher(bus)
    notifications = Notifications(bus)
    pump_until(lambda: False, 0.5)

    real_account_run(app, artifacts, bus, watcher)
    demo_run(app, artifacts, bus, watcher, notifications)
    damaged_archive_run(app, artifacts, bus, watcher, notifications)
    locked_run(app, artifacts, bus, watcher)
    secrets_run(app, artifacts)

    bad = subprocess.run([app, "--no-such-option"], capture_output=True, text=True, timeout=30)
    check("an unknown option is refused in words", bad.returncode != 0 and "Unknown option" in bad.stderr,
          bad.stderr[-300:])

    finish("smoke")


if __name__ == "__main__":
    main()
