"""Derive a tool's JSON schema from Python source without running it: signature, annotations, docstring.

Only the AST is read (registering a tool must never execute user code in the server). Supported
annotations: ``str int float bool``, ``list[X]``/``List[X]``, ``dict[str, X]``/``Dict[str, X]``,
``X | None``/``Optional[X]``, ``Literal[...]`` and ``Any``. Argument descriptions come from a Google-style
(``Args:``) or NumPy-style (``Parameters`` + dashes) docstring.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from voice_letta.errors import ToolError

RESERVED_ARGS = frozenset({"pre_exec_msg", "self", "cls"})
_SIMPLE = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_LIST = {"list", "List", "Sequence", "tuple", "Tuple"}
_DICT = {"dict", "Dict", "Mapping"}


@dataclass(frozen=True, slots=True)
class PythonToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema (object)
    is_async: bool


def _fail(message: str, node: ast.AST | None = None) -> ToolError:
    where = f" (line {node.lineno})" if node is not None and hasattr(node, "lineno") else ""
    return ToolError(f"{message}{where}", code="invalid_tool_source")


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):  # typing.List, t.Optional
        return node.attr
    return None


def annotation_schema(node: ast.expr) -> dict[str, Any]:
    """JSON schema of one annotation; raises ToolError for what cannot be mapped soundly."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            return annotation_schema(ast.parse(node.value, mode="eval").body)
        except SyntaxError as exc:
            raise _fail(f"unreadable annotation {node.value!r}", node) from exc
    if isinstance(node, ast.Constant) and node.value is None:
        return {"type": "null"}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([node.left, node.right], node)
    name = _name_of(node)
    if name is not None:
        if name in _SIMPLE:
            return {"type": _SIMPLE[name]}
        if name in _LIST:
            return {"type": "array"}
        if name in _DICT:
            return {"type": "object"}
        if name == "Any":
            return {}
        raise _fail(f"unsupported annotation {ast.unparse(node)!r}", node)
    if isinstance(node, ast.Subscript):
        base = _name_of(node.value)
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base in _LIST and base in {"tuple", "Tuple"}:
            if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
                return {"type": "array", "items": annotation_schema(args[0])}
            return {
                "type": "array",
                "prefixItems": [annotation_schema(a) for a in args],
                "minItems": len(args),
                "maxItems": len(args),
            }
        if base in _LIST and len(args) == 1:
            return {"type": "array", "items": annotation_schema(args[0])}
        if base in _DICT and len(args) == 2:
            if _name_of(args[0]) != "str":
                raise _fail("dict keys must be str in a tool signature", node)
            return {"type": "object", "additionalProperties": annotation_schema(args[1])}
        if base == "Optional" and len(args) == 1:
            return _union([args[0], ast.Constant(value=None)], node)
        if base == "Union":
            return _union(args, node)
        if base == "Literal":
            values = []
            for a in args:
                if not isinstance(a, ast.Constant) or not isinstance(a.value, str | int | float | bool):
                    raise _fail("Literal values must be str, int, float or bool", node)
                values.append(a.value)
            kinds = {type(v) for v in values}
            schema: dict[str, Any] = {"enum": values}
            if len(kinds) == 1:
                schema["type"] = {str: "string", int: "integer", float: "number", bool: "boolean"}[kinds.pop()]
            return schema
    raise _fail(f"unsupported annotation {ast.unparse(node)!r}", node)


def _union(members: list[ast.expr], node: ast.expr) -> dict[str, Any]:
    schemas = [annotation_schema(m) for m in members]
    nullable = any(s == {"type": "null"} for s in schemas)
    rest = [s for s in schemas if s != {"type": "null"}]
    if len(rest) == 1:
        inner = dict(rest[0])
        if nullable and isinstance(inner.get("type"), str):
            inner["type"] = [inner["type"], "null"]
            if "enum" in inner:
                inner["enum"] = [*inner["enum"], None]
            return inner
        return {"anyOf": [inner, {"type": "null"}]} if nullable else inner
    return {"anyOf": schemas}


# --- docstrings ----------------------------------------------------------------------------------------

_GOOGLE_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params)\s*:\s*$")
_NUMPY_SECTION = re.compile(r"^\s*(Parameters|Params|Arguments)\s*$")
_SECTION_END = re.compile(r"^\s*(Returns?|Yields?|Raises|Examples?|Notes?|See Also|Attributes|Warnings?)\s*:?\s*$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Summary (everything before the first section) and per-argument descriptions."""
    if not doc:
        return "", {}
    lines = doc.expandtabs().splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if _GOOGLE_SECTION.match(line):
            i = _parse_google(lines, i + 1, args)
            continue
        if _NUMPY_SECTION.match(line) and re.match(r"^\s*-{3,}\s*$", nxt):
            i = _parse_numpy(lines, i + 2, args)
            continue
        if _SECTION_END.match(line) or (re.match(r"^\s*-{3,}\s*$", nxt) and line.strip()):
            i = _skip_section(lines, i + 1)
            continue
        if not args:
            summary.append(line.strip())
        i += 1
    return " ".join(s for s in summary if s).strip(), args


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _parse_google(lines: list[str], i: int, args: dict[str, str]) -> int:
    base: int | None = None
    current: str | None = None
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if base is None:
            base = _indent(line)
        if _indent(line) < base or _SECTION_END.match(line):
            break
        m = re.match(r"^\s*\*{0,2}(\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", line)
        if _indent(line) == base and m:
            current = m.group(1)
            args[current] = m.group(3).strip()
        elif current is not None:
            args[current] = f"{args[current]} {line.strip()}".strip()
        i += 1
    return i


def _parse_numpy(lines: list[str], i: int, args: dict[str, str]) -> int:
    current: str | None = None
    base: int | None = None
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.match(r"^\s*-{3,}\s*$", nxt):
            break  # next section
        if not line.strip():
            i += 1
            continue
        if base is None:
            base = _indent(line)
        if _indent(line) == base:
            current = re.split(r"\s*:\s*", line.strip(), maxsplit=1)[0]
            args[current] = ""
        elif current is not None:
            args[current] = f"{args[current]} {line.strip()}".strip()
        i += 1
    return i


def _skip_section(lines: list[str], i: int) -> int:
    while i < len(lines) and not _GOOGLE_SECTION.match(lines[i]) and not _NUMPY_SECTION.match(lines[i]):
        i += 1
    return i


# --- the function --------------------------------------------------------------------------------------


def parse_python_tool(source: str, name: str | None = None) -> PythonToolSpec:
    """Find the tool function in ``source`` and derive its schema. Raises ``ToolError`` with line numbers."""
    try:
        tree = ast.parse(source, filename="<tool>")
    except SyntaxError as exc:
        raise ToolError(
            f"syntax error in tool source at line {exc.lineno}, column {exc.offset}: {exc.msg}",
            code="invalid_tool_source",
        ) from exc
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    if name is not None:
        chosen = [f for f in funcs if f.name == name]
        if not chosen:
            raise ToolError(f"no top-level function named {name!r} in the tool source", code="invalid_tool_source")
    else:
        chosen = [f for f in funcs if not f.name.startswith("_")]
        if not chosen:
            raise ToolError("no top-level function found in the tool source", code="invalid_tool_source")
        if len(chosen) > 1:
            names = ", ".join(f.name for f in chosen)
            raise ToolError(f"several functions ({names}) and no name given: pass name=", code="invalid_tool_source")
    fn = chosen[0]
    a = fn.args
    if a.vararg or a.kwarg:
        raise _fail(f"{fn.name}: *args and **kwargs cannot be described by a schema", fn)
    if a.posonlyargs:
        raise _fail(f"{fn.name}: positional-only parameters are not supported", fn)
    summary, arg_docs = parse_docstring(ast.get_docstring(fn))
    positional = list(a.args)
    defaults: dict[str, ast.expr] = dict(
        zip([p.arg for p in positional[len(positional) - len(a.defaults) :]], a.defaults, strict=True)
    )
    for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        if d is not None:
            defaults[p.arg] = d
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in [*positional, *a.kwonlyargs]:
        if p.arg in RESERVED_ARGS:
            raise _fail(f"{fn.name}: the parameter name {p.arg!r} is reserved", p)
        if p.annotation is None:
            raise _fail(f"{fn.name}: parameter {p.arg!r} needs a type annotation", p)
        schema = annotation_schema(p.annotation)
        if arg_docs.get(p.arg):
            schema["description"] = arg_docs[p.arg]
        if p.arg in defaults:
            try:
                schema["default"] = ast.literal_eval(defaults[p.arg])
            except ValueError as exc:
                raise _fail(f"{fn.name}: the default of {p.arg!r} must be a literal", p) from exc
        else:
            required.append(p.arg)
        properties[p.arg] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    return PythonToolSpec(
        name=fn.name,
        description=summary,
        parameters=parameters,
        is_async=isinstance(fn, ast.AsyncFunctionDef),
    )
