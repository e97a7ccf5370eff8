"""Schema derivation from tool source, and the registration errors users see."""

from __future__ import annotations

import pytest

from voice_letta.agent.models import Tool
from voice_letta.errors import ToolError
from voice_letta.tools_runtime.schema_from_python import parse_docstring, parse_python_tool
from voice_letta.tools_runtime.schema_from_typescript import spec_from_report
from voice_letta.tools_runtime.validation import check_arguments, check_schema, format_output


def test_google_docstring_and_annotations_become_a_schema() -> None:
    src = '''
from typing import Literal, Optional

def book(city: str, nights: int, budget: float | None = None, tags: list[str] = [],
         kind: Literal["hotel", "hostel"] = "hotel", notes: Optional[dict[str, int]] = None) -> str:
    """Book a room.

    Longer text.

    Args:
        city: where to stay
        nights (int): how many
            nights in total
        budget: max price

    Returns:
        a confirmation
    """
'''
    spec = parse_python_tool(src)
    assert spec.name == "book"
    assert spec.description == "Book a room. Longer text."
    p = spec.parameters
    assert p["required"] == ["city", "nights"]
    assert p["properties"]["city"] == {"type": "string", "description": "where to stay"}
    assert p["properties"]["nights"] == {"type": "integer", "description": "how many nights in total"}
    assert p["properties"]["budget"]["type"] == ["number", "null"]
    assert p["properties"]["tags"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert p["properties"]["kind"] == {"enum": ["hotel", "hostel"], "type": "string", "default": "hotel"}
    assert p["properties"]["notes"]["type"] == ["object", "null"]
    check_schema(p)


def test_numpy_docstring_descriptions() -> None:
    summary, args = parse_docstring(
        "Sum two numbers.\n\nParameters\n----------\na : int\n    The first.\nb : int\n    The second.\n\n"
        "Returns\n-------\nint\n"
    )
    assert summary == "Sum two numbers."
    assert args == {"a": "The first.", "b": "The second."}


def test_async_function_and_explicit_name() -> None:
    spec = parse_python_tool("async def a(x: int) -> int: ...\ndef b(y: bool) -> None: ...\n", name="a")
    assert spec.is_async and spec.parameters["properties"] == {"x": {"type": "integer"}}


@pytest.mark.parametrize(
    ("source", "name", "message"),
    [
        ("def f(x: int):\n    return (\n", None, "syntax error in tool source at line 2"),
        ("x = 1\n", None, "no top-level function"),
        ("def f(x: int): ...\ndef g(y: int): ...\n", None, "several functions (f, g) and no name given"),
        ("def f(x: int): ...\n", "g", "no top-level function named 'g'"),
        ("def f(x: set[int]): ...\n", None, "unsupported annotation 'set[int]' (line 1)"),
        ("def f(x): ...\n", None, "parameter 'x' needs a type annotation"),
        ("def f(*args: int): ...\n", None, "*args and **kwargs"),
        ("def f(pre_exec_msg: str): ...\n", None, "reserved"),
        ("\n\ndef f(x: dict[int, str]): ...\n", None, "dict keys must be str in a tool signature (line 3)"),
    ],
)
def test_malformed_python_source_is_a_clear_error(source: str, name: str | None, message: str) -> None:
    with pytest.raises(ToolError) as err:
        parse_python_tool(source, name)
    assert message in err.value.message
    assert err.value.code == "invalid_tool_source"


def _report(*params: dict, diagnostics: list | None = None, name: str = "f") -> dict:
    base = {"destructured": False, "rest": False, "optional": False, "description": "", "typeText": "x"}
    return {
        "diagnostics": diagnostics or [],
        "functions": [
            {"name": name, "exported": True, "description": "Does f.", "params": [{**base, **p} for p in params]}
        ],
    }


def test_typescript_schema_is_derived_when_sound_and_checked_when_given() -> None:
    report = _report(
        {"name": "a", "type": {"type": "number"}}, {"name": "b", "type": {"type": "string"}, "optional": True}
    )
    spec = spec_from_report(report, name=None, description=None, parameters=None)
    assert spec.parameters == {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "number"}, "b": {"type": "string"}},
    }
    given = {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "integer"}}, "required": ["a"]}
    spec = spec_from_report(report, name="f", description="mine", parameters=given)
    assert list(spec.parameters["properties"]) == ["a", "b"]  # reordered to the function's parameter order
    assert spec.description == "mine"


@pytest.mark.parametrize(
    ("report", "schema", "message"),
    [
        (
            _report(diagnostics=[{"line": 3, "column": 7, "message": "',' expected."}]),
            None,
            "line 3, column 7: ',' expected.",
        ),
        (
            _report({"name": "a", "type": None, "typeText": "Foo"}),
            None,
            "cannot derive a JSON schema for parameter 'a' of type Foo",
        ),
        (
            _report({"name": "a", "type": {"type": "number"}}),
            {"type": "object", "properties": {"z": {}}},
            "do not match the parameters of f",
        ),
        (
            _report({"name": "a", "type": {"type": "number"}}),
            {"type": "object", "properties": {"a": {"type": 5}}},
            "invalid JSON schema at properties/a/type",
        ),
        (_report({"name": "a", "type": {"type": "number"}}), {"type": "array"}, '"type": "object"'),
        (_report({"name": "a", "type": None, "destructured": True}), None, "destructured"),
        ({"diagnostics": [], "functions": []}, None, "no exported function"),
    ],
)
def test_malformed_typescript_and_schema_mismatch_are_clear_errors(
    report: dict, schema: dict | None, message: str
) -> None:
    with pytest.raises(ToolError) as err:
        spec_from_report(report, name=None, description=None, parameters=schema)
    assert message in err.value.message


def test_arguments_are_validated_and_filler_dropped() -> None:
    tool = Tool(
        id="t", name="f", parameters={"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    )
    assert check_arguments(tool, {"x": 1, "pre_exec_msg": "hm"}) == {"x": 1}
    with pytest.raises(ToolError, match="argument 'x'"):
        check_arguments(tool, {"x": "1"})
    with pytest.raises(ToolError, match="'x' is a required property"):
        check_arguments(tool, {})
    assert format_output({"a": [1]}) == '{"a":[1]}'
    assert format_output("plain") == "plain"
