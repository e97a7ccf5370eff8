"""Agents, blocks and tools on PostgreSQL: ``AgentsMixin`` of ``PostgresStore`` (the same contract as SQLite's)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from voice_letta.agent.models import AgentState, Block, Tool
from voice_letta.agent.ports import NewBlock
from voice_letta.errors import ConfigError, ConflictError, NotFoundError
from voice_letta.store import rows as R
from voice_letta.store.common import check_block_fields, new_block, updated_block
from voice_letta.store.postgres.base import PgBase, cols, params
from voice_letta.store.postgres.db import translate_errors

# An agent with its blocks and tools in one round trip, as rows.AGENT_WITH_LINKS does on SQLite.
_AGENT_WITH_LINKS = (
    f"SELECT {cols(R.AGENT_COLUMNS, 'a')}, "
    "coalesce((SELECT json_agg(json_build_array(ab.position, b.id, b.label, b.value, b.char_limit, b.description, "
    "  b.read_only, b.version)) FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id "
    "  WHERE ab.agent_id = a.id), '[]')::text, "
    "coalesce((SELECT json_agg(json_build_array(lt.position, t.id, t.name, t.type, t.description, t.parameters, "
    "  t.source_type, t.source_code, t.options, t.mcp_server, t.created_at)) "
    "  FROM agent_tools lt JOIN tools t ON t.id = lt.tool_id WHERE lt.agent_id = a.id), '[]')::text "
    "FROM agents a"
)
_SELECT_BLOCK = f"SELECT {R.BLOCK_COLUMNS} FROM blocks"
_SELECT_TOOL = f"SELECT {R.TOOL_COLUMNS} FROM tools"


class AgentsMixin(PgBase):
    # --- agents --------------------------------------------------------------------------------------
    async def create_agent(self, agent: AgentState, blocks: Sequence[NewBlock | str], *,
                           claim_name: bool = False) -> AgentState:
        async with self._tx("create_agent") as db:
            if await db.fetchval("SELECT 1 FROM agents WHERE id = $1", agent.id):
                raise ConflictError(f"agent {agent.id} already exists")
            await db.execute(f"INSERT INTO agents ({R.AGENT_COLUMNS}) VALUES ({params(R.AGENT_COLUMNS)})",
                             *R.agent_params(agent))
            if claim_name:  # waits for a claim of the same name in flight, then fails if that one committed
                try:
                    await db.execute("UPDATE agents SET name_claim = name WHERE id = $1", agent.id)
                except asyncpg.UniqueViolationError as exc:
                    raise ConflictError(f"another agent holds the name {agent.name!r}") from exc
            shared = await _blocks_by_id(db, [b for b in blocks if isinstance(b, str)])
            new_rows: list[Block] = []
            link_ids: list[str] = []
            labels: set[str] = set()
            for i, spec in enumerate(blocks):  # new blocks first, in the request's order (AgentService.create)
                block = shared[spec] if isinstance(spec, str) else new_block(spec, i)
                if not isinstance(spec, str):
                    new_rows.append(block)
                if block.label in labels:
                    raise ConfigError(f"agent {agent.id} would have two blocks labelled {block.label!r}")
                labels.add(block.label)
                link_ids.append(block.id)
            if new_rows:
                await db.executemany(f"INSERT INTO blocks ({R.BLOCK_COLUMNS}) VALUES ({params(R.BLOCK_COLUMNS)})",
                                     [R.block_params(b) for b in new_rows])
            if link_ids:
                await db.executemany("INSERT INTO agent_blocks (agent_id, block_id, position) VALUES ($1, $2, $3)",
                                     [(agent.id, bid, pos) for pos, bid in enumerate(link_ids)])
            tool_ids = list(dict.fromkeys(t.id for t in agent.tools))
            if tool_ids:
                found = {r[0] for r in await db.fetch("SELECT id FROM tools WHERE id = ANY($1::text[])", tool_ids)}
                if missing := set(tool_ids) - found:
                    raise NotFoundError(f"unknown tools: {sorted(missing)}")
                await db.executemany("INSERT INTO agent_tools (agent_id, tool_id, position) VALUES ($1, $2, $3)",
                                     [(agent.id, tid, pos) for pos, tid in enumerate(tool_ids)])
        return await self.get_agent(agent.id)

    async def get_agent(self, agent_id: str) -> AgentState:
        found = await self._fetch("get_agent", f"{_AGENT_WITH_LINKS} WHERE a.id = $1", agent_id)
        if not found:
            raise NotFoundError(f"unknown agent {agent_id}")
        with translate_errors("decoding an agent"):
            return R.agent_from_linked_row(found[0])

    async def list_agents(self) -> list[AgentState]:
        found = await self._fetch("list_agents", f"{_AGENT_WITH_LINKS} ORDER BY a.created_at, a.id")
        with translate_errors("decoding agents"):
            return [R.agent_from_linked_row(r) for r in found]

    async def update_agent(self, agent: AgentState) -> AgentState:
        values = R.agent_params(agent)
        columns = [c.strip() for c in R.AGENT_COLUMNS.split(",")]
        assignments = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns[1:]))
        name_param = columns.index("name") + 1
        # a renamed agent gives up its claim (on the right of SET every column is the row before the update)
        changed = await self._exec(
            "update_agent", f"UPDATE agents SET {assignments}, name_claim = CASE WHEN name_claim = ${name_param} "
            "THEN name_claim END WHERE id = $1", *values)
        if changed == 0:
            raise NotFoundError(f"unknown agent {agent.id}")
        return await self.get_agent(agent.id)

    async def delete_agent(self, agent_id: str) -> None:
        async with self._tx("delete_agent") as db:
            await db.execute(
                "DELETE FROM blocks WHERE id IN ("
                " SELECT ab.block_id FROM agent_blocks ab WHERE ab.agent_id = $1 AND NOT EXISTS ("
                "  SELECT 1 FROM agent_blocks o WHERE o.block_id = ab.block_id AND o.agent_id != $1))", agent_id)
            if await db.execute("DELETE FROM agents WHERE id = $1", agent_id) == "DELETE 0":
                raise NotFoundError(f"unknown agent {agent_id}")
            # the keyword statistics have no foreign key (their triggers run during the cascade): clear them here
            await db.execute("DELETE FROM fts_terms WHERE agent_id = $1", agent_id)
            await db.execute("DELETE FROM fts_docs WHERE agent_id = $1", agent_id)

    # --- blocks --------------------------------------------------------------------------------------
    async def get_block(self, block_id: str) -> Block:
        found = await self._fetch("get_block", f"{_SELECT_BLOCK} WHERE id = $1", block_id)
        if not found:
            raise NotFoundError(f"unknown block {block_id}")
        with translate_errors("decoding a block"):
            return R.block_from_row(found[0])

    async def list_blocks(self, agent_id: str) -> list[Block]:
        found = await self._fetch(
            "list_blocks", f"SELECT {cols(R.BLOCK_COLUMNS, 'b')} FROM agent_blocks ab JOIN blocks b "
            "ON b.id = ab.block_id WHERE ab.agent_id = $1 ORDER BY ab.position", agent_id)
        with translate_errors("decoding blocks"):
            return [R.block_from_row(r) for r in found]

    async def update_block(
        self, block_id: str, *, value: str, expected_version: int | None = None, **fields: Any
    ) -> Block:
        check_block_fields(fields)
        async with self._tx("update_block") as db:
            found = await db.fetch(f"{_SELECT_BLOCK} WHERE id = $1 FOR UPDATE", block_id)
            if not found:
                raise NotFoundError(f"unknown block {block_id}")
            current = R.block_from_row(found[0])
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(f"block {current.label!r} is at version {current.version}, not {expected_version}")
            new = updated_block(current, value, fields)
            if new.label != current.label and await db.fetchval(
                    "SELECT 1 FROM agent_blocks mine JOIN agent_blocks other ON other.agent_id = mine.agent_id "
                    "JOIN blocks b ON b.id = other.block_id WHERE mine.block_id = $1 AND b.id != $1 AND b.label = $2",
                    block_id, new.label):
                raise ConfigError(f"another block of the same agent is already labelled {new.label!r}")
            await db.execute(
                "UPDATE blocks SET label = $1, value = $2, char_limit = $3, description = $4, read_only = $5, "
                "version = version + 1 WHERE id = $6",
                new.label, new.value, new.limit, new.description, int(new.read_only), block_id)
        return new.model_copy(update={"version": current.version + 1})

    async def attach_block(self, agent_id: str, block_id: str) -> None:
        async with self._tx("attach_block") as db:
            if not await db.fetchval("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", agent_id):
                raise NotFoundError(f"unknown agent {agent_id}")
            label = await db.fetchval("SELECT label FROM blocks WHERE id = $1", block_id)
            if label is None:
                raise NotFoundError(f"unknown block {block_id}")
            if await db.fetchval("SELECT 1 FROM agent_blocks WHERE agent_id = $1 AND block_id = $2", agent_id,
                                 block_id):
                return
            if await db.fetchval("SELECT 1 FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id "
                                 "WHERE ab.agent_id = $1 AND b.label = $2", agent_id, label):
                raise ConfigError(f"agent {agent_id} already has a block labelled {label!r}")
            await db.execute(
                "INSERT INTO agent_blocks (agent_id, block_id, position) VALUES ($1, $2, "
                "(SELECT coalesce(max(position), -1) + 1 FROM agent_blocks WHERE agent_id = $1))", agent_id, block_id)

    async def detach_block(self, agent_id: str, block_id: str) -> None:
        await self._exec("detach_block", "DELETE FROM agent_blocks WHERE agent_id = $1 AND block_id = $2",
                         agent_id, block_id)

    # --- tools ---------------------------------------------------------------------------------------
    async def create_tool(self, tool: Tool) -> Tool:
        async with self._tx("create_tool") as db:
            if await db.fetchval("SELECT 1 FROM tools WHERE name = $1", tool.name):
                raise ConflictError(f"a tool named {tool.name!r} already exists")
            if await db.fetchval("SELECT 1 FROM tools WHERE id = $1", tool.id):
                raise ConflictError(f"tool {tool.id} already exists")
            try:
                await db.execute(f"INSERT INTO tools ({R.TOOL_COLUMNS}) VALUES ({params(R.TOOL_COLUMNS)})",
                                 *R.tool_params(tool))
            except asyncpg.UniqueViolationError as exc:  # created by another process meanwhile
                raise ConflictError(f"a tool named {tool.name!r} already exists") from exc
        return tool

    async def get_tool(self, tool_id: str) -> Tool:
        found = await self._fetch("get_tool", f"{_SELECT_TOOL} WHERE id = $1", tool_id)
        if not found:
            raise NotFoundError(f"unknown tool {tool_id}")
        with translate_errors("decoding a tool"):
            return R.tool_from_row(found[0])

    async def list_tools(self) -> list[Tool]:
        found = await self._fetch("list_tools", f"{_SELECT_TOOL} ORDER BY name")
        with translate_errors("decoding tools"):
            return [R.tool_from_row(r) for r in found]

    async def delete_tool(self, tool_id: str) -> None:
        if await self._exec("delete_tool", "DELETE FROM tools WHERE id = $1", tool_id) == 0:
            raise NotFoundError(f"unknown tool {tool_id}")

    async def attach_tool(self, agent_id: str, tool_id: str) -> None:
        async with self._tx("attach_tool") as db:
            if not await db.fetchval("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", agent_id):
                raise NotFoundError(f"unknown agent {agent_id}")
            if not await db.fetchval("SELECT 1 FROM tools WHERE id = $1", tool_id):
                raise NotFoundError(f"unknown tool {tool_id}")
            await db.execute(
                "INSERT INTO agent_tools (agent_id, tool_id, position) VALUES ($1, $2, "
                "(SELECT coalesce(max(position), -1) + 1 FROM agent_tools WHERE agent_id = $1)) "
                "ON CONFLICT (agent_id, tool_id) DO NOTHING", agent_id, tool_id)

    async def detach_tool(self, agent_id: str, tool_id: str) -> None:
        await self._exec("detach_tool", "DELETE FROM agent_tools WHERE agent_id = $1 AND tool_id = $2",
                         agent_id, tool_id)


async def _blocks_by_id(db: asyncpg.Connection, ids: list[str]) -> dict[str, Block]:
    unique = list(dict.fromkeys(ids))
    if not unique:
        return {}
    found = await db.fetch(f"{_SELECT_BLOCK} WHERE id = ANY($1::text[])", unique)
    blocks = {b.id: b for b in (R.block_from_row(r) for r in found)}
    if missing := [i for i in unique if i not in blocks]:
        raise NotFoundError(f"unknown blocks: {missing}")
    return blocks
