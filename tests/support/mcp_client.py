# An MCP client as assistants run one, for tests/mcp-clients.test.ts: the official MCP Python SDK
# (`mcp` on PyPI) connects to shoal, lists the tools and calls the ones it is told to, in order.
#
# Reads one JSON object on stdin:
#   {"server": <an mcpServers entry: {"url": ...} or {"command": ..., "args": [...], "env": {...}}>,
#    "cwd": <folder a command is started in>, "calls": [[tool, arguments], ...]}
# and prints one JSON object on stdout: {"protocolVersion", "serverInfo", "tools", "calls"}, where tools
# are the tools/list entries and calls the tools/call results, as the SDK parsed them.
import asyncio
import json
import sys

from mcp import Client, StdioServerParameters


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def main() -> None:
    spec = json.load(sys.stdin)
    entry = spec["server"]
    if "url" in entry:
        server = entry["url"]
    else:
        # As an assistant starts a stdio server: the entry's command, args and env (over the SDK's small
        # default environment, not this process's), in a folder of the client's choosing.
        server = StdioServerParameters(command=entry["command"], args=entry.get("args", []), env=entry.get("env"), cwd=spec["cwd"])
    async with Client(server) as client:
        listed = await client.list_tools()
        calls = []
        for name, arguments in spec["calls"]:
            calls.append(dump(await client.call_tool(name, arguments)))
        info = client.server_info
        print(json.dumps({
            "protocolVersion": client.protocol_version,
            "serverInfo": dump(info) if info else None,
            "tools": [dump(tool) for tool in listed.tools],
            "calls": calls,
        }))


asyncio.run(main())
