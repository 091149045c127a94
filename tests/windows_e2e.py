#!/usr/bin/env python3
"""End to end on Windows, under Wine: the official MCP Python SDK (on Linux)
starts the Windows helper `whatsapp-mcp.exe` under Wine, which starts the
Windows app `whatsapp-mcp-desktop.exe` headless on the demo account (under the
same Wine) and carries MCP over the app's named pipe.

    python tests/windows_e2e.py path/to/whatsapp-mcp.exe path/to/whatsapp-mcp-desktop.exe \
        [path/to/linux/whatsapp-mcp path/to/linux/whatsapp-mcp-desktop]

Run by `./dev test` in its virtualenv (the `mcp` package). Checks: the helper
starts the app and the handshake answers; tools/list is the golden list;
a search finds messages of the synced demo archive; a send is refused in words
(nobody can approve it headless); a second session finds the
running app (no second copy); the data folder is the user's alone;
`register` writes %APPDATA%\\Claude\\claude_desktop_config.json in the Wine
prefix with the helper's Windows path, and that command launches. It prints
the helper's cold start (the app not running) and warm start under Wine and,
given the Linux programs, the same two on Linux in the same run.
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


def main():
    helper, app = (os.path.abspath(p) for p in sys.argv[1:3])
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
        if len(sys.argv) > 4:
            linux_starts(*(os.path.abspath(p) for p in sys.argv[3:5]))
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
