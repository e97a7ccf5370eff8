"""REST for custom tools (Python/TypeScript source run in the sandbox) and MCP servers.

    POST   /v1/tools                      {"source_type": "python"|"typescript", "source": "...", "name"?,
                                           "description"?, "parameters"? (TypeScript JSON schema), "options"?}
    GET    /v1/tools                      list (source omitted)      GET /v1/tools/{id}   with source
    DELETE /v1/tools/{id}
    POST   /v1/tools/{id}/run             {"arguments": {...}} → {"outcome": ok|error|timeout|memory|killed, "result",
                                           "error", "stdout", "stderr", "truncated", "duration_ms"}; no turn needed
    GET    /v1/sandbox                    the sandbox's settings and the isolation level in force
    POST   /v1/agents/{agent_id}/tools/{tool_id}     attach      DELETE …  detach
    POST   /v1/mcp/servers                {"name", "command"?: [...], "url"?, "transport"?, "env"?, "files"?,
                                           "network"?: {"allow": [...]}} → tools found, "sandboxed"
    GET    /v1/mcp/servers                DELETE /v1/mcp/servers/{name}
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from voice_letta.agent.models import Tool, ToolNetwork, ToolOptions
from voice_letta.errors import ToolError
from voice_letta.server.http_admin import parse_body
from voice_letta.server.keys import STORE, TOOLS

routes = web.RouteTableDef()


class ToolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_type: Literal["python", "typescript"]
    source: str = Field(min_length=1)
    name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    description: str | None = None
    parameters: dict[str, Any] | None = None
    options: ToolOptions = Field(default_factory=ToolOptions)


class ToolRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arguments: dict[str, Any] = Field(default_factory=dict)


class McpServerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    command: list[str] | None = None
    url: str | None = None
    transport: Literal["stdio", "streamable_http", "sse"] | None = None
    env: dict[str, str] | None = None
    files: list[str] | None = None  # host paths a sandboxed stdio server may read (its own code, say)
    network: ToolNetwork | None = None  # where a sandboxed stdio server may connect


def tool_json(tool: Tool, *, with_source: bool = False) -> dict[str, Any]:
    data = tool.model_dump(mode="json")
    if not with_source:
        data.pop("source_code", None)
    data["options"]["env"] = sorted(tool.options.env)  # names only: values may be secrets
    return data


@routes.post("/v1/tools")
async def create_tool(request: web.Request) -> web.Response:
    req = await parse_body(request, ToolCreate)
    service = request.app[TOOLS]
    if req.source_type == "python":
        if req.parameters is not None:
            raise ToolError("Python tools derive their schema from the signature; omit 'parameters'",
                            code="invalid_tool_schema")
        tool = await service.register_python(req.source, name=req.name, description=req.description,
                                             options=req.options)
    else:
        tool = await service.register_typescript(req.source, req.parameters, name=req.name,
                                                 description=req.description, options=req.options)
    return web.json_response(tool_json(tool), status=201)


@routes.get("/v1/tools")
async def list_tools(request: web.Request) -> web.Response:
    tools = await request.app[STORE].list_tools()
    return web.json_response({"object": "list", "data": [tool_json(t) for t in tools]})


@routes.get("/v1/tools/{tool_id}")
async def get_tool(request: web.Request) -> web.Response:
    tool = await request.app[STORE].get_tool(request.match_info["tool_id"])
    return web.json_response(tool_json(tool, with_source=True))


@routes.delete("/v1/tools/{tool_id}")
async def delete_tool(request: web.Request) -> web.Response:
    await request.app[STORE].delete_tool(request.match_info["tool_id"])
    return web.json_response({"id": request.match_info["tool_id"], "deleted": True})


@routes.post("/v1/tools/{tool_id}/run")
async def run_tool(request: web.Request) -> web.Response:
    """Run a tool without a turn, to debug it: arguments are checked against its schema (400 if they do not fit),
    then it runs exactly as a model's call would, and every detail of how it ended comes back."""
    req = await parse_body(request, ToolRunRequest)
    tool = await request.app[STORE].get_tool(request.match_info["tool_id"])
    run = await request.app[TOOLS].run(tool, req.arguments)
    return web.json_response({"tool_id": tool.id, "name": tool.name, **run.as_json()})


@routes.get("/v1/sandbox")
async def sandbox_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[TOOLS].sandbox_status())


@routes.post("/v1/agents/{agent_id}/tools/{tool_id}")
async def attach_tool(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await store.get_tool(request.match_info["tool_id"])
    await store.attach_tool(request.match_info["agent_id"], request.match_info["tool_id"])
    agent = await store.get_agent(request.match_info["agent_id"])
    return web.json_response({"agent_id": agent.id, "tools": [t.name for t in agent.tools]})


@routes.delete("/v1/agents/{agent_id}/tools/{tool_id}")
async def detach_tool(request: web.Request) -> web.Response:
    store = request.app[STORE]
    await store.detach_tool(request.match_info["agent_id"], request.match_info["tool_id"])
    agent = await store.get_agent(request.match_info["agent_id"])
    return web.json_response({"agent_id": agent.id, "tools": [t.name for t in agent.tools]})


@routes.post("/v1/mcp/servers")
async def add_mcp_server(request: web.Request) -> web.Response:
    req = await parse_body(request, McpServerCreate)
    if (req.command is None) == (req.url is None):
        raise ToolError("give exactly one of 'command' (stdio) or 'url' (HTTP)", code="invalid_mcp_server")
    service = request.app[TOOLS]
    tools = await service.add_mcp_server(req.name, command=req.command, url=req.url, transport=req.transport,
                                         env=req.env, files=req.files,
                                         network_allow=req.network.allow if req.network else None)
    sandboxed = service.mcp is not None and service.mcp.is_sandboxed(req.name)
    return web.json_response({"name": req.name, "sandboxed": sandboxed, "tools": [tool_json(t) for t in tools]},
                             status=201)


@routes.get("/v1/mcp/servers")
async def list_mcp_servers(request: web.Request) -> web.Response:
    manager = request.app[TOOLS].mcp
    servers = manager.list_servers() if manager is not None else []
    data = []
    for s in servers:
        item = s.model_dump(mode="json")
        item.pop("env", None)
        item["connected"] = manager.is_connected(s.name) if manager is not None else False
        item["sandboxed"] = manager.is_sandboxed(s.name) if manager is not None else False
        data.append(item)
    return web.json_response({"object": "list", "data": data})


@routes.delete("/v1/mcp/servers/{name}")
async def remove_mcp_server(request: web.Request) -> web.Response:
    await request.app[TOOLS].remove_mcp_server(request.match_info["name"])
    return web.json_response({"name": request.match_info["name"], "deleted": True})
