"""The tool-call grammar of the embedded model: one ``{"name": <const>, "arguments": <bounded schema>}``
alternative per allowed tool, from ``<tool_call>`` to ``</tool_call>`` (GBNF through llama-cpp-python's
converter, with upstream llama.cpp's JSON string rule). See ``local_llm``."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from voice_letta.errors import ProviderBadRequest
from voice_letta.providers.local_llm_prompt import TRIGGER, TRIGGER_END, _Plan

if TYPE_CHECKING:
    from llama_cpp.llama_grammar import LlamaGrammar

    from voice_letta.providers.local_llm import _LoadedModel

FILLER_MAX_CHARS = 160  # grammar bounds on tool-argument strings without a maxLength of their own
STRING_MAX_CHARS = 300


def _call_schema(plan: _Plan) -> dict[str, Any]:
    """One ``{"name": <const>, "arguments": <bounded parameters>}`` alternative per allowed tool."""
    defs: dict[str, Any] = {}
    options: list[dict[str, Any]] = []
    for tool in plan.tools:
        params = dict(tool.parameters) or {"type": "object", "properties": {}}
        defs.update(params.pop("$defs", {}))
        params = _bounded(params)
        options.append(_object({"name": {"const": tool.name}, "arguments": params}))
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"oneOf": options}
    return {**schema, "$defs": defs} if defs else schema


# llama-cpp-python's converter lets raw control characters (newlines) into strings: invalid JSON, and a
# weak model drifts into prose through them. This is the rule of upstream llama.cpp.
_STRING_CHAR = re.compile(r"^char ::= .*$", re.MULTILINE)
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] | [\\] (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'


def _bounded(schema: dict[str, Any], name: str = "") -> dict[str, Any]:
    """Gives every free-text string a maxLength, so a weak model cannot ramble a tool call past its budget.

    A stricter schema accepts a subset of what the tool accepts, so the arguments stay valid."""
    out = dict(schema)
    if out.get("type") == "string" and not {"maxLength", "enum", "const", "pattern", "format"} & out.keys():
        bound = FILLER_MAX_CHARS if name == "pre_exec_msg" else STRING_MAX_CHARS
        out["maxLength"] = max(bound, out.get("minLength", 0))
    if isinstance(props := out.get("properties"), dict):
        out["properties"] = {k: _bounded(v, k) if isinstance(v, dict) else v for k, v in props.items()}
    if isinstance(items := out.get("items"), dict):
        out["items"] = _bounded(items)
    return out


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


_ROOT = re.compile(r"^root ::= ", re.MULTILINE)


def _grammar(model: _LoadedModel, plan: _Plan) -> LlamaGrammar:
    """``"<tool_call>" ws <one call JSON> ws "</tool_call>"``: it must match from the trigger on."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    key = json.dumps(_call_schema(plan), sort_keys=False)
    if (grammar := model.grammars.get(key)) is None:
        try:
            gbnf = _STRING_CHAR.sub(lambda _: _JSON_CHAR, json_schema_to_gbnf(key, prop_order=["pre_exec_msg"]))
            gbnf = _ROOT.sub("tc-call ::= ", gbnf, count=1)
            root = f"root ::= {json.dumps(TRIGGER)} tc-ws tc-call tc-ws {json.dumps(TRIGGER_END)}"
            gbnf = f"{gbnf}\n{root}\ntc-ws ::= [ \\t\\n]?\n"
            grammar = LlamaGrammar.from_string(gbnf, verbose=False)
        except Exception as e:
            raise ProviderBadRequest(f"a tool schema cannot be turned into a grammar: {e}") from e
        if len(model.grammars) >= 32:
            model.grammars.pop(next(iter(model.grammars)))
        model.grammars[key] = grammar
    return grammar


