"""Tool schemas as the voice agent shows them to a model: voice-safe filter, spoken filler, strict mode."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from voice_letta.agent.models import VOICE_SAFE_TOOL_TYPES, AgentState, Tool, ToolType
from voice_letta.agent.ports import ToolSpec

PRE_EXEC_MSG = "pre_exec_msg"

_FILLER_DESCRIPTION = (
    "A short, natural sentence spoken aloud while the tool runs, like a person announcing what they are "
    "about to do (for example: 'Let me look that up.'). End it with punctuation."
)


def add_pre_exec_msg(parameters: dict[str, Any], description: str = _FILLER_DESCRIPTION) -> dict[str, Any]:
    """Return a copy of an object schema whose first property and first required item is pre_exec_msg."""
    schema: dict[str, Any] = copy.deepcopy(parameters) if parameters else {"type": "object", "properties": {}}
    schema.setdefault("type", "object")
    props: dict[str, Any] = dict(schema.get("properties") or {})
    props.pop(PRE_EXEC_MSG, None)
    schema["properties"] = {PRE_EXEC_MSG: {"type": "string", "description": description}, **props}
    required = [r for r in schema.get("required", []) if r != PRE_EXEC_MSG]
    schema["required"] = [PRE_EXEC_MSG, *required]
    return schema


def make_strict(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI strict mode: every property required, optional ones nullable, no additional properties."""
    out = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "object" or "properties" in node:
            props: dict[str, Any] = node.setdefault("properties", {})
            required = set(node.get("required", []))
            for name, prop in props.items():
                visit(prop)
                if name not in required:
                    _make_nullable(prop)
            node["required"] = list(props)
            node["additionalProperties"] = False
        if "items" in node:
            visit(node["items"])
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                visit(sub)
        for sub in node.get("$defs", {}).values():
            visit(sub)

    visit(out)
    return out


def _make_nullable(prop: dict[str, Any]) -> None:
    kind = prop.get("type")
    if isinstance(kind, str) and kind != "null":
        prop["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        prop["type"] = [*kind, "null"]
    elif kind is None and "anyOf" in prop and not any(s.get("type") == "null" for s in prop["anyOf"]):
        prop["anyOf"] = [*prop["anyOf"], {"type": "null"}]


SEARCH_MEMORY = "search_memory"

SEARCH_MEMORY_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "convo_keyword_queries": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "description": (
                "Extra keywords or names to search for (an order id, a place, a person). Null when the user's "
                "words already say what to look for; the user's latest utterance is always searched."
            ),
        },
        "start_minutes_ago": {
            "type": ["integer", "null"],
            "description": "Newer bound of the time window, in minutes before now. Null for no bound.",
        },
        "end_minutes_ago": {
            "type": ["integer", "null"],
            "description": "Older bound of the time window, in minutes before now. Null for no bound.",
        },
    },
    "required": ["convo_keyword_queries", "start_minutes_ago", "end_minutes_ago"],
    "additionalProperties": False,
}

SEARCH_MEMORY_DESCRIPTION = (
    "Search long-term memory and earlier conversations that are no longer visible. Use it only when the user "
    "refers to something you should know that is neither in the visible conversation nor in your memory "
    "blocks. It is comparatively slow."
)

_SEARCH_FILLER = (
    "A natural sentence, a little longer than usual, spoken while you search your notes, for example: "
    "'Let me check my notes from our earlier conversations, one moment.' End it with punctuation."
)


@dataclass(frozen=True, slots=True)
class DriverTool:
    """A tool the conversation's driver runs itself, offered for one turn beside the agent's own: a phone call's
    ``end_call`` and ``transfer_call``. It gets the spoken filler like any voice tool; ``run`` receives the
    validated arguments (without the filler) and returns the result the model sees. ``ends_turn``: after it
    ran, the turn ends without another model call (the filler was the last thing said)."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], Awaitable[str]]
    ends_turn: bool = False


@dataclass(frozen=True, slots=True)
class ExposedTool:
    """A tool as offered to the model, with what the loop needs to run it."""

    spec: ToolSpec
    tool: Tool | None  # None for the built-in search_memory and for client tools
    filler: bool
    client: bool = False
    _validator: Any = None
    driver: DriverTool | None = None

    def validate(self, arguments: dict[str, Any]) -> str | None:
        """Return a readable error when the arguments do not match the schema, else None."""
        errors = sorted(self._validator.iter_errors(arguments), key=lambda e: list(e.path))
        if not errors:
            return None
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "arguments"
        return f"{where}: {first.message}"


def _exposed(spec: ToolSpec, tool: Tool | None, *, filler: bool, client: bool = False) -> ExposedTool:
    validator_cls = jsonschema.validators.validator_for(spec.parameters, jsonschema.Draft202012Validator)
    return ExposedTool(spec, tool, filler, client, validator_cls(spec.parameters))


def voice_tools(agent: AgentState) -> list[ExposedTool]:
    """The agent's voice-safe tools plus search_memory, each with pre_exec_msg unless the tool opted out."""
    strict = agent.llm.strict
    out: list[ExposedTool] = []
    for tool in agent.tools:
        if tool.type not in VOICE_SAFE_TOOL_TYPES or tool.name == SEARCH_MEMORY:
            continue
        params = tool.parameters
        if tool.options.filler:
            params = add_pre_exec_msg(params)
        if strict:
            params = make_strict(params)
        out.append(_exposed(ToolSpec(tool.name, tool.description, params, strict), tool, filler=tool.options.filler))
    search_params = add_pre_exec_msg(SEARCH_MEMORY_PARAMETERS, _SEARCH_FILLER)
    if strict:
        search_params = make_strict(search_params)
    builtin = Tool(id="builtin-search_memory", name=SEARCH_MEMORY, type=ToolType.LETTA_BUILTIN,
                   description=SEARCH_MEMORY_DESCRIPTION, parameters=SEARCH_MEMORY_PARAMETERS,
                   source_type="builtin")
    out.append(_exposed(ToolSpec(SEARCH_MEMORY, SEARCH_MEMORY_DESCRIPTION, search_params, strict), builtin,
                        filler=True))
    return out


def driver_tool(t: DriverTool, *, strict: bool = False) -> ExposedTool:
    """A driver's tool, with the spoken filler argument first."""
    params = add_pre_exec_msg(t.parameters)
    if strict:
        params = make_strict(params)
    spec = ToolSpec(t.name, t.description, params, strict)
    validator_cls = jsonschema.validators.validator_for(spec.parameters, jsonschema.Draft202012Validator)
    return ExposedTool(spec, None, True, False, validator_cls(spec.parameters), t)


def own_tool_names(agent: AgentState) -> frozenset[str]:
    """The names of the tools the server offers the model for this agent (``voice_tools``), without building them."""
    return frozenset({SEARCH_MEMORY, *(t.name for t in agent.tools if t.type in VOICE_SAFE_TOOL_TYPES)})


def client_tool_problem(specs: Sequence[ToolSpec], taken: frozenset[str] = frozenset()
                        ) -> tuple[int, str, str] | None:
    """Why a client's tools cannot be offered to the model, as (index, field, message), or None. Providers refuse
    a request whose tool names repeat (Anthropic: "Tool names must be unique") or whose parameters are not an
    object schema, which a client's request would otherwise meet as a failed turn and a spoken apology; a name the
    server's own tools use (``taken``: search_memory, the agent's tools) would also route the model's calls of
    one to the other."""
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.name in taken:
            return i, "name", f"tool name {spec.name!r} is taken by one of the agent's own tools: rename it"
        if spec.name in seen:
            return i, "name", f"tool name {spec.name!r} is given twice"
        seen.add(spec.name)
        if spec.parameters.get("type") != "object":
            return i, "parameters", "a tool's parameters must be a JSON Schema of type 'object'"
    return None


def client_tool(spec: ToolSpec) -> ExposedTool:
    """A tool the HTTP client offered; the client runs it, so its schema is passed through untouched."""
    return _exposed(spec, None, filler=False, client=True)


def lenient_arguments(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """A server-run tool's arguments as a model outside OpenAI's strict mode writes them, made to fit its schema where
    the intent is plain: an omitted nullable property (or the spoken filler) is null (or none), a string where a list
    of strings goes is that one-item list, a nested list there is flattened (nulls dropped, numbers as text), "60"
    where an integer goes is 60, and a name the schema does not have
    is dropped when it allows no others. Each of these cost a tool round ("'start_minutes_ago' is a required
    property"), three of them the whole turn. Anything else is left for validation to refuse."""
    props = schema.get("properties") or {}
    out = dict(args) if schema.get("additionalProperties", True) is not False else \
        {k: v for k, v in args.items() if k in props}
    for name, prop in props.items():
        kinds = prop.get("type") if isinstance(prop, dict) else None
        kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
        value = out.get(name, ...)
        if value is ...:
            if name == PRE_EXEC_MSG:
                out[name] = ""
            elif "null" in kinds:
                out[name] = None
        elif isinstance(value, str) and "string" not in kinds:
            if "array" in kinds and (prop.get("items") or {}).get("type") == "string":
                out[name] = [value]
            elif "integer" in kinds and value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        elif isinstance(value, list) and "array" in kinds and (prop.get("items") or {}).get("type") == "string":
            # The embedded model nests its keywords ([["array"], ["null"]]) or leaves a null or a number among them:
            # refused, the search never ran and every retry repeated it. One flat list of the strings (numbers as
            # text: an order id), nulls dropped.
            flat = [x for v in value for x in (v if isinstance(v, list) else [v])]
            if all(x is None or (isinstance(x, str | int | float) and not isinstance(x, bool)) for x in flat):
                out[name] = [x if isinstance(x, str) else str(x) for x in flat if x is not None]
    return out


def salvaged_search_arguments(schema: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """search_memory's arguments with each one that does not fit its schema made null (the filler empty). The user's
    latest words are always searched, so a model's unusable extras cost nothing there, where a refusal cost a tool
    round: the embedded model wrote objects among the keywords (``[{"id": "4389650213-9bdda", "name": "…"}]``) and
    repeated them until the rounds ran out, and the question never reached the memory."""
    props = schema.get("properties") or {}
    return {name: value if jsonschema.Draft202012Validator(props[name]).is_valid(value)
            else ("" if name == PRE_EXEC_MSG else None) for name, value in args.items() if name in props}


def parse_arguments(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a model's argument JSON; return (arguments, error)."""
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(value, dict):
        return None, "arguments must be a JSON object"
    return value, None
