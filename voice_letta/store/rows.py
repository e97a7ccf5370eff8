"""Row codecs: domain models to SQL parameters and back. Nothing here touches the database.

Nested values are pydantic JSON (``model_dump_json`` / ``model_validate_json``); embeddings are float32
little-endian BLOBs. Column lists and row tuples are kept side by side so they cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from voice_letta.agent.models import (
    AgentState,
    Block,
    BufferConfig,
    EmbeddingConfig,
    ImagePart,
    LLMConfig,
    Message,
    Passage,
    Tool,
    ToolCall,
    ToolOptions,
    TurnRecord,
    Usage,
    VoiceSettings,
)
from voice_letta.agent.recall.features import encode_passage
from voice_letta.agent.recall.text import encode_terms

Row = Sequence[Any]

_TOOL_CALLS = TypeAdapter(list[ToolCall])
_PARAMETERS = TypeAdapter(dict[str, Any])
_TIMINGS = TypeAdapter(dict[str, float])
_F32_LE = np.dtype("<f4")

# --- agents --------------------------------------------------------------------------------------------
AGENT_COLUMNS = (
    "id, name, system, llm, sleeptime_llm, embedding, buffer, client_system_prompt, max_tool_rounds, "
    "turn_budget_s, memory_target_label, handoff_on_session_end, created_at, voice, timezone"
)
_N_AGENT_COLUMNS = len(AGENT_COLUMNS.split(","))


def agent_params(a: AgentState) -> tuple[Any, ...]:
    return (
        a.id, a.name, a.system, a.llm.model_dump_json(),
        a.sleeptime_llm.model_dump_json() if a.sleeptime_llm is not None else None,
        a.embedding.model_dump_json(), a.buffer.model_dump_json(), a.client_system_prompt,
        a.max_tool_rounds, a.turn_budget_s, a.memory_target_label, int(a.handoff_on_session_end),
        a.created_at, a.voice.model_dump_json(exclude_defaults=True), a.timezone,
    )


# One round trip for a whole agent: its row plus its blocks and tools aggregated as JSON arrays, each
# element led by its link position. REALs go through printf('%!.17g') because SQLite's JSON keeps only 15
# significant digits.
AGENT_WITH_LINKS = (
    f"SELECT {', '.join('a.' + c.strip() for c in AGENT_COLUMNS.split(','))}, "
    "(SELECT json_group_array(json_array(ab.position, b.id, b.label, b.value, b.char_limit, b.description, "
    "  b.read_only, b.version)) FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id "
    "  WHERE ab.agent_id = a.id), "
    "(SELECT json_group_array(json_array(lt.position, t.id, t.name, t.type, t.description, t.parameters, "
    "  t.source_type, t.source_code, t.options, t.mcp_server, printf('%!.17g', t.created_at))) "
    "  FROM agent_tools lt JOIN tools t ON t.id = lt.tool_id WHERE lt.agent_id = a.id) "
    "FROM agents a"
)


def agent_from_linked_row(r: Row) -> AgentState:
    """Decode a row of ``AGENT_WITH_LINKS``."""
    blocks = [block_from_row(b[1:]) for b in sorted(json.loads(r[_N_AGENT_COLUMNS]), key=lambda b: b[0])]
    tools = [
        tool_from_row((*t[1:10], float(t[10])))
        for t in sorted(json.loads(r[_N_AGENT_COLUMNS + 1]), key=lambda t: t[0])
    ]
    return agent_from_row(r, blocks, tools)


def agent_from_row(r: Row, blocks: list[Block], tools: list[Tool]) -> AgentState:
    return AgentState(
        id=r[0], name=r[1], system=r[2], llm=LLMConfig.model_validate_json(r[3]),
        sleeptime_llm=LLMConfig.model_validate_json(r[4]) if r[4] is not None else None,
        embedding=EmbeddingConfig.model_validate_json(r[5]), buffer=BufferConfig.model_validate_json(r[6]),
        client_system_prompt=r[7], max_tool_rounds=r[8], turn_budget_s=r[9], memory_target_label=r[10],
        handoff_on_session_end=bool(r[11]), created_at=r[12], voice=VoiceSettings.model_validate_json(r[13]),
        timezone=r[14], blocks=blocks, tools=tools,
    )


# --- blocks --------------------------------------------------------------------------------------------
BLOCK_COLUMNS = "id, label, value, char_limit, description, read_only, version"


def block_params(b: Block) -> tuple[Any, ...]:
    return (b.id, b.label, b.value, b.limit, b.description, int(b.read_only), b.version)


def block_from_row(r: Row) -> Block:
    return Block(
        id=r[0], label=r[1], value=r[2], limit=r[3], description=r[4], read_only=bool(r[5]), version=r[6]
    )


# --- messages ------------------------------------------------------------------------------------------
MESSAGE_COLUMNS = (
    "id, agent_id, seq, role, content, tool_calls, tool_call_id, name, turn_id, created_at, interrupted, "
    "in_context, kind, parts"
)
_IMAGES: TypeAdapter[list[ImagePart]] = TypeAdapter(list[ImagePart])
# What ``append_messages`` binds: everything but ``seq``, which the store assigns, plus the keyword terms of user
# and assistant lines (``message_terms``; written, never read back into a ``Message``).
MESSAGE_INSERT_COLUMNS = MESSAGE_COLUMNS.replace(" seq,", "", 1) + ", terms"


def text_param(text: str | None) -> str | None:
    """Text as the store keeps it: a NUL character (U+0000), which PostgreSQL cannot store in text, becomes U+FFFD
    on every backend. The wires refuse NUL in input and providers drop it from model output (fallback.py); what is
    left is a tool's output (a sandboxed tool printing binary, an MCP server), which keeps its place marked."""
    return text.replace("\x00", "\ufffd") if text is not None and "\x00" in text else text


def stored_message(m: Message, seq: int) -> Message:
    """``m`` as ``append_messages`` stored it: numbered ``seq``, its text as ``text_param`` keeps it."""
    if m.content is not None and "\x00" in m.content:
        return m.model_copy(update={"seq": seq, "content": text_param(m.content)})
    return m.model_copy(update={"seq": seq})


def message_insert_params(m: Message) -> tuple[Any, ...]:
    content = text_param(m.content)
    return (
        m.id, m.agent_id, m.role, content,
        _TOOL_CALLS.dump_json(m.tool_calls).decode() if m.tool_calls is not None else None,
        m.tool_call_id, m.name, m.turn_id, m.created_at, int(m.interrupted), int(m.in_context), m.kind,
        _IMAGES.dump_json(m.images).decode() if m.images else None, message_terms(m.role, content),
    )


# SQL for ``terms`` when ``update_message`` may change the content ({content}: its parameter, {terms}: the
# parameter holding ``message_terms("user", content)``).
UPDATED_TERMS = ("CASE WHEN {content} IS NULL THEN terms WHEN role IN ('user', 'assistant') THEN {terms} "
                 "ELSE NULL END")


def message_terms(role: str, content: str | None) -> bytes | None:
    """The stored keyword terms of a line (``recall.text.encode_terms``): user and assistant lines only, the ones
    ``search_memory`` finds once they leave the context window."""
    return encode_terms(content) if role in ("user", "assistant") and content else None


def message_from_row(r: Row) -> Message:
    return Message(
        id=r[0], agent_id=r[1], seq=r[2], role=r[3], content=r[4],
        tool_calls=_TOOL_CALLS.validate_json(r[5]) if r[5] is not None else None,
        tool_call_id=r[6], name=r[7], turn_id=r[8], created_at=r[9], interrupted=bool(r[10]),
        in_context=bool(r[11]), kind=r[12], images=_IMAGES.validate_json(r[13]) if r[13] else [],
    )


# --- passages ------------------------------------------------------------------------------------------
PASSAGE_COLUMNS = (
    "id, agent_id, text, synopsis, embedding, embedding_model, embedding_dim, start_at, end_at, created_at, "
    "superseded_by, superseded_at, verbatim"
)
# Inserts also write the passage's keyword terms, computed once here instead of at every index load.
PASSAGE_INSERT_COLUMNS = PASSAGE_COLUMNS + ", terms"


def encode_embedding(values: Sequence[float]) -> bytes:
    return np.asarray(values, dtype=_F32_LE).tobytes()


def decode_embedding(blob: bytes) -> list[float]:
    values: list[float] = np.frombuffer(blob, dtype=_F32_LE).astype(np.float64).tolist()
    return values


def passage_params(p: Passage) -> tuple[Any, ...]:
    return (
        p.id, p.agent_id, text_param(p.text), text_param(p.synopsis),
        encode_embedding(p.embedding) if p.embedding is not None else None,
        p.embedding_model, p.embedding_dim, p.start_at, p.end_at, p.created_at, p.superseded_by, p.superseded_at,
        int(p.verbatim), encode_passage(p.text, p.synopsis),
    )


def passage_from_row(r: Row) -> Passage:
    return Passage(
        id=r[0], agent_id=r[1], text=r[2], synopsis=r[3],
        embedding=decode_embedding(r[4]) if r[4] is not None else None,
        embedding_model=r[5], embedding_dim=r[6], start_at=r[7], end_at=r[8], created_at=r[9],
        superseded_by=r[10], superseded_at=r[11], verbatim=bool(r[12]),
    )


# --- tools ---------------------------------------------------------------------------------------------
TOOL_COLUMNS = (
    "id, name, type, description, parameters, source_type, source_code, options, mcp_server, created_at"
)


def tool_params(t: Tool) -> tuple[Any, ...]:
    return (
        t.id, t.name, t.type.value, t.description, _PARAMETERS.dump_json(t.parameters).decode(),
        t.source_type, t.source_code, t.options.model_dump_json(), t.mcp_server, t.created_at,
    )


def tool_from_row(r: Row) -> Tool:
    return Tool(
        id=r[0], name=r[1], type=r[2], description=r[3], parameters=_PARAMETERS.validate_json(r[4]),
        source_type=r[5], source_code=r[6], options=ToolOptions.model_validate_json(r[7]),
        mcp_server=r[8], created_at=r[9],
    )


# --- turns ---------------------------------------------------------------------------------------------
TURN_COLUMNS = (
    "id, agent_id, fingerprint, stop_reason, usage, timings, steps, error, started_at, ended_at, status, "
    "idempotency_key, provider, model, fallback_used, first_token_ms"
)


def turn_params(t: TurnRecord) -> tuple[Any, ...]:
    return (
        t.id, t.agent_id, t.fingerprint, t.stop_reason, t.usage.model_dump_json(),
        _TIMINGS.dump_json(t.timings_ms).decode(), t.steps, t.error, t.started_at, t.ended_at, t.status,
        t.idempotency_key, t.provider, t.model, int(t.fallback_used), t.first_token_ms,
    )


def turn_from_row(r: Row) -> TurnRecord:
    return TurnRecord(
        id=r[0], agent_id=r[1], fingerprint=r[2], stop_reason=r[3], usage=Usage.model_validate_json(r[4]),
        timings_ms=_TIMINGS.validate_json(r[5]), steps=r[6], error=r[7], started_at=r[8], ended_at=r[9],
        status=r[10], idempotency_key=r[11], provider=r[12], model=r[13], fallback_used=bool(r[14]),
        first_token_ms=r[15],
    )


def placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def column_count(columns: str) -> int:
    return len(columns.split(","))
