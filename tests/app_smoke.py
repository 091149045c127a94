#!/usr/bin/python3
"""End-to-end smoke test of the real app in a real X display (Xvfb) and D-Bus session.

Run inside `dbus-run-session -- xvfb-run -a`, with Debian's python3 (it needs
python3-gi):

    /usr/bin/python3 tests/app_smoke.py path/to/whatsapp-mcp-desktop

The test plays the desktop's tray host: it owns org.kde.StatusNotifierWatcher,
the D-Bus service through which Linux panels learn about tray icons, so it can
check that the app's tray icon registers and that its menu holds what a person
needs (Open first, Quit). It then finds the app's window, takes a screenshot
(artifacts/app-window.png) and checks that the page rendered, and that the data
folder was created for the user alone.
"""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

from gi.repository import Gio, GLib

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

results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        results["passed"] += 1
        print(f"ok   {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


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


def main():
    app = os.path.abspath(sys.argv[1])
    artifacts = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "artifacts")
    os.makedirs(artifacts, exist_ok=True)
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    watcher = Watcher(bus)
    pump_until(lambda: False, 0.5)

    home = tempfile.mkdtemp(prefix="wamcp-smoke-")
    data_dir = os.path.join(home, "data")
    env = dict(os.environ, WHATSAPP_MCP_DATA_DIR=data_dir, HOME=home, WHATSAPP_MCP_LOG="info")
    log = open(os.path.join(artifacts, "app-smoke.log"), "w")
    proc = subprocess.Popen([app], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        registered = pump_until(lambda: watcher.items, 60)
        check("tray icon registers with the tray host", registered, "(no RegisterStatusNotifierItem in 60 s)")
        if registered:
            service, path = watcher.items[0]
            props = bus.call_sync(service, path, "org.freedesktop.DBus.Properties", "GetAll",
                                  GLib.Variant("(s)", ("org.kde.StatusNotifierItem",)),
                                  GLib.VariantType("(a{sv})"), Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
            check("tray item is active", props.get("Status") == "Active", str(props.get("Status")))
            check("tray item has an icon", bool(props.get("IconName")), str(props.get("IconName")))
            menu_path = props.get("Menu")
            layout = bus.call_sync(service, menu_path, "com.canonical.dbusmenu", "GetLayout",
                                   GLib.Variant("(iias)", (0, -1, [])), None, Gio.DBusCallFlags.NONE,
                                   5000, None).unpack()[1]
            labels = [label.replace("_", "") for label in menu_labels(layout)]
            check("tray menu starts with Open", bool(labels) and labels[0].startswith("Open"), str(labels))
            check("tray menu has Quit", "Quit" in labels, str(labels))

        found = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "WhatsApp MCP Desktop"],
                               capture_output=True, text=True, timeout=60)
        window_ids = found.stdout.split()
        check("the window is shown", bool(window_ids), found.stderr)
        time.sleep(3)  # let the page load and ask the app for its status
        shot = os.path.join(artifacts, "app-window.png")
        subprocess.run(["import", "-window", "root", shot], check=True, timeout=30)
        colors = subprocess.run(["convert", shot, "-format", "%k", "info:"], capture_output=True, text=True,
                                timeout=30).stdout.strip()
        check("the page rendered (text and colours on screen)", colors.isdigit() and int(colors) > 50,
              f"unique colours: {colors}")
        if window_ids:
            title = subprocess.run(["xdotool", "getwindowname", window_ids[0]], capture_output=True,
                                   text=True).stdout.strip()
            check("the window is titled after the product", title == "WhatsApp MCP Desktop", title)
        db = os.path.join(data_dir, "messages.db")
        check("the database was created", os.path.exists(db))
        if os.path.exists(db):
            check("the data folder is the user's alone", stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700,
                  oct(os.stat(data_dir).st_mode))
            check("the database is the user's alone", stat.S_IMODE(os.stat(db).st_mode) == 0o600,
                  oct(os.stat(db).st_mode))
        check("the app is still running", proc.poll() is None, f"exit code {proc.poll()}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)

    print(f"smoke: {results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
