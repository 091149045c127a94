#!/usr/bin/env python3
"""MCP benchmark (not a test): `./dev bench` runs it after the Rust benchmarks.

    python tests/bench_mcp.py path/to/whatsapp-mcp path/to/whatsapp-mcp-desktop

With the app running headless on the demo account, in one run:
- cold start of the `whatsapp-mcp` helper to its `initialize` answer
  (a new process that connects to the running app), beside the cold start of
  a minimal MCP server written with the official Python SDK (one tool);
- a tool round trip (`backend_status`) through helper + socket, beside the same
  call straight on the app's socket, so the helper's own cost shows.
Prints a Markdown table; goals: cold start <= 30 ms, helper overhead <= 2 ms p50.
"""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

INIT = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}) + "\n"
INITIALIZED = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"

PY_SERVER = """
from mcp.server.mcpserver import MCPServer
mcp = MCPServer("minimal")
@mcp.tool()
def ping() -> str:
    return "pong"
mcp.run()
"""


def call(n):
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                       "params": {"name": "backend_status", "arguments": {}}}) + "\n"


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round((len(s) - 1) * p)))]


def cold_start(cmd, env, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        proc.stdin.write(INIT.encode())
        proc.stdin.flush()
        line = proc.stdout.readline()
        times.append((time.perf_counter() - start) * 1000)
        assert b'"result"' in line, line[:200]
        proc.stdin.close()
        proc.kill()
        proc.wait()
    return times


def round_trips(write, readline, runs):
    write(INIT)
    readline()
    write(INITIALIZED)
    times = []
    for n in range(runs):
        start = time.perf_counter()
        write(call(100 + n))
        line = readline()
        times.append((time.perf_counter() - start) * 1000)
        assert b'"result"' in line, line[:200]
    return times


def main():
    helper, app = (os.path.abspath(p) for p in sys.argv[1:3])
    home = tempfile.mkdtemp(prefix="wamcp-bench-")
    sock = os.path.join(home, "run", "app.sock")
    env = dict(os.environ, HOME=home, WHATSAPP_MCP_DATA_DIR=os.path.join(home, "data"),
               WHATSAPP_MCP_SOCKET=sock, WHATSAPP_MCP_APP=app, WHATSAPP_MCP_DEMO="1", WHATSAPP_MCP_LOG="warn")
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    app_proc = subprocess.Popen([app, "--headless"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.05)
        cold_start([helper], env, 3)  # warm the page cache
        helper_cold = cold_start([helper], env, 30)
        py_cold = cold_start([sys.executable, "-c", PY_SERVER], env, 10)

        proc = subprocess.Popen([helper], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)

        def w(text):
            proc.stdin.write(text.encode())
            proc.stdin.flush()

        via_helper = round_trips(w, proc.stdout.readline, 1000)
        proc.stdin.close()
        proc.wait()

        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        f = s.makefile("rwb")

        def ws(text):
            f.write(text.encode())
            f.flush()

        direct = round_trips(ws, f.readline, 1000)
        s.close()
    finally:
        app_proc.terminate()
        app_proc.wait(15)
        shutil.rmtree(home, ignore_errors=True)

    print("# MCP benchmark\n")
    print("| Measure | p50 (ms) | p95 (ms) | runs |")
    print("|---|---:|---:|---:|")
    print(f"| Helper cold start to `initialize` answer (app running) | {pct(helper_cold, .5):.1f} | "
          f"{pct(helper_cold, .95):.1f} | {len(helper_cold)} |")
    print(f"| Baseline: minimal Python SDK server cold start to `initialize` | {pct(py_cold, .5):.1f} | "
          f"{pct(py_cold, .95):.1f} | {len(py_cold)} |")
    print(f"| `backend_status` round trip through helper + socket | {pct(via_helper, .5):.2f} | "
          f"{pct(via_helper, .95):.2f} | {len(via_helper)} |")
    print(f"| `backend_status` round trip straight on the socket | {pct(direct, .5):.2f} | "
          f"{pct(direct, .95):.2f} | {len(direct)} |")
    overhead = statistics.median(via_helper) - statistics.median(direct)
    cold = pct(helper_cold, .5)
    print(f"\nHelper overhead per call (p50 difference): {overhead:.2f} ms (goal <= 2 ms: "
          f"{'met' if overhead <= 2 else 'MISSED'}). Cold start p50 {cold:.1f} ms (goal <= 30 ms: "
          f"{'met' if cold <= 30 else 'MISSED'}); {pct(py_cold, .5) / cold:.0f}x faster than the Python SDK server.")


if __name__ == "__main__":
    main()
