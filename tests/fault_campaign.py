"""Fault campaign: the whole app (headless, on the demo's simulated account)
through a long history sync while it is killed, its network misbehaves, its
clock jumps and a second copy starts beside it. The archive is encrypted (a
passphrase here: no keychain in this environment) and read with SQLCipher's
own Python binding.

    fault_campaign.py HELPER APP [--kills N]

Half-way, the phone logs this computer out in the middle of the sync: the
app keeps running and says so, nothing stored is lost, and the next start
links again (the demo phone scans the new code).

Bounded run (./dev test): 100 kills. Long run: --kills 1000 (see docs/testing.md).

After every kill: SQLite's integrity_check passes; every message the archive
held before is still there (nothing acknowledged is lost); no message is
stored twice; the sync job is still open, or done. At the end, with the faults
off, the job finishes and the archive holds exactly the messages of a control
run that had no faults (each once, every chat complete), and the app says it
is connected. Then a full
disk, and a read-only one.
"""

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

import archive
from checks import check, finish

PASSPHRASE = "fault campaign passphrase"
KEY = "passphrase:" + PASSPHRASE
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def env_for(home, app, faults=False, clock=None, logout_after=None):
    env = {
        "HOME": home,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "WHATSAPP_MCP_DATA_DIR": os.path.join(home, "data"),
        "WHATSAPP_MCP_SOCKET": os.path.join(home, "run", "app.sock"),
        "WHATSAPP_MCP_APP": app,
        "WHATSAPP_MCP_DEMO": "1",
        "WHATSAPP_MCP_LOG": "info",
        "WHATSAPP_MCP_PASSPHRASE": PASSPHRASE,
        # The demo phone answers in 100 ms instead of 300 ms: its 50,000
        # messages fit the CI's time, and the kills still land mid-sync.
        "WHATSAPP_MCP_DEMO_LATENCY_MS": "100",
    }
    if faults:
        # The demo phone drops the connection, answers 503 or refuses history
        # requests as too many, every 2 s on average.
        env["WHATSAPP_MCP_DEMO_FAULTS"] = "2"
    if logout_after:
        # The person removes this computer under Linked devices on the phone.
        env["WHATSAPP_MCP_DEMO_LOGOUT_AFTER"] = str(logout_after)
    if clock:
        # The wall clock jumps (timers keep the monotonic clock, as on a real machine).
        env.update(LD_PRELOAD=FAKETIME, FAKETIME=clock, FAKETIME_DONT_FAKE_MONOTONIC="1")
    return env


def db_path(home):
    return os.path.join(home, "data", "demo", "messages.db")


def start(home, app, log, **kw):
    return subprocess.Popen([app, "--headless", "--demo"], env=env_for(home, app, **kw), stdout=log,
                            stderr=subprocess.STDOUT)


def query(home, sql):
    with archive.connect(db_path(home), KEY, read_only=True) as conn:
        return conn.execute(sql).fetchall()


def keys(home):
    rows = query(home, "SELECT c.jid, m.msg_id, s.jid FROM messages m JOIN chats c ON c.id = m.chat_id "
                       "JOIN contacts s ON s.id = m.sender_id")
    return rows


def wait_for(predicate, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except Exception:  # noqa: BLE001 - not there yet (file missing, app starting)
            found = None
        if found:
            return found
        time.sleep(interval)
    return None


def incomplete_chats(home):
    """Chats with messages whose history is not marked complete."""
    return query(home, "SELECT count(*) FROM chats c WHERE EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id) "
                       "AND NOT EXISTS (SELECT 1 FROM sync_checkpoints s WHERE s.chat_id = c.id "
                       "AND s.state = 'complete')")[0][0]


def demo_linked(home):
    rows = query(home, "SELECT value FROM settings WHERE key = 'demo.linked'")
    return rows[0][0] if rows else None


def doctor(helper, home, app):
    return subprocess.run([helper, "doctor"], env=env_for(home, app), capture_output=True, text=True, timeout=60)


def logout_episode(helper, home, app, log, before):
    """The phone logs this computer out in the middle of the sync: the app
    keeps running and says so, the archive keeps everything; the next start
    shows a QR code again, which the demo phone scans: linked again."""
    seen = {}
    proc = start(home, app, log, faults=True, logout_after=3)
    said = wait_for(lambda: "unlinked from your phone" in doctor(helper, home, app).stdout, 40, 1)
    seen["told"] = bool(said)
    seen["running"] = proc.poll() is None
    seen["unlinked"] = bool(wait_for(lambda: demo_linked(home) == "false", 10))
    now = keys(home)
    seen["sound"] = query(home, "PRAGMA integrity_check") == [("ok",)]
    seen["kept"] = before <= set(now) and len(now) == len(set(now))
    seen["job"] = job_state(home)
    proc.kill()
    proc.wait(30)
    proc = start(home, app, log)
    seen["relinked"] = bool(wait_for(lambda: demo_linked(home) == "true", 120, 1))
    proc.kill()
    proc.wait(30)
    return seen, set(keys(home))


def job_state(home):
    rows = query(home, "SELECT state FROM sync_jobs WHERE kind = 'full' ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else None


async def start_full_sync(helper, home, app):
    # An assistant's history fetch is an act the person allows (issue 20); the
    # headless app has no window to ask in, so the person's policy here is open.
    with archive.connect(db_path(home), KEY) as conn:
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('mcp.send_policy', '\"open\"', 0) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    params = StdioServerParameters(command=helper, args=[], env=env_for(home, app))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            out = await session.call_tool("start_history_sync", {})
            if out.is_error:
                print("start_history_sync:", "".join(getattr(c, "text", "") for c in out.content))
            return not out.is_error


def linked_and_syncing(helper, home, app, log, **kw):
    """Start the app, wait until the demo phone linked it, start the full sync."""
    proc = start(home, app, log, **kw)
    linked = wait_for(lambda: query(home, "SELECT 1 FROM settings WHERE key = 'demo.linked'"), 60)
    # The job starts while the phone's first history is still landing, as when
    # a person chooses "everything" in the wizard: chats that arrive later are
    # the job's too.
    time.sleep(1)
    started = linked and asyncio.run(start_full_sync(helper, home, app))
    return proc, bool(started)


def quiet(home):
    """Wait until no message has arrived for 10 s (at most 3 minutes)."""
    last, quiet_since = -1, time.monotonic()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and time.monotonic() - quiet_since < 10:
        count = query(home, "SELECT count(*) FROM messages")[0][0]
        if count != last:
            last, quiet_since = count, time.monotonic()
        time.sleep(1)


def settle(helper, home, app, timeout=600):
    """A second full sync once everything has landed: the fixed point both
    runs must reach (the first one's reach depends on when the phone's own
    history push landed, faults or not). Returns its final state."""
    asyncio.run(start_full_sync(helper, home, app))
    wait_for(lambda: job_state(home) in ("done", "failed"), timeout, 1)
    quiet(home)
    return job_state(home)


def run_to_the_end(home, app, log, timeout):
    """Run until the job is over and nothing more arrives (the phone's own
    history push may still be landing when the job ends)."""
    proc = start(home, app, log)
    done = wait_for(lambda: job_state(home) in ("done", "failed"), timeout, 1)
    last, quiet_since = -1, time.monotonic()
    deadline = time.monotonic() + 180
    while done and time.monotonic() < deadline and time.monotonic() - quiet_since < 10:
        count = query(home, "SELECT count(*) FROM messages")[0][0]
        if count != last:
            last, quiet_since = count, time.monotonic()
        time.sleep(1)
    return proc, done and job_state(home)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def control_run(helper, app, artifacts):
    home = tempfile.mkdtemp(prefix="wamcp-control-")
    log = open(os.path.join(artifacts, "faults-control.log"), "w")
    try:
        proc, started = linked_and_syncing(helper, home, app, log)
        stop(proc)
        check("control: the demo phone links and a full history sync starts", started)
        began = time.monotonic()
        proc, state = run_to_the_end(home, app, log, 900)
        check(f"control: the full sync finishes without faults ({time.monotonic() - began:.0f} s)", state == "done",
              str(state))
        check("control: a second full sync settles it", settle(helper, home, app) == "done")
        stop(proc)
        left = incomplete_chats(home)
        check("control: every chat's history is complete", left == 0, f"{left} chats not complete")
        return set(keys(home))
    finally:
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def campaign(helper, app, artifacts, kills, expected):
    home = tempfile.mkdtemp(prefix="wamcp-faults-")
    log = open(os.path.join(artifacts, "faults-campaign.log"), "w")
    rng = random.Random(20261126)
    problems = {"integrity": [], "lost": [], "duplicates": [], "job": []}
    try:
        proc, started = linked_and_syncing(helper, home, app, log, faults=True)
        check("campaign: linked and a full history sync started on a bad network", started)
        before = set()
        clock_jumps = 0
        episode = None
        for i in range(kills):
            if i and i == kills // 2:
                episode, before = logout_episode(helper, home, app, log, before)
            if i:
                clock = None
                if i % 10 == 4:
                    clock, clock_jumps = "+8h", clock_jumps + 1
                elif i % 10 == 7:
                    clock, clock_jumps = "-8h", clock_jumps + 1
                proc = start(home, app, log, faults=True, clock=clock)
            time.sleep(rng.uniform(0.4, 3.0))
            proc.kill()  # SIGKILL: no shutdown, no flush
            proc.wait(30)
            integrity = query(home, "PRAGMA integrity_check")
            if integrity != [("ok",)]:
                problems["integrity"].append((i, integrity[:3]))
            now = keys(home)
            if len(now) != len(set(now)):
                problems["duplicates"].append((i, len(now) - len(set(now))))
            lost = before - set(now)
            if lost:
                problems["lost"].append((i, len(lost)))
            if job_state(home) not in ("queued", "running", "paused", "done"):
                problems["job"].append((i, job_state(home)))
            before = set(now)
        print(f"     {kills} kills, {clock_jumps} starts with the clock 8 h off, {len(before)} messages at the last kill",
              flush=True)
        check(f"after each of {kills} SIGKILLs the archive passes integrity_check", not problems["integrity"],
              str(problems["integrity"][:3]))
        check("after each kill every message stored before is still there", not problems["lost"],
              str(problems["lost"][:3]))
        check("no message is ever stored twice", not problems["duplicates"], str(problems["duplicates"][:3]))
        check("the sync job survives every kill (open, or done)", not problems["job"], str(problems["job"][:3]))
        check("the campaign made progress between kills", len(before) > 0)
        if episode is not None:
            check("logout from the phone mid-sync: the app keeps running and says so (doctor)",
                  episode["told"] and episode["running"], str(episode))
            check("logout: the archive is sound and keeps every message, once", episode["sound"] and episode["kept"],
                  str(episode))
            check("logout: the sync job stays open, waiting for a link", episode["job"] in ("running", "paused"),
                  str(episode))
            check("logout: the next start shows a code again, and the phone links it", episode["unlinked"]
                  and episode["relinked"], str(episode))

        # Two copies at once: one runs, the other says so and leaves.
        copies = [subprocess.Popen([app, "--headless", "--demo"], env=env_for(home, app), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True) for _ in range(2)]
        left = wait_for(lambda: [c for c in copies if c.poll() is not None], 60)
        time.sleep(3)
        running = [c for c in copies if c.poll() is None]
        said = left[0].communicate()[0] if left else ""
        check("two copies started at once: one runs, the other stops and says one is running", left and len(left) == 1
              and len(running) == 1 and left[0].returncode != 0 and "already" in said.lower(), said[-300:])
        for c in running:
            stop(c)

        # The faults stop: the sync resumes from its checkpoints and finishes.
        proc, state = run_to_the_end(home, app, log, 900)
        check("with the faults gone the interrupted sync resumes and finishes", state == "done", str(state))
        said = doctor(helper, home, app)
        check("the app says it is connected", "WhatsApp: Connected" in said.stdout, said.stdout[-400:])
        check("a second full sync settles it, as in the control run", settle(helper, home, app) == "done")
        stop(proc)
        final = keys(home)
        check("the archive holds exactly the messages of the control run, each once",
              len(final) == len(set(final)) and set(final) == expected,
              f"{len(set(final))} vs {len(expected)}; missing {len(expected - set(final))}, "
              f"extra {len(set(final) - expected)}, doubled {len(final) - len(set(final))}")
        print(f"     control run: {len(expected)} messages; after the campaign: {len(set(final))}", flush=True)
        left = incomplete_chats(home)
        check("every chat's history is complete", left == 0, f"{left} chats not complete")
        check("and passes integrity_check at the end", query(home, "PRAGMA integrity_check") == [("ok",)])
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def as_root(*cmd):
    return subprocess.run(([] if os.geteuid() == 0 else ["sudo"]) + list(cmd), capture_output=True, text=True,
                          timeout=60)


def disk_phase(helper, app, artifacts):
    """The data folder on a small disk (tmpfs) that fills up in the middle of
    the sync; then it grows; then it is made read-only."""
    home = tempfile.mkdtemp(prefix="wamcp-disk-")
    data = os.path.join(home, "data")
    os.makedirs(data)
    mounted = as_root("mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", data)
    if not check("a 3 MB disk for the data folder (tmpfs)", mounted.returncode == 0, mounted.stderr):
        return
    log = open(os.path.join(artifacts, "faults-disk.log"), "w")
    proc = None
    try:
        proc, started = linked_and_syncing(helper, home, app, log)
        check("disk: linked and a full sync started on the small disk", started)
        full = wait_for(lambda: "disk" in open(log.name).read().lower() and "full" in open(log.name).read().lower(),
                        120, 1)
        check("disk: the app notices the disk is full", full)
        time.sleep(3)
        check("disk: a full disk does not stop the app", proc.poll() is None, str(proc.poll()))
        check("disk: the archive on the full disk is sound", query(home, "PRAGMA integrity_check") == [("ok",)])
        said = doctor(helper, home, app)
        check("disk: the app's status says the disk is full and what to do (doctor)", said.returncode == 1
              and "is full. Free some space" in said.stdout, said.stdout[-800:])
        before = set(keys(home))
        grown = as_root("mount", "-o", "remount,size=256m", data)
        check("disk: the disk grows (remount)", grown.returncode == 0, grown.stderr)
        done = wait_for(lambda: job_state(home) == "done", 300, 1)
        check("disk: with space again the sync finishes by itself", done, str(query(
            home, "SELECT state, last_error FROM sync_jobs ORDER BY id DESC LIMIT 1")))
        check("disk: and the status is back to normal", "is full" not in doctor(helper, home, app).stdout)
        check("disk: nothing stored before was lost", before <= set(keys(home)))
        stop(proc)
        sealed = open(db_path(home), "rb").read()
        as_root("mount", "-o", "remount,ro", data)
        ro = subprocess.run([app, "--headless", "--demo"], env=env_for(home, app), capture_output=True, text=True,
                            timeout=60)
        check("read-only disk: the app refuses to start and says why", ro.returncode != 0
              and ("read-only" in ro.stderr or "cannot be written" in ro.stderr), ro.stderr[-400:])
        check("read-only disk: the archive is untouched", open(db_path(home), "rb").read() == sealed)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        log.close()
        as_root("umount", "-l", data)
        shutil.rmtree(home, ignore_errors=True)


def main():
    helper, app = (os.path.abspath(p) for p in sys.argv[1:3])
    kills = int(sys.argv[sys.argv.index("--kills") + 1]) if "--kills" in sys.argv else 100
    artifacts = os.path.abspath("artifacts")
    os.makedirs(artifacts, exist_ok=True)
    if "--disk-only" in sys.argv:
        disk_phase(helper, app, artifacts)
        finish("fault campaign (disk)")
    expected = control_run(helper, app, artifacts)
    check("control: the full history is in the archive", len(expected) > 5_000, str(len(expected)))
    campaign(helper, app, artifacts, kills, expected)
    disk_phase(helper, app, artifacts)
    finish("fault campaign")


if __name__ == "__main__":
    main()
