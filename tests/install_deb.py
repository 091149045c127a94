#!/usr/bin/python3
"""Install the .deb as a person would, use it, remove it, install it again.

    dbus-run-session -- xvfb-run -a /usr/bin/python3 tests/install_deb.py path/to/app.deb

Run as root on a Debian/Ubuntu machine (CI). Checks: the package installs
(pulling its dependencies with apt when needed); the app, the helper, the
desktop entry and the icons land where a desktop finds them; `whatsapp-mcp
--version` and `doctor` run from the installed path; the installed app starts
under Xvfb and shows its tray icon (tests/app_smoke.py against /usr/bin);
while the installed app runs: it has no TCP or UDP socket open for others
(read from the system's socket tables in /proc/net, with its own local socket
found there as the control), and another local user (nobody) is refused both
the archive and the app's socket; removing the package removes the program
and keeps the person's data; a reinstall finds that data again.
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from checks import check, finish
import archive

APP = "/usr/bin/whatsapp-mcp-desktop"
HELPER = "/usr/bin/whatsapp-mcp"




def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)


def install(deb):
    done = run("dpkg", "-i", deb)
    if done.returncode != 0:
        # Missing dependencies: let apt fetch them, as a double-click installer does.
        fixed = run("apt-get", "-f", "install", "-y", env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        done = run("dpkg", "-i", deb) if fixed.returncode == 0 else fixed
    return done


def socket_inodes(pid):
    """The inodes of the sockets process `pid` has open."""
    inodes = set()
    for fd in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def listening(table):
    """Inodes of listening (TCP) or bound (UDP) sockets in /proc/net/<table>."""
    found = set()
    with open(f"/proc/net/{table}") as f:
        next(f)
        for line in f:
            fields = line.split()
            state, inode = fields[3], fields[9]
            if table.startswith("udp") or state == "0A":  # 0A: LISTEN
                found.add(inode)
    return found


def unix_listeners():
    """Path -> inode of listening Unix sockets (/proc/net/unix)."""
    found = {}
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            if len(fields) >= 8 and fields[5] == "01":  # 01: listening
                found[fields[7]] = fields[6]
    return found


def as_other_user(*args):
    return run("runuser", "-u", "nobody", "--", *args, timeout=30)


def privacy_while_running(app, data, sock, db):
    """No network listener, and another user can open neither the archive nor the socket."""
    ours = socket_inodes(app.pid)
    check("the app's own local socket shows in the system's socket list (the check can see it)",
          unix_listeners().get(sock) in ours, f"{sock}: {unix_listeners().get(sock)} not in {sorted(ours)[:10]}")
    open_to_network = {t: ours & listening(t) for t in ("tcp", "tcp6", "udp", "udp6")}
    check("the running app listens on no TCP or UDP port", not any(open_to_network.values()), str(open_to_network))
    read = as_other_user("cat", db)
    listed = as_other_user("ls", data)
    check("another local user is refused the archive and the data folder", read.returncode != 0
          and "Permission denied" in read.stderr and listed.returncode != 0 and "Permission denied" in listed.stderr,
          f"cat: {read.returncode} {read.stderr.strip()}; ls: {listed.returncode} {listed.stderr.strip()}")
    probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\n"
             "except OSError as e:\n print(type(e).__name__)")
    connect = as_other_user("/usr/bin/python3", "-c", probe, sock)
    check("another local user is refused the app's socket", connect.stdout.strip() == "PermissionError",
          connect.stdout + connect.stderr)


def main():
    deb = os.path.abspath(sys.argv[1])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    home = tempfile.mkdtemp(prefix="wamcp-install-")
    # A home others may pass through, as most are: only the app's own modes
    # may stand between another user and the data.
    os.chmod(home, 0o755)
    data = os.path.join(home, "data")
    env = dict(os.environ, HOME=home, WHATSAPP_MCP_DATA_DIR=data, WHATSAPP_MCP_SOCKET=os.path.join(home, "app.sock"))
    # The package's name as the bundler wrote it (from the product name).
    package = run("dpkg-deb", "-f", deb, "Package").stdout.strip()
    # The app keeps its archive key in the system keychain: a real one in this D-Bus session.
    check("a real keychain (GNOME Keyring's Secret Service) runs in this D-Bus session", archive.start_keyring())
    try:
        run("dpkg", "-r", package)
        done = install(deb)
        check("the .deb installs", done.returncode == 0, (done.stdout + done.stderr)[-600:])
        check("the app and the helper are installed side by side in /usr/bin",
              os.access(APP, os.X_OK) and os.access(HELPER, os.X_OK), str(glob.glob("/usr/bin/whatsapp*")))
        entries = glob.glob("/usr/share/applications/*.desktop")
        ours = [e for e in entries if "whatsapp" in e.lower()]
        text = open(ours[0]).read() if ours else ""
        check("a desktop entry starts the app", ours and "Exec=whatsapp-mcp-desktop" in text
              and "Name=WhatsApp MCP Desktop" in text, text[:300])
        icons = glob.glob("/usr/share/icons/hicolor/*/apps/whatsapp-mcp-desktop.png")
        check("icons are installed for the desktop", len(icons) >= 2, str(icons))
        version = run(HELPER, "--version")
        check("whatsapp-mcp --version runs from the installed path", version.returncode == 0
              and version.stdout.startswith("whatsapp-mcp "), version.stdout + version.stderr)
        doctor = run(HELPER, "doctor", env=env, timeout=60)
        check("whatsapp-mcp doctor runs from the installed path and says what to do", "Data" in doctor.stdout
              and "What to do" in doctor.stdout, doctor.stdout[-500:])

        smoke = run("/usr/bin/python3", os.path.join(root, "tests", "app_smoke.py"), APP, timeout=900)
        check("the installed app starts under Xvfb and shows its tray icon (app_smoke.py)", smoke.returncode == 0,
              smoke.stdout[-800:])

        # Some data of the person's own: the demo archive, written by the installed app.
        app = subprocess.Popen([APP, "--headless", "--demo"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        db = os.path.join(data, "demo", "messages.db")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (os.path.exists(db) and os.path.getsize(db) > 500_000):
            time.sleep(1)
        privacy_while_running(app, data, os.path.join(home, "app.sock"), db)
        app.send_signal(signal.SIGTERM)
        app.wait(30)
        check("the installed app wrote its archive", os.path.exists(db), str(os.listdir(data)))

        removed = run("dpkg", "-r", package)
        check("dpkg -r removes the program", removed.returncode == 0 and not os.path.exists(APP)
              and not os.path.exists(HELPER), removed.stdout + removed.stderr)
        check("removing the program keeps the person's data", os.path.exists(db))

        again = install(deb)
        doctor = run(HELPER, "doctor", env=dict(env, WHATSAPP_MCP_DEMO="1"), timeout=60)
        check("a reinstall finds the data again", again.returncode == 0 and "Message archive:" in doctor.stdout
              and " 0 messages" not in doctor.stdout, doctor.stdout[-500:])
    finally:
        run("dpkg", "-r", package)
        shutil.rmtree(home, ignore_errors=True)
    finish("install")


if __name__ == "__main__":
    main()
