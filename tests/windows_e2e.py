#!/usr/bin/env python3
"""End to end on Windows, under Wine: the official MCP Python SDK (on Linux)
starts the Windows helper `whatsapp-mcp.exe` under Wine, which starts the
Windows app `whatsapp-mcp-desktop.exe` headless on the demo account (under the
same Wine) and carries MCP over the app's named pipe.

    python tests/windows_e2e.py path/to/whatsapp-mcp.exe path/to/whatsapp-mcp-desktop.exe \
        [path/to/linux/whatsapp-mcp path/to/linux/whatsapp-mcp-desktop] [--installer setup.exe]

Run by `./dev test` in its virtualenv (the `mcp` package). Checks: the helper
starts the app and the handshake answers; tools/list is the golden list;
a search finds messages of the synced demo archive; a send is refused in words
(nobody can approve it headless); a second session finds the
running app (no second copy); the data folder is the user's alone;
`register` writes %APPDATA%\\Claude\\claude_desktop_config.json in the Wine
prefix with the helper's Windows path, and that command launches. It prints
the helper's cold start (the app not running) and warm start under Wine and,
given the Linux programs, the same two on Linux in the same run.

Given the installer (installers/windows/build.sh): it installs silently for
the user (no administrator) into %LOCALAPPDATA%\\Programs, with its Start
menu entry and its Settings > Apps entry; the installed helper finds the
installed app beside it, which serves the demo account from the default data
folder; installing again over the running app works; the uninstaller removes
the program, its entries and the assistant's entry it had written, and keeps
the data folder.
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from checks import check, finish

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WINE_RUN = os.path.join(ROOT, "tests", "windows", "wine-run")
WINESERVER = "/usr/lib/wine/wineserver"
GOLDEN = os.path.join(ROOT, "crates", "mcp", "tests", "fixtures", "tools_list.json")


def windows_path(path):
    """A Linux path as Windows programs under Wine see it (drive Z: is /)."""
    return "Z:" + os.path.abspath(path).replace("/", "\\")


def linux_path(path):
    """The reverse, for a Z: path a Windows program wrote."""
    assert path[:2].upper() == "Z:", path
    return path[2:].replace("\\", "/")


def structured(result):
    if result.structured_content is not None:
        return result.structured_content
    try:
        return json.loads("".join(getattr(c, "text", "") for c in result.content))
    except ValueError:
        return {}


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


async def session(helper, env, body, under_wine=True):
    if under_wine:
        params = StdioServerParameters(command=WINE_RUN, args=[helper], env=env)
    else:
        params = StdioServerParameters(command=helper, args=[], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            started = time.monotonic()
            init = await s.initialize()
            return await body(s, init, time.monotonic() - started)


async def first_session(s, init, took):
    check("the Windows helper started the Windows app and the handshake answered",
          init.server_info.name == "whatsapp-mcp", str(init.server_info))
    print(f"     helper cold start under Wine (the app not running): {took:.2f} s", flush=True)
    tools = (await s.list_tools()).tools
    with open(GOLDEN, encoding="utf-8") as f:
        golden = sorted(t["name"] for t in json.load(f))
    check("tools/list is the golden list", sorted(t.name for t in tools) == golden,
          str(sorted(t.name for t in tools)))
    deadline = time.monotonic() + 180
    status = {}
    while time.monotonic() < deadline:
        status = structured(await s.call_tool("backend_status", {}))
        if status.get("messages", 0) > 1000 and status.get("state") == "connected":
            break
        await asyncio.sleep(1)
    check("the demo account linked and synced on Windows", status.get("messages", 0) > 1000, str(status))
    found = structured(await s.call_tool("search_messages", {"query": "the", "limit": 5}))
    hits = found.get("items", [])
    check("a search finds messages", len(hits) == 5 and all("snippet" in h for h in hits), str(found)[:300])
    chat = hits[0]["message"]["chat_jid"] if hits else "447700900123@s.whatsapp.net"
    refused = await s.call_tool("send_message", {"recipient": chat, "message": "hello from Wine"})
    words = text_of(refused)
    check("a send is refused in words (nobody can approve it headless)",
          refused.is_error and "approval" in words.lower(), words[:300])
    audit = structured(await s.call_tool("get_sync_status", {}))
    check("the app answers after the refusal", isinstance(audit, dict) and audit != {}, str(audit)[:200])


async def second_session(s, init, took):
    print(f"     helper warm start under Wine (the app running): {took:.2f} s", flush=True)
    status = structured(await s.call_tool("backend_status", {}))
    check("a second assistant finds the running app (same archive, no second copy)",
          status.get("messages", 0) > 1000, str(status))


async def timed(s, init, took):
    return took


def linux_starts(helper, app):
    """The Linux helper's cold and warm start, measured the same way."""
    home = tempfile.mkdtemp(prefix="wamcp-lin-")
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "WHATSAPP_MCP_DATA_DIR": os.path.join(home, "data"),
           "WHATSAPP_MCP_SOCKET": os.path.join(home, "run", "app.sock"),
           "WHATSAPP_MCP_APP": app, "WHATSAPP_MCP_DEMO": "1", "WHATSAPP_MCP_HEADLESS": "1",
           "WHATSAPP_MCP_KEYCHAIN": "off", "WHATSAPP_MCP_PASSPHRASE": "a Linux comparison passphrase"}
    try:
        cold = asyncio.run(session(helper, env, timed, under_wine=False))
        warm = asyncio.run(session(helper, env, timed, under_wine=False))
        print(f"     helper cold start on Linux (same run, same steps): {cold:.2f} s; warm {warm:.2f} s",
              flush=True)
    finally:
        subprocess.run(["pkill", "-KILL", "-f", f"{app} --headless"], check=False)
        shutil.rmtree(home, ignore_errors=True)


PRODUCT = "WhatsApp MCP Desktop"
UNINSTALL_KEY = rf"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\{PRODUCT}"


def reg_query(env, key, value):
    """A registry value in the Wine prefix, or None."""
    done = subprocess.run(["/usr/lib/wine/wine64", "reg", "query", key, "/v", value], env=env,
                          capture_output=True, text=True, timeout=120)
    for line in done.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == value:
            return parts[2].strip()
    return None


def wine_processes(fragment):
    """The running processes whose command line names `fragment`, as "PID ARGS" lines."""
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line.strip() for line in ps.splitlines() if fragment.lower() in line.lower()
            and "ps -eo" not in line and "windows_e2e.py" not in line]


async def installed_session(s, init, took):
    check("the installed helper started the installed app beside it and the handshake answered",
          init.server_info.name == "whatsapp-mcp", str(init.server_info))
    print(f"     installed helper cold start under Wine: {took:.2f} s", flush=True)
    deadline = time.monotonic() + 180
    status = {}
    while time.monotonic() < deadline:
        status = structured(await s.call_tool("backend_status", {}))
        if status.get("messages", 0) > 100:
            break
        await asyncio.sleep(1)
    check("the installed app serves the demo account's messages", status.get("messages", 0) > 100, str(status))


async def reinstalled_session(s, init, took):
    status = structured(await s.call_tool("backend_status", {}))
    check("after installing again the helper finds the new app, on the same archive",
          status.get("messages", 0) > 100, str(status))


def run_installer(setup, env, prefix, stand_in):
    """Install, use, install again over the running app, uninstall."""
    user = os.environ.get("USER") or "root"
    profile = os.path.join(prefix, "drive_c", "users", user)
    install_dir = os.path.join(profile, "AppData", "Local", "Programs", PRODUCT)
    data = os.path.join(profile, "AppData", "Roaming", "whatsappmcp", "whatsapp-mcp-desktop")
    menu = os.path.join(profile, "AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs",
                        f"{PRODUCT}.lnk")
    claude = os.path.join(profile, "AppData", "Roaming", "Claude", "claude_desktop_config.json")
    # What an earlier run of this test may have left in the shared prefix.
    for leftover in (install_dir, data, claude):
        if os.path.isdir(leftover):
            shutil.rmtree(leftover)
        elif os.path.exists(leftover):
            os.remove(leftover)
    # The installed programs run with the defaults: no data folder, pipe or app given.
    env = {k: v for k, v in env.items()
           if k not in ("WHATSAPP_MCP_DATA_DIR", "WHATSAPP_MCP_SOCKET", "WHATSAPP_MCP_APP")}
    size = os.path.getsize(setup)
    print(f"     installer: {size / 1e6:.1f} MB", flush=True)
    started = time.monotonic()
    done = subprocess.run(["/usr/lib/wine/wine64", setup, "/S"], env=env, capture_output=True, text=True,
                          timeout=600)
    print(f"     silent install under Wine: {time.monotonic() - started:.1f} s", flush=True)
    names = sorted(os.listdir(install_dir)) if os.path.isdir(install_dir) else []
    check("the installer installs silently for the user into %LOCALAPPDATA%\\Programs (no administrator)",
          done.returncode == 0 and {"whatsapp-mcp-desktop.exe", "whatsapp-mcp.exe", "WebView2Loader.dll",
                                     "uninstall.exe"} <= set(names), f"rc={done.returncode} {names}")
    check("it is listed in Settings > Apps with its version and a quiet uninstall",
          reg_query(env, UNINSTALL_KEY, "DisplayVersion") == version()
          and "/S" in (reg_query(env, UNINSTALL_KEY, "QuietUninstallString") or ""),
          str(reg_query(env, UNINSTALL_KEY, "DisplayVersion")))
    check("it has a Start menu entry", os.path.exists(menu), menu)
    # Test-only: Debian's Wine lacks the DLL Rust's std imports (tests/windows/bcryptprimitives.c).
    # (wine-run built it beside the helper under test; the installer never ships it.)
    shutil.copy(stand_in, install_dir)
    helper = os.path.join(install_dir, "whatsapp-mcp.exe")
    asyncio.run(session(helper, env, installed_session))
    check("the default data folder (%APPDATA%\\whatsappmcp\\whatsapp-mcp-desktop) holds the archive",
          os.path.exists(os.path.join(data, "data", "demo", "messages.db")), str(os.listdir(data)
                                                                                 if os.path.isdir(data) else []))
    registered = subprocess.run([WINE_RUN, helper, "register", "--client", "claude_desktop"], env=env,
                                capture_output=True, text=True, timeout=120)
    with open(claude, encoding="utf-8") as f:
        entry = json.load(f).get("mcpServers", {}).get("whatsapp", {})
    check("the installed helper connects Claude Desktop to itself",
          registered.returncode == 0 and entry.get("command", "").lower()
          == rf"c:\users\{user}\appdata\local\programs\{PRODUCT}\whatsapp-mcp.exe".lower(),
          str(entry) + registered.stderr[-300:])
    running = wine_processes("whatsapp-mcp-desktop.exe")
    check("the installed app is running (started by the helper)", running)

    async def reinstall(s, init, took):
        # As the in-app updater runs it (tauri-plugin-updater, quiet mode,
        # restart with the app's arguments) while Claude Desktop runs the
        # helper: the app is stopped, the running helper is set aside (Windows
        # refuses to replace it), the new app started again with its arguments.
        again = await asyncio.create_subprocess_exec(
            "/usr/lib/wine/wine64", setup, "/S", "/UPDATE", "/R", "/ARGS", "--headless", env=env,
            stderr=asyncio.subprocess.DEVNULL)
        return await asyncio.wait_for(again.wait(), 600)

    before = wine_processes("whatsapp-mcp-desktop.exe")
    rc = asyncio.run(session(helper, env, reinstall))
    names = sorted(os.listdir(install_dir))
    check("installing again (as the updater does) while the app and a helper run works: the programs replaced",
          rc == 0 and {"whatsapp-mcp-desktop.exe", "whatsapp-mcp.exe"} <= set(names), f"rc={rc} {names}")
    after = wait_until(lambda: wine_processes("whatsapp-mcp-desktop.exe --headless"), 30) \
        and wine_processes("whatsapp-mcp-desktop.exe --headless")
    check("the running app was stopped and the new one started again with its arguments (/R /ARGS)",
          before and after and not set(before) & set(after), f"before {before} after {after}")
    check("the helper that was running is set aside, not overwritten (the next install removes it)",
          any(n.startswith("whatsapp-mcp.exe.") and n.endswith(".old") for n in names), str(names))
    asyncio.run(session(helper, env, reinstalled_session))
    uninstall = windows_path(os.path.join(install_dir, "uninstall.exe"))
    started = time.monotonic()
    subprocess.run(["/usr/lib/wine/wine64", uninstall, "/S"], env=env, capture_output=True, timeout=600)
    # The uninstaller runs from a copy of itself in the temp folder: wait for it.
    gone = wait_until(lambda: not os.path.exists(os.path.join(install_dir, "uninstall.exe")), 180)
    subprocess.run([WINESERVER, "-w"], env=env, timeout=300, check=False)
    print(f"     silent uninstall under Wine: {time.monotonic() - started:.1f} s", flush=True)
    left = sorted(os.listdir(install_dir)) if os.path.isdir(install_dir) else []
    check("the uninstaller removes the program (only the test's stand-in DLL is left)",
          gone and set(left) <= {"bcryptprimitives.dll"}, str(left))
    check("and its Settings > Apps and Start menu entries",
          reg_query(env, UNINSTALL_KEY, "DisplayName") is None and not os.path.exists(menu))
    with open(claude, encoding="utf-8") as f:
        servers = json.load(f).get("mcpServers", {})
    check("and disconnects Claude Desktop (its entry for the helper is removed)", "whatsapp" not in servers,
          str(servers))
    check("the data folder is kept (the archive cannot be fetched again from WhatsApp)",
          os.path.exists(os.path.join(data, "data", "demo", "messages.db")))
    check("nothing of the app is left running", not wine_processes("whatsapp-mcp-desktop.exe"),
          str(wine_processes("whatsapp-mcp-desktop.exe")))
    shutil.rmtree(install_dir, ignore_errors=True)


def wait_until(ok, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ok():
            return True
        time.sleep(0.5)
    return ok()


def version():
    with open(os.path.join(ROOT, "Cargo.toml"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("version = "):
                return line.split('"')[1]
    return None


def main():
    args = sys.argv[1:]
    setup = None
    if "--installer" in args:
        at = args.index("--installer")
        setup = os.path.abspath(args[at + 1])
        del args[at:at + 2]
    helper, app = (os.path.abspath(p) for p in args[0:2])
    home = tempfile.mkdtemp(prefix="wamcp-win-")
    prefix = os.environ.get("WINEPREFIX") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "whatsapp-mcp-desktop", "wine")
    env = dict(os.environ,
               WINEPREFIX=prefix,
               WHATSAPP_MCP_DATA_DIR=windows_path(os.path.join(home, "data")),
               WHATSAPP_MCP_SOCKET=rf"\\.\pipe\whatsapp-mcp-e2e-{os.getpid()}",
               WHATSAPP_MCP_APP=windows_path(app),
               WHATSAPP_MCP_DEMO="1",
               WHATSAPP_MCP_HEADLESS="1",
               WHATSAPP_MCP_KEYCHAIN="off",
               WHATSAPP_MCP_PASSPHRASE="a Windows e2e passphrase")
    for var in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(var, None)
    try:
        # The prefix's first start (wineboot) is not the helper's start.
        subprocess.run([WINE_RUN, helper, "--version"], env=env, capture_output=True, timeout=300)
        asyncio.run(session(helper, env, first_session))
        asyncio.run(session(helper, env, second_session))
        if len(args) > 3:
            linux_starts(*(os.path.abspath(p) for p in args[2:4]))
        data = os.path.join(home, "data")
        check("the data folder and the demo archive are on disk", os.path.exists(
            os.path.join(data, "demo", "messages.db")), str(os.listdir(data) if os.path.isdir(data) else []))
        doctor = subprocess.run([WINE_RUN, helper, "doctor"], env=env, capture_output=True, text=True,
                                timeout=120)
        check("doctor: the running app answers over the pipe",
              "WhatsApp MCP Desktop is running" in doctor.stdout, doctor.stdout[-800:] + doctor.stderr[-400:])
        # Wine keeps no access lists on its Unix drives (it reports the mode
        # bits), so who can open the folder is checked on Windows itself
        # (docs/testing.md); here, that the doctor looks and says.
        check("doctor: says who can open the data folder",
              "open the data folder" in doctor.stdout, doctor.stdout[-800:])
        registered = subprocess.run([WINE_RUN, helper, "register", "--client", "claude_desktop"], env=env,
                                    capture_output=True, text=True, timeout=120)
        user = os.environ.get("USER") or "root"
        config = os.path.join(prefix, "drive_c", "users", user, "AppData", "Roaming", "Claude",
                              "claude_desktop_config.json")
        written = {}
        if os.path.exists(config):
            with open(config, encoding="utf-8") as f:
                written = json.load(f)
        entry = written.get("mcpServers", {}).get("whatsapp", {})
        command = entry.get("command", "")
        check("register writes %APPDATA%\\Claude\\claude_desktop_config.json with the helper's Windows path",
              registered.returncode == 0 and command.lower() == windows_path(helper).lower(),
              f"{registered.stdout[-300:]} {registered.stderr[-300:]} {written}")
        if command:
            launched = subprocess.run([WINE_RUN, linux_path(command), *entry.get("args", []), "--version"],
                                      env=env, capture_output=True, text=True, timeout=120)
            check("the written command launches", launched.returncode == 0
                  and launched.stdout.startswith("whatsapp-mcp "), launched.stdout + launched.stderr[-300:])
        if setup:
            subprocess.run([WINESERVER, "-k"], env=env, check=False)
            run_installer(setup, env, prefix, os.path.join(os.path.dirname(helper), "bcryptprimitives.dll"))
    finally:
        subprocess.run([WINESERVER, "-k"], env=env, check=False)
        logs = os.path.join(home, "data", "logs")
        if os.path.isdir(logs):
            os.makedirs("artifacts", exist_ok=True)
            for name in os.listdir(logs):
                shutil.copy(os.path.join(logs, name), os.path.join("artifacts", f"windows-{name}"))
        shutil.rmtree(home, ignore_errors=True)
    finish("windows e2e")


if __name__ == "__main__":
    main()
