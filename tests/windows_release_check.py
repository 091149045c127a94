#!/usr/bin/env python3
"""The release workflow's check on real Windows (windows-install job): the
official MCP SDK starts the installed helper, which starts the installed app
beside it (headless, demo account: WHATSAPP_MCP_DEMO and _HEADLESS set by the
caller) over the named pipe; the demo archive fills and a search answers.

    python tests/windows_release_check.py "%LOCALAPPDATA%/Programs/WhatsApp MCP Desktop/whatsapp-mcp.exe"

Here, under Wine, tests/windows_e2e.py does the same and more; this runs where
Wine cannot: Windows itself, with WebView2 installed.
"""

import asyncio
import json
import os
import sys
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from checks import check, finish


def structured(result):
    if result.structured_content is not None:
        return result.structured_content
    try:
        return json.loads("".join(getattr(c, "text", "") for c in result.content))
    except ValueError:
        return {}


async def run(helper):
    async with stdio_client(StdioServerParameters(command=helper, args=[], env=dict(os.environ))) as (read, write):
        async with ClientSession(read, write) as s:
            started = time.monotonic()
            init = await s.initialize()
            check("the installed helper started the installed app and the handshake answered",
                  init.server_info.name == "whatsapp-mcp", str(init.server_info))
            print(f"     helper cold start: {time.monotonic() - started:.2f} s", flush=True)
            status = {}
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                status = structured(await s.call_tool("backend_status", {}))
                if status.get("messages", 0) > 100:
                    break
                await asyncio.sleep(1)
            check("the demo archive fills", status.get("messages", 0) > 100, str(status))
            found = structured(await s.call_tool("search_messages", {"query": "the", "limit": 5}))
            check("a search answers", len(found.get("items", [])) == 5, str(found)[:300])


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1]))
    finish("windows release check")
