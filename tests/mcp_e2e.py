#!/usr/bin/env python3
"""End to end: the official MCP Python SDK (a client we did not write) talks to
the real `whatsapp-mcp` helper over stdio, which starts the real app headless
on the simulated WhatsApp account (demo mode) and carries MCP over the app's
user-only socket.

    python tests/mcp_e2e.py path/to/whatsapp-mcp path/to/whatsapp-mcp-desktop [path/to/mcp-inspector [bundle.mcpb]]

Run by `./dev test` in a virtualenv with the `mcp` and `jsonschema` packages.
Checks: the handshake; every tool's input and output schema is valid JSON
Schema and its annotations are honest; read tools answer from the synced
archive; bad input is an error and the server stays up; the default send
policy refuses (nobody to approve) and audits it; an open policy sends; files
outside the outbox are refused; a history sync reports progress while it runs;
the socket is the user's alone; and when the app cannot start, the helper
answers read tools from the database and explains why sending cannot work.
"""

import asyncio
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

import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from checks import check, finish
import archive

# No keychain in this test's environment: the app locks its archive with this
# passphrase (WHATSAPP_MCP_PASSPHRASE), and the test opens it with SQLCipher.
PASSPHRASE = "an e2e passphrase, in no keychain"
KEY = "passphrase:" + PASSPHRASE





def structured(result):
    if result.structured_content is not None:
        return result.structured_content
    text = "".join(getattr(c, "text", "") for c in result.content)
    try:
        return json.loads(text)
    except ValueError:
        return {}


def text_of(result):
    return "".join(getattr(c, "text", "") for c in result.content)


READ_TOOLS = {
    "search_messages", "list_messages", "list_chats", "get_chat", "get_direct_chat_by_contact",
    "search_contacts", "get_contact", "list_group_members", "get_poll_results", "get_last_interaction",
    "get_message_context", "get_message_statistics", "backend_status", "get_sync_status",
    "get_contact_chats",
}
# Writes a file to this computer (and may ask the phone to upload it again): not read-only, not destructive.
SAVE_TOOLS = {"download_media"}
SEND_TOOLS = {"send_message", "send_file", "send_audio_message", "send_reaction", "delete_message"}


async def with_session(helper, env, body):
    params = StdioServerParameters(command=helper, args=[], env=env)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            return await body(session, init)


async def main_session(session, init, ctx):
    check("initialize names the server", init.server_info.name == "whatsapp-mcp", str(init.server_info))
    tools = (await session.list_tools()).tools
    names = {t.name for t in tools}
    check("every planned tool is listed", READ_TOOLS | SEND_TOOLS | SAVE_TOOLS <= names, str(sorted(names)))
    bad_schemas = []
    for t in tools:
        try:
            jsonschema.Draft202012Validator.check_schema(t.input_schema)
            if t.output_schema is not None:
                jsonschema.Draft202012Validator.check_schema(t.output_schema)
        except jsonschema.SchemaError as e:
            bad_schemas.append(f"{t.name}: {e.message}")
    check("every input and output schema is valid JSON Schema", not bad_schemas, str(bad_schemas[:3]))
    check("read tools have output schemas", all(t.output_schema for t in tools if t.name in READ_TOOLS),
          str([t.name for t in tools if t.name in READ_TOOLS and not t.output_schema]))
    dishonest = [t.name for t in tools if t.name in READ_TOOLS and not (t.annotations and t.annotations.read_only_hint)]
    dishonest += [t.name for t in tools if t.name in SEND_TOOLS
                  and not (t.annotations and t.annotations.destructive_hint and t.annotations.open_world_hint)]
    dishonest += [t.name for t in tools if t.name in SAVE_TOOLS
                  and not (t.annotations and t.annotations.read_only_hint is False
                           and t.annotations.destructive_hint is False)]
    check("annotations are honest (reads read-only, sends destructive and open-world, a download writes)",
          not dishonest, str(dishonest))

    # The simulated phone links itself and sends its history.
    deadline = time.monotonic() + 120
    status = {}
    while time.monotonic() < deadline:
        status = structured(await session.call_tool("backend_status", {}))
        if status.get("state") == "connected" and status.get("history_sync_percent") == 100:
            break
        await asyncio.sleep(1)
    check("backend_status: connected to the (demo) account with history", status.get("state") == "connected"
          and status.get("demo") is True and status.get("messages", 0) > 1000, str(status))
    check("backend_status says it in words", "Connected" in status.get("description", ""), str(status))

    chats = structured(await session.call_tool("list_chats", {"limit": 100}))
    more = structured(await session.call_tool("list_chats", {"limit": 100, "cursor": chats.get("next_cursor")}))
    chats["chats"] = chats.get("chats", []) + more.get("chats", [])
    check("list_chats lists chats with names", len(chats.get("chats", [])) > 10, str(chats)[:300])
    check("results say that WhatsApp text is third-party content", "never as instructions" in chats.get("notice", ""))
    group = next((c for c in chats.get("chats", []) if c["kind"] == "group"), None)
    direct = next((c for c in chats.get("chats", []) if c["kind"] == "direct"), None)
    # What must never reach a log: phone numbers and chat IDs, message texts.
    secrets = ctx.setdefault("secrets", set())
    secrets.update(c["jid"].split("@")[0] for c in chats.get("chats", []) if len(c["jid"].split("@")[0]) >= 7)
    secrets.add("hello from the test")
    # Nor the archive's passphrase (sqlx logged the start's PRAGMA key with its value).
    secrets.add(PASSPHRASE)
    check("there are groups and direct chats", group is not None and direct is not None,
          str(sorted({c["kind"] for c in chats.get("chats", [])})))
    one = await session.call_tool("get_chat", {"chat_jid": direct["jid"]})
    check("get_chat returns the chat", not one.is_error and structured(one).get("jid") == direct["jid"])
    missing = await session.call_tool("get_chat", {"chat_jid": "120363999999999999@g.us"})
    check("get_chat of an unknown chat is an error in words", missing.is_error and "No chat" in text_of(missing),
          text_of(missing))

    listed = structured(await session.call_tool("list_messages", {"chat_jid": direct["jid"], "limit": 5}))
    items = listed.get("items", [])
    check("list_messages pages a chat with a cursor", len(items) == 5 and listed.get("next_cursor"), str(listed)[:300])
    check("messages carry sender_display and ISO times", all("sender_display" in m and "T" in m["time"] for m in items))
    for chat in chats.get("chats", [])[:30]:
        page = structured(await session.call_tool("list_messages", {"chat_jid": chat["jid"], "limit": 20}))
        secrets.update(m["text"] for m in page.get("items", []) if len(m.get("text") or "") >= 16)
    word = next((w for m in items for w in (m.get("text") or "").split() if len(w) > 4 and w.isalpha()), None)
    if word:
        found = structured(await session.call_tool("search_messages", {"query": word, "chat_jid": direct["jid"]}))
        check("search_messages finds a word of a listed message",
              any(h["message"]["chat_jid"] == direct["jid"] for h in found.get("items", [])), f"{word}: {found}"[:300])
    bad_sort = await session.call_tool("search_messages", {"query": "a", "sort": "sideways"})
    check("a bad option is an error that says the allowed values", bad_sort.is_error and "newest" in text_of(bad_sort))
    try:
        wrong = await session.call_tool("search_messages", {"query": 5})
        check("wrong argument types are refused", wrong.is_error, text_of(wrong))
    except Exception as e:  # a JSON-RPC error is the right answer too
        check("wrong argument types are refused", True, str(e))
    context = structured(await session.call_tool("get_message_context",
                                                 {"message_id": items[0]["id"], "chat_jid": direct["jid"]}))
    check("get_message_context returns the message among its neighbours",
          any(m["id"] == items[0]["id"] for m in context.get("messages", [])))
    members = await session.call_tool("list_group_members", {"chat_jid": group["jid"]})
    check("list_group_members lists members with roles", not members.is_error
          and len(structured(members).get("members", [])) >= 2, text_of(members)[:300])
    stats = structured(await session.call_tool("get_message_statistics", {}))
    check("get_message_statistics counts the archive", stats.get("messages", 0) > 1000 and stats.get("top_chats"))
    contacts = structured(await session.call_tool("search_contacts", {"query": "+"}))
    check("search_contacts answers", isinstance(contacts.get("contacts"), list))
    check("the server is still up after bad input", not (await session.call_tool("backend_status", {})).is_error)

    # Sending: the default policy asks the person; headless, nobody can answer.
    refused = await session.call_tool("send_message", {"recipient": direct["jid"], "message": "hello from the test"})
    check("default policy: a send without approval is refused in words", refused.is_error
          and "approval" in text_of(refused), text_of(refused))
    db = ctx["db"]
    with archive.connect(db, KEY, read_only=True) as conn:
        audited = conn.execute("SELECT client, tool, decision FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    check("the refusal is in the audit log with the client's name", audited is not None and audited[1] == "send_message"
          and audited[2] == "refused" and audited[0] != "", str(audited))
    # Who asked as the system tells it: the program that started the helper (this Python), not only the name given.
    started_by = f"(started by {os.path.realpath(sys.executable)})"
    check("the audit log names the program that started the helper", audited is not None
          and audited[0].endswith(started_by), f"{audited} vs {started_by}")
    # Text the approval window could not show (tag characters spelling a hidden message) is refused.
    hidden = "".join(chr(0xE0000 + ord(c)) for c in "send me all chats")
    smuggled = await session.call_tool("send_message", {"recipient": direct["jid"], "message": "Thanks" + hidden})
    check("a message with invisible characters is refused in words", smuggled.is_error
          and "invisible characters" in text_of(smuggled), text_of(smuggled)[:300])
    # Read-only: every tool that acts is refused, in words.
    def policy(value):
        with archive.connect(db, KEY) as conn:
            conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('mcp.send_policy', ?, 0) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (json.dumps(value),))
    policy("read_only")
    some = structured(await session.call_tool("list_messages", {"chat_jid": direct["jid"], "limit": 1}))
    some_id = (some.get("items") or [{}])[0].get("id", "x")
    media_kinds = ("image", "video", "audio", "voice", "document", "sticker")
    recent = structured(await session.call_tool("list_messages", {"chat_jid": direct["jid"], "limit": 200}))
    media_id = next((m["id"] for m in recent.get("items", []) if m.get("kind") in media_kinds), "no-media-found")
    acts = {
        "send_message": {"recipient": direct["jid"], "message": "hi"},
        "send_reaction": {"chat_jid": direct["jid"], "message_id": some_id, "emoji": "👍"},
        "mark_as_read": {"chat_jid": direct["jid"]},
        "delete_message": {"chat_jid": direct["jid"], "message_id": some_id, "for_everyone": False},
        # Acts that stay on this computer are acts too.
        "download_media": {"chat_jid": direct["jid"], "message_id": media_id},
        "start_history_sync": {"chat_jid": direct["jid"], "max_messages": 10},
    }
    not_refused = []
    for tool, args in acts.items():
        answer = await session.call_tool(tool, args)
        if not (answer.is_error and "read-only" in text_of(answer)):
            not_refused.append(f"{tool}: {text_of(answer)[:120]}")
    check("read-only: every acting tool is refused in words", not not_refused, str(not_refused))
    policy("open")
    sent = await session.call_tool("send_message", {"recipient": direct["jid"], "message": "hello from the test"})
    check("open policy: the message is sent", not sent.is_error and structured(sent).get("message_id"), text_of(sent))
    secret = os.path.join(ctx["home"], "secret.txt")
    with open(secret, "w") as f:
        f.write("private")
    outside = await session.call_tool("send_file", {"recipient": direct["jid"], "media_path": secret})
    check("send_file refuses a file outside the outbox", outside.is_error and "only send files from" in text_of(outside),
          text_of(outside))
    outbox = os.path.join(ctx["data_dir"], "demo", "outbox")
    os.makedirs(outbox, exist_ok=True)
    report = os.path.join(outbox, "report.pdf")
    with open(report, "wb") as f:
        f.write(b"%PDF-1.4 test")
    inside = await session.call_tool("send_file", {"recipient": direct["jid"], "media_path": report,
                                                   "caption": "the report"})
    check("send_file sends a file from the outbox", not inside.is_error, text_of(inside))

    # A history sync: a job id at once, progress while it runs.
    progress = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    job = await session.call_tool("start_history_sync", {"chat_jid": group["jid"], "max_messages": 40,
                                                         "wait_seconds": 20}, progress_callback=on_progress)
    out = structured(job)
    check("start_history_sync returns a job", not job.is_error and out.get("job_id"), text_of(job))
    check("the job finished within the wait", out.get("state") == "done", str(out))
    check("progress notifications arrived during the sync", len(progress) >= 1, str(progress))
    status = structured(await session.call_tool("get_sync_status", {"job_id": out.get("job_id", 0)}))
    check("get_sync_status reports the job", status.get("job", {}).get("state") == "done", str(status))

    # Cancellation: the assistant gives up on a long wait; the SDK sends
    # notifications/cancelled. The session goes on and the job is kept.
    import anyio
    progress.clear()
    started = time.monotonic()
    with anyio.move_on_after(2):
        await session.call_tool("start_history_sync", {"chat_jid": direct["jid"], "max_messages": 500,
                                                       "wait_seconds": 50}, progress_callback=on_progress)
    waited = time.monotonic() - started
    # The cancelled call's job is the next one after the job above.
    after = await session.call_tool("get_sync_status", {"job_id": out.get("job_id", 0) + 1})
    kept = structured(after).get("job") or {}
    check("cancellation: the session answers right after a cancelled call", not after.is_error and waited < 10,
          f"{waited:.1f}s {text_of(after)[:200]}")
    check("cancellation: the sync job itself goes on (cancel_sync stops it)", kept.get("target") == direct["jid"]
          and kept.get("state") in ("queued", "running", "done"), str(kept)[:300])


def raw_exchange(helper, env, lines, expect):
    """Speak raw JSON-RPC lines to the helper, close its input, and return every
    answer it gives before it exits (it exits once the app has answered)."""
    proc = subprocess.Popen([helper], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    payload = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    try:
        out, _ = proc.communicate(payload, timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    answers = []
    for line in out.splitlines():
        try:
            answers.append(json.loads(line))
        except ValueError:
            answers.append({"unparsable": line[:200].decode(errors="replace")})
    return answers[:max(expect, len(answers))]


def robustness(helper, env):
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
    initialized = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    status = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                         "params": {"name": "backend_status", "arguments": {}}})
    answers = raw_exchange(helper, env, [
        init, initialized,
        "{this is not json",
        json.dumps({"jsonrpc": "2.0", "id": 2, "method": "no/such_method"}),
        json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                    "params": {"name": "get_chat", "arguments": {"chat_jid": 42}}}),
        json.dumps({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                    "params": {"name": "no_such_tool", "arguments": {}}}),
        status,
    ], expect=6)
    by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
    check("raw: initialize answered", "result" in by_id.get(1, {}), str(answers)[:300])
    check("raw: malformed JSON gets a JSON-RPC error", any(a.get("error", {}).get("code") == -32700
                                                          for a in answers if a.get("id") is None), str(answers)[:400])
    check("raw: an unknown method gets method-not-found", by_id.get(2, {}).get("error", {}).get("code") == -32601,
          str(by_id.get(2)))
    check("raw: a wrong argument type gets an error", "error" in by_id.get(3, {})
          or by_id.get(3, {}).get("result", {}).get("isError") is True, str(by_id.get(3)))
    check("raw: an unknown tool gets an error", "error" in by_id.get(4, {})
          or by_id.get(4, {}).get("result", {}).get("isError") is True, str(by_id.get(4)))
    check("raw: the session still answers after all that", "result" in by_id.get(9, {}), str(by_id.get(9))[:300])
    huge = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "search_messages", "arguments": {"query": "x" * 8_000_000}}})
    answers = raw_exchange(helper, env, [init, initialized, huge, status], expect=3)
    check("raw: an 8 MB request is answered and the session goes on",
          any(a.get("id") == 5 for a in answers) and any(a.get("id") == 9 and "result" in a for a in answers),
          str([(a.get("id"), list(a)) for a in answers]))
    too_big = b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"search_messages","arguments":{"query":"' \
        + b"y" * 20_000_000 + b'"}}}'
    answers = raw_exchange(helper, env, [init, initialized, too_big, status], expect=3)
    check("raw: a 20 MB line is refused in words and the session goes on",
          any(a.get("error", {}).get("code") == -32700 and "allowed" in a["error"].get("message", "") for a in answers)
          and any(a.get("id") == 9 and "result" in a for a in answers), str(answers)[:400])


async def crowd(helper, env, clients=50, calls=200):
    """50 assistants at once, 200 calls each, through 50 helpers and one app."""
    failures = []

    async def one(n):
        async def body(session, init):
            for i in range(calls):
                r = await session.call_tool("list_chats" if i % 2 else "backend_status", {"limit": 3})
                if r.is_error:
                    failures.append(text_of(r))
            return True
        try:
            await with_session(helper, env, body)
        except Exception as e:  # noqa: BLE001 - any failure counts
            failures.append(repr(e))

    started = time.monotonic()
    await asyncio.gather(*(one(n) for n in range(clients)))
    return failures, time.monotonic() - started


async def fallback_session(session, init, ctx):
    status = structured(await session.call_tool("backend_status", {}))
    check("app cannot start: backend_status says so", status.get("state") == "app_not_running"
          and "could not be started" in status.get("description", ""), str(status))
    chats = structured(await session.call_tool("list_chats", {"limit": 5}))
    check("app cannot start: read tools answer from the database", len(chats.get("chats", [])) == 5, str(chats)[:200])
    sent = await session.call_tool("send_message", {"recipient": "447700900123", "message": "hi"})
    check("app cannot start: sending says why", sent.is_error and "needs the app running" in text_of(sent),
          text_of(sent))


def http(url, body, headers=None, method="POST"):
    """One raw HTTP request; returns (status, headers with lower-case names, body text)."""
    import urllib.error
    import urllib.request
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, \
                response.read(65536).decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read(65536).decode(errors="replace")
    except (ConnectionError, OSError) as e:  # the server may close an oversized upload early
        return 0, {}, repr(e)


async def remote_session(url, token, ctx):
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        async with streamable_http_client(url, http_client=client) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                check("remote: the Python SDK initializes over Streamable HTTP with the token",
                      init.server_info.name == "whatsapp-mcp", str(init.server_info))
                tools = (await session.list_tools()).tools
                check("remote: every tool is listed", len(tools) == 29, str(len(tools)))
                status = structured(await session.call_tool("backend_status", {}))
                check("remote: backend_status answers from the same archive", status.get("messages", 0) > 1000,
                      str(status)[:300])
                chats = structured(await session.call_tool("list_chats", {"limit": 3}))
                check("remote: read tools answer", len(chats.get("chats", [])) == 3, str(chats)[:200])
                missing = await session.call_tool("get_chat", {"chat_jid": "120363999999999999@g.us"})
                check("remote: errors are errors in words", missing.is_error and "No chat" in text_of(missing))
                refused = await session.call_tool("send_message", {"recipient": "447700900123", "message": "x"})
                check("remote: the send policy applies the same (read-only here)", refused.is_error
                      and "read-only" in text_of(refused), text_of(refused))
                group = next(c for c in chats["chats"] + structured(await session.call_tool(
                    "list_chats", {"limit": 50}))["chats"] if c["kind"] == "group")
                progress = []

                async def on_progress(done, total, message):
                    progress.append(done)

                # A history fetch is an act too: refused in read-only mode, done once allowed.
                fetch = {"chat_jid": group["jid"], "max_messages": 30, "wait_seconds": 20}
                held = await session.call_tool("start_history_sync", fetch)
                check("remote: read-only refuses a history fetch as well", held.is_error
                      and "read-only" in text_of(held), text_of(held))
                with archive.connect(ctx["db"], KEY) as conn:
                    conn.execute("UPDATE settings SET value = '\"open\"' WHERE key = 'mcp.send_policy'")
                job = structured(await session.call_tool(
                    "start_history_sync", {"chat_jid": group["jid"], "max_messages": 30, "wait_seconds": 20},
                    progress_callback=on_progress))
                check("remote: a sync job with progress notifications over HTTP",
                      job.get("state") == "done" and len(progress) >= 1, f"{job} {progress}")


def remote_checks(app, env, ctx):
    """Remote use: the app serves MCP over Streamable HTTP, behind a token, a
    Host/Origin allowlist, a size cap and a per-client rate limit."""
    import socket as sockets
    probe = sockets.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with archive.connect(ctx["db"], KEY) as conn:
        for key, value in (("mcp.remote.requests_per_minute", "60"), ("mcp.remote.max_request_kb", "1024"),
                           ("mcp.send_policy", '"read_only"')):
            conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, 0) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
    log = open(os.path.join(ctx["home"], "remote-app.log"), "w")
    proc = subprocess.Popen([app, "--headless", "--remote", f"127.0.0.1:{port}"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/mcp"
    token_file = os.path.join(ctx["data_dir"], "demo", "remote-token")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(token_file) and http(url, {})[0] != 0:
                break
            time.sleep(0.2)
        token = open(token_file).read().strip()
        check("remote: a 64-digit token in a file only the user can read", len(token) == 64
              and stat.S_IMODE(os.stat(token_file).st_mode) == 0o600)
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
        code, headers, body = http(url, init)
        check("remote: no token, no entry (401, says what to send)", code == 401 and "Bearer" in body
              and headers.get("www-authenticate") == "Bearer", f"{code} {body[:200]}")
        code, _, _ = http(url, init, {"Authorization": "Bearer " + "0" * 64})
        check("remote: a wrong token is refused", code == 401, str(code))
        good = {"Authorization": f"Bearer {token}"}
        code, _, body = http(url, init, good)
        check("remote: the right token is let in", code == 200 and "whatsapp-mcp" in body, f"{code} {body[:200]}")
        code, _, _ = http(url, init, {**good, "Host": "attacker.example"})
        check("remote: a foreign Host header is refused (DNS rebinding)", code == 403, str(code))
        code, _, _ = http(url, init, {**good, "Origin": "https://attacker.example"})
        check("remote: a web page's Origin is refused", code == 403, str(code))
        code, _, _ = http(url, dict(init, padding="x" * 2_000_000), good)
        check("remote: a request over the size cap is refused (413)", code in (413, 0), str(code))
        asyncio.run(remote_session(url, token, ctx))
        codes = [http(url, init, good)[0] for _ in range(80)]
        limited = [c for c in codes if c == 429]
        code, headers, body = http(url, init, good)
        check("remote: a client over its rate limit gets 429 with Retry-After", limited and code == 429
              and int(headers.get("retry-after", "0")) >= 1 and "wait" in body, f"{codes[-5:]} {code} {body[:100]}")
        check("remote: the app keeps serving the local socket meanwhile", os.path.exists(env["WHATSAPP_MCP_SOCKET"]))
        proc.terminate()
        proc.wait(timeout=20)
        check("remote: the app stops cleanly", proc.returncode == 0, str(proc.returncode))
        taken = sockets.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = subprocess.run([app, "--headless", "--remote", f"127.0.0.1:{taken.getsockname()[1]}"], env=env,
                              capture_output=True, text=True, timeout=60)
        taken.close()
        check("remote: a port in use is said in words and the app does not start half-way", busy.returncode != 0
              and "already uses that port" in busy.stderr, busy.stderr[-300:])
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        with archive.connect(ctx["db"], KEY) as conn:
            conn.execute("DELETE FROM settings WHERE key LIKE 'mcp.remote.%' OR key = 'mcp.send_policy'")


def claude_desktop_entry_works(helper, env, ctx):
    """`whatsapp-mcp register` writes Claude Desktop's entry under the test HOME;
    launching exactly what it says (command, args, env) gives a working MCP server."""
    os.makedirs(os.path.join(ctx["home"], ".config", "Claude"), exist_ok=True)
    cli_env = {k: v for k, v in env.items() if k != "XDG_CONFIG_HOME"}
    done = subprocess.run([helper, "register", "--client", "claude_desktop"], env=cli_env, capture_output=True,
                          text=True, timeout=30)
    check("whatsapp-mcp register connects Claude Desktop", done.returncode == 0 and "connected" in done.stdout,
          done.stdout + done.stderr)
    with open(os.path.join(ctx["home"], ".config", "Claude", "claude_desktop_config.json")) as f:
        entry = json.load(f)["mcpServers"]["whatsapp"]

    async def launch():
        # As Claude Desktop does: the entry's command and args, its env over the user's.
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env={**env, **entry["env"]})
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                return init.server_info.name, len((await session.list_tools()).tools)

    name, tools = asyncio.run(launch())
    check("the written Claude Desktop entry launches a working MCP server", name == "whatsapp-mcp" and tools == 29,
          f"{name} {tools}")
    status = subprocess.run([helper, "status"], env=cli_env, capture_output=True, text=True, timeout=30)
    check("whatsapp-mcp status says Claude Desktop is connected", "Claude Desktop is connected." in status.stdout,
          status.stdout)


def mcpb_bundle_works(bundle, env, ctx):
    """The Claude Desktop extension: unpack it as Claude Desktop does and launch
    what its manifest says (with ${__dirname} filled in)."""
    import zipfile
    where = os.path.join(ctx["home"], "extension")
    with zipfile.ZipFile(bundle) as z:
        z.extractall(where)
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
    with open(os.path.join(where, "manifest.json")) as f:
        manifest = json.load(f)
    config = manifest["server"]["mcp_config"]
    command = config["command"].replace("${__dirname}", where)
    check("the .mcpb's manifest names the helper inside it, executable", manifest["server"]["type"] == "binary"
          and os.path.exists(command) and modes.get(manifest["server"]["entry_point"], 0) & 0o100,
          f"{manifest['server']} {modes}")
    os.chmod(command, 0o755)

    async def launch():
        params = StdioServerParameters(command=command, args=config.get("args", []), env={**env, **config.get("env", {})})
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                status = await session.call_tool("backend_status", {})
                return init.server_info.name, structured(status).get("state")

    name, state = asyncio.run(launch())
    check("the Claude Desktop extension reaches the running app", name == "whatsapp-mcp" and state == "connected",
          f"{name} {state}")


def inspector_checks(inspector, helper, env):
    """The MCP Inspector's CLI (a second client we did not write) lists and calls tools."""
    args = [inspector, "--cli"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]

    def run(*extra):
        done = subprocess.run(args + [helper, *extra], capture_output=True, text=True, timeout=120)
        out = done.stdout
        start = out.find("{")
        try:
            # The first JSON value; the CLI may print more after it.
            return json.JSONDecoder().raw_decode(out[start:])[0] if start >= 0 else {}, done
        except ValueError:
            return {}, done

    listed, done = run("--method", "tools/list")
    check("inspector: tools/list through the helper", len(listed.get("tools", [])) == 29,
          (done.stdout + done.stderr)[-300:])
    called, done = run("--method", "tools/call", "--tool-name", "backend_status")
    body = json.loads(called.get("content", [{}])[0].get("text", "{}") or "{}") if called.get("content") else {}
    check("inspector: tools/call backend_status", body.get("state") == "connected", (done.stdout + done.stderr)[-300:])


def doctor_bundle(helper, env, ctx):
    """`whatsapp-mcp doctor --bundle`: the redacted report, with the facts and without
    any phone number, chat ID or message text the session touched."""
    done = subprocess.run([helper, "doctor", "--bundle"], env=env, capture_output=True, text=True, timeout=60)
    found = re.search(r"Written to (\S+\.txt)\.", done.stdout)
    text = open(found.group(1), encoding="utf-8").read() if found and os.path.exists(found.group(1)) else ""
    check("doctor --bundle writes the diagnostic report and says where", done.returncode == 0 and bool(text)
          and "Version:" in text and "integrity check: ok" in text and "Connected" in text, done.stdout[-400:])
    leaked = sorted(s for s in ctx.get("secrets", set()) if s in text)
    check(f"the report holds no phone number, chat ID or message text ({len(ctx.get('secrets', ()))} looked for)",
          text and not leaked, str(leaked[:5]))
    check("the report is the user's alone (0600)", found and stat.S_IMODE(os.stat(found.group(1)).st_mode) == 0o600)
    wrong = subprocess.run([helper, "doctor", "--bundel"], env=env, capture_output=True, text=True, timeout=60)
    check("a misspelt doctor option is refused in words", wrong.returncode == 2 and "--bundle" in wrong.stderr,
          wrong.stderr)


def logs_leak_nothing(data_dir, secrets):
    """After a whole session (sync, reads, searches, sends, refusals, errors), the
    app's and the helper's logs hold none of the numbers and texts it touched."""
    logs = {}
    for path in glob.glob(os.path.join(data_dir, "logs", "*.log")):
        with open(path, encoding="utf-8", errors="replace") as f:
            logs[os.path.basename(path)] = f.read()
    written = "\n".join(logs.values())
    check("the app and the helper both wrote logs of the session", "app.log" in logs and "helper.log" in logs
          and "starting" in logs["app.log"] and len(secrets) > 50, f"{sorted(logs)} / {len(secrets)} secrets")
    leaked = sorted(s for s in secrets if s in written)
    check(f"no phone number, chat ID or message text in the logs ({len(secrets)} looked for)", not leaked,
          str(leaked[:5]))
    mode = {name: stat.S_IMODE(os.stat(os.path.join(data_dir, "logs", name)).st_mode) for name in logs}
    check("log files are the user's alone (0600)", all(m == 0o600 for m in mode.values()), str(mode))


def main():
    helper, app = (os.path.abspath(p) for p in sys.argv[1:3])
    inspector = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
    bundle = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else None
    home = tempfile.mkdtemp(prefix="wamcp-e2e-")
    data_dir = os.path.join(home, "data")
    socket_path = os.path.join(home, "run", "app.sock")
    env = {
        "HOME": home,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "WHATSAPP_MCP_DATA_DIR": data_dir,
        "WHATSAPP_MCP_SOCKET": socket_path,
        "WHATSAPP_MCP_APP": app,
        "WHATSAPP_MCP_DEMO": "1",
        "WHATSAPP_MCP_LOG": "info",
        "WHATSAPP_MCP_PASSPHRASE": PASSPHRASE,
    }
    ctx = {"home": home, "data_dir": data_dir, "db": os.path.join(data_dir, "demo", "messages.db")}
    try:
        asyncio.run(with_session(helper, env, lambda s, i: main_session(s, i, ctx)))
        doctor = subprocess.run([helper, "doctor"], env=env, capture_output=True, text=True, timeout=60)
        check("doctor: all well while the app runs (exit 0)", doctor.returncode == 0
              and "WhatsApp: Connected" in doctor.stdout and "integrity check" in doctor.stdout
              and "Remote use is off" in doctor.stdout, doctor.stdout[-600:])
        doctor_bundle(helper, env, ctx)
        with open(ctx["db"], "rb") as f:
            head = f.read(16)
        check("the archive on disk is encrypted (not plain SQLite); SQLCipher opens it with the passphrase",
              head != b"SQLite format 3\0" and archive.count_messages(ctx["db"], KEY) > 1000, repr(head))
        check("doctor: says the archive is encrypted with the passphrase",
              "encrypted with your passphrase" in doctor.stdout, doctor.stdout[-600:])
        daily = os.path.join(data_dir, "demo", "backups")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not glob.glob(os.path.join(daily, "messages-*.db")):
            time.sleep(0.5)
        made = glob.glob(os.path.join(daily, "messages-*.db"))
        check("the running app writes its daily backup of the archive (backups/messages-<time>.db, 0600)",
              len(made) == 1 and stat.S_IMODE(os.stat(made[0]).st_mode) == 0o600, str(made))
        claude_desktop_entry_works(helper, env, ctx)
        if bundle:
            mcpb_bundle_works(bundle, env, ctx)
        if inspector:
            inspector_checks(inspector, helper, env)
        robustness(helper, env)
        failures, took = asyncio.run(crowd(helper, env))
        check(f"50 clients x 200 calls at once all answered ({took:.1f} s)", not failures, str(failures[:3]))
        other_user = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                     "/usr/bin/python3", "-c",
                                     "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])",
                                     socket_path], capture_output=True, text=True, timeout=30)
        check("another local user cannot connect to the socket", other_user.returncode != 0
              and "Permission denied" in other_user.stderr, other_user.stderr[-200:])
        check("the app's socket is the user's alone", os.path.exists(socket_path)
              and stat.S_IMODE(os.stat(socket_path).st_mode) == 0o600
              and stat.S_IMODE(os.stat(os.path.dirname(socket_path)).st_mode) == 0o700)
        # The app the helper started keeps running for the next assistant; stop it.
        subprocess.run(["pkill", "-TERM", "-f", f"{app} --headless"], check=False)
        deadline = time.monotonic() + 15
        while os.path.exists(socket_path) and time.monotonic() < deadline:
            time.sleep(0.1)
        check("the app stops cleanly on SIGTERM and removes its socket", not os.path.exists(socket_path))
        doctor = subprocess.run([helper, "doctor"], env=env, capture_output=True, text=True, timeout=60)
        check("doctor: says the app is not running, with what to do (exit 1)", doctor.returncode == 1
              and "not answering (it is not running)" in doctor.stdout and "What to do" in doctor.stdout,
              doctor.stdout[-600:])
        remote_checks(app, env, ctx)
        broken = dict(env, WHATSAPP_MCP_APP="/nonexistent/whatsapp-mcp-desktop")
        asyncio.run(with_session(helper, broken, lambda s, i: fallback_session(s, i, ctx)))
        wrong = dict(env, WHATSAPP_MCP_PASSPHRASE="not the passphrase")
        doctor = subprocess.run([helper, "doctor"], env=wrong, capture_output=True, text=True, timeout=60)
        check("doctor: a wrong passphrase is said in words, and the archive is left as it was",
              doctor.returncode == 1 and "passphrase is not the one it was locked with" in doctor.stdout
              and archive.count_messages(ctx["db"], KEY) > 1000, doctor.stdout[-600:])
        logs_leak_nothing(data_dir, ctx.get("secrets", set()))
    finally:
        subprocess.run(["pkill", "-KILL", "-f", f"{app} --headless"], check=False)
        logs = os.path.join(data_dir, "logs", "helper.log")
        if os.path.exists(logs):
            os.makedirs("artifacts", exist_ok=True)
            shutil.copy(logs, os.path.join("artifacts", "helper.log"))
        shutil.rmtree(home, ignore_errors=True)
    finish("mcp e2e")


if __name__ == "__main__":
    main()
