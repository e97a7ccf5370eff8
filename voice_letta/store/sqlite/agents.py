"""Agents, their memory blocks and their tools: ``AgentsMixin`` of ``SqliteStore``.

- an agent's blocks keep the order they were attached in, and labels are unique per agent;
- ``detach_block`` keeps the block; ``delete_agent`` deletes blocks no other agent links to;
- a read-only block rejects writes unless the same call sets ``read_only=False``;
- ``get_agent`` is one round trip: the agent row with its blocks and tools aggregated as JSON
  (``rows.AGENT_WITH_LINKS``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

from voice_letta.agent.models import AgentState, Block, Tool
from voice_letta.agent.ports import NewBlock
from voice_letta.errors import ConfigError, ConflictError, NotFoundError
from voice_letta.store import rows as R
from voice_letta.store.common import check_block_fields, new_block, updated_block
from voice_letta.store.sqlite.base import SELECT_BLOCK, SELECT_TOOL, SqliteBase, exists, qualified
from voice_letta.store.sqlite.db import translate_errors

# ``{}`` takes an optional WHERE clause; the first column is the agent id, the rest a block row.
_LINKED_BLOCKS = (
    f"SELECT ab.agent_id, {qualified(R.BLOCK_COLUMNS, 'b')} FROM agent_blocks ab "
    "JOIN blocks b ON b.id = ab.block_id {} ORDER BY ab.agent_id, ab.position"
)


class AgentsMixin(SqliteBase):
    # --- agents --------------------------------------------------------------------------------------
    async def create_agent(self, agent: AgentState, blocks: Sequence[NewBlock | str], *,
                           claim_name: bool = False) -> AgentState:
        """Insert an agent; ``blocks`` are new blocks or ids of existing blocks to share.

        ``agent.blocks`` is ignored (``blocks`` says what to link); ``agent.tools`` are linked by id. With
        ``claim_name`` the agent claims its name: ConflictError when another agent holds that claim.
        """
        async with self._write("create_agent") as db:
            if await exists(db, "SELECT 1 FROM agents WHERE id = ?", agent.id):
                raise ConflictError(f"agent {agent.id} already exists")
            await db.execute(
                f"INSERT INTO agents ({R.AGENT_COLUMNS}) VALUES ({R.placeholders(R.AGENT_COLUMNS)})",
                R.agent_params(agent),
            )
            if claim_name:
                try:
                    await db.execute("UPDATE agents SET name_claim = name WHERE id = ?", (agent.id,))
                except sqlite3.IntegrityError as exc:
                    raise ConflictError(f"another agent holds the name {agent.name!r}") from exc
            shared_ids = [b for b in blocks if isinstance(b, str)]
            shared = await _blocks_by_id(db, shared_ids)
            new_rows: list[Block] = []
            link_ids: list[str] = []
            labels: set[str] = set()
            for i, spec in enumerate(blocks):  # new blocks first, in the request's order (AgentService.create)
                if isinstance(spec, str):
                    block = shared[spec]
                else:
                    block = new_block(spec, i)
                    new_rows.append(block)
                if block.label in labels:
                    raise ConfigError(f"agent {agent.id} would have two blocks labelled {block.label!r}")
                labels.add(block.label)
                link_ids.append(block.id)
            await db.executemany(
                f"INSERT INTO blocks ({R.BLOCK_COLUMNS}) VALUES ({R.placeholders(R.BLOCK_COLUMNS)})",
                [R.block_params(b) for b in new_rows],
            )
            await db.executemany(
                "INSERT INTO agent_blocks (agent_id, block_id, position) VALUES (?, ?, ?)",
                [(agent.id, bid, pos) for pos, bid in enumerate(link_ids)],
            )
            tool_ids = list(dict.fromkeys(t.id for t in agent.tools))
            if tool_ids:
                found = await db.execute_fetchall(
                    f"SELECT id FROM tools WHERE id IN ({', '.join('?' * len(tool_ids))})", tool_ids
                )
                if missing := set(tool_ids) - {r[0] for r in found}:
                    raise NotFoundError(f"unknown tools: {sorted(missing)}")
                await db.executemany(
                    "INSERT INTO agent_tools (agent_id, tool_id, position) VALUES (?, ?, ?)",
                    [(agent.id, tid, pos) for pos, tid in enumerate(tool_ids)],
                )
        return await self.get_agent(agent.id)

    async def get_agent(self, agent_id: str) -> AgentState:
        found = await self._fetch("get_agent", f"{R.AGENT_WITH_LINKS} WHERE a.id = ?", (agent_id,))
        if not found:
            raise NotFoundError(f"unknown agent {agent_id}")
        with translate_errors("decoding an agent"):
            return R.agent_from_linked_row(found[0])

    async def list_agents(self) -> list[AgentState]:
        found = await self._fetch("list_agents", f"{R.AGENT_WITH_LINKS} ORDER BY a.created_at, a.id")
        with translate_errors("decoding agents"):
            return [R.agent_from_linked_row(r) for r in found]

    async def update_agent(self, agent: AgentState) -> AgentState:
        """Write the agent's own settings. Blocks and tools change through attach/detach, not here."""
        params = R.agent_params(agent)
        columns = [c.strip() for c in R.AGENT_COLUMNS.split(",")]
        assignments = ", ".join(f"{c} = ?" for c in columns[1:])
        # a renamed agent gives up its claim (on the right of SET every column is the row before the update)
        changed = await self._exec(
            "update_agent", f"UPDATE agents SET {assignments}, name_claim = CASE WHEN name_claim = ? THEN name_claim "
            "END WHERE id = ?", (*params[1:], agent.name, params[0])
        )
        if changed == 0:
            raise NotFoundError(f"unknown agent {agent.id}")
        return await self.get_agent(agent.id)

    async def delete_agent(self, agent_id: str) -> None:
        """Delete the agent, its messages, passages, turns and links, and the blocks only it used."""
        async with self._write("delete_agent") as db:
            await db.execute(
                "DELETE FROM blocks WHERE id IN ("
                " SELECT ab.block_id FROM agent_blocks ab WHERE ab.agent_id = ?1 AND NOT EXISTS ("
                "  SELECT 1 FROM agent_blocks o WHERE o.block_id = ab.block_id AND o.agent_id != ?1))",
                (agent_id,),
            )
            cur = await db.execute("DELETE FROM agents WHERE id = ?", (agent_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"unknown agent {agent_id}")

    # --- blocks --------------------------------------------------------------------------------------
    async def get_block(self, block_id: str) -> Block:
        found = await self._fetch("get_block", f"{SELECT_BLOCK} WHERE id = ?", (block_id,))
        if not found:
            raise NotFoundError(f"unknown block {block_id}")
        with translate_errors("decoding a block"):
            return R.block_from_row(found[0])

    async def list_blocks(self, agent_id: str) -> list[Block]:
        found = await self._fetch("list_blocks", _LINKED_BLOCKS.format("WHERE ab.agent_id = ?"), (agent_id,))
        with translate_errors("decoding blocks"):
            return [R.block_from_row(r[1:]) for r in found]

    async def update_block(
        self, block_id: str, *, value: str, expected_version: int | None = None, **fields: Any
    ) -> Block:
        """Write a block; with ``expected_version`` it is a compare-and-set (ConflictError on mismatch).

        Extra ``fields``: ``limit``, ``description``, ``read_only``, ``label``. The version grows by one.
        """
        check_block_fields(fields)
        # In one write transaction the read and the compare-and-set cannot interleave with any other write; the
        # ``version = ?`` condition states it once more.
        async with self._write("update_block") as db:
            found = await db.execute_fetchall(f"{SELECT_BLOCK} WHERE id = ?", (block_id,))
            if not found:
                raise NotFoundError(f"unknown block {block_id}")
            current = R.block_from_row(next(iter(found)))
            if expected_version is not None and current.version != expected_version:
                raise ConflictError(
                    f"block {current.label!r} is at version {current.version}, not {expected_version}"
                )
            new = updated_block(current, value, fields)
            if new.label != current.label:
                await _check_label_free(db, block_id, new.label)
            cur = await db.execute(
                "UPDATE blocks SET label = ?, value = ?, char_limit = ?, description = ?, read_only = ?, "
                "version = version + 1 WHERE id = ? AND version = ?",
                (new.label, new.value, new.limit, new.description, int(new.read_only), block_id,
                 current.version),
            )
            if cur.rowcount != 1:
                raise ConflictError(f"block {current.label!r} changed during the update")
        return new.model_copy(update={"version": current.version + 1})

    async def attach_block(self, agent_id: str, block_id: str) -> None:
        async with self._write("attach_block") as db:
            if not await exists(db, "SELECT 1 FROM agents WHERE id = ?", agent_id):
                raise NotFoundError(f"unknown agent {agent_id}")
            found = await db.execute_fetchall("SELECT label FROM blocks WHERE id = ?", (block_id,))
            if not found:
                raise NotFoundError(f"unknown block {block_id}")
            label = next(iter(found))[0]
            if await exists(db, "SELECT 1 FROM agent_blocks WHERE agent_id = ? AND block_id = ?",
                             agent_id, block_id):
                return
            if await exists(
                db, "SELECT 1 FROM agent_blocks ab JOIN blocks b ON b.id = ab.block_id "
                "WHERE ab.agent_id = ? AND b.label = ?", agent_id, label,
            ):
                raise ConfigError(f"agent {agent_id} already has a block labelled {label!r}")
            await db.execute(
                "INSERT INTO agent_blocks (agent_id, block_id, position) VALUES (?1, ?2, "
                "(SELECT coalesce(max(position), -1) + 1 FROM agent_blocks WHERE agent_id = ?1))",
                (agent_id, block_id),
            )

    async def detach_block(self, agent_id: str, block_id: str) -> None:
        await self._exec(
            "detach_block", "DELETE FROM agent_blocks WHERE agent_id = ? AND block_id = ?", (agent_id, block_id)
        )

    # --- tools ---------------------------------------------------------------------------------------
    async def create_tool(self, tool: Tool) -> Tool:
        async with self._write("create_tool") as db:
            if await exists(db, "SELECT 1 FROM tools WHERE name = ?", tool.name):
                raise ConflictError(f"a tool named {tool.name!r} already exists")
            if await exists(db, "SELECT 1 FROM tools WHERE id = ?", tool.id):
                raise ConflictError(f"tool {tool.id} already exists")
            await db.execute(
                f"INSERT INTO tools ({R.TOOL_COLUMNS}) VALUES ({R.placeholders(R.TOOL_COLUMNS)})",
                R.tool_params(tool),
            )
        return tool

    async def get_tool(self, tool_id: str) -> Tool:
        found = await self._fetch("get_tool", f"{SELECT_TOOL} WHERE id = ?", (tool_id,))
        if not found:
            raise NotFoundError(f"unknown tool {tool_id}")
        with translate_errors("decoding a tool"):
            return R.tool_from_row(found[0])

    async def list_tools(self) -> list[Tool]:
        found = await self._fetch("list_tools", f"{SELECT_TOOL} ORDER BY name")
        with translate_errors("decoding tools"):
            return [R.tool_from_row(r) for r in found]

    async def delete_tool(self, tool_id: str) -> None:
        if await self._exec("delete_tool", "DELETE FROM tools WHERE id = ?", (tool_id,)) == 0:
            raise NotFoundError(f"unknown tool {tool_id}")

    async def attach_tool(self, agent_id: str, tool_id: str) -> None:
        async with self._write("attach_tool") as db:
            if not await exists(db, "SELECT 1 FROM agents WHERE id = ?", agent_id):
                raise NotFoundError(f"unknown agent {agent_id}")
            if not await exists(db, "SELECT 1 FROM tools WHERE id = ?", tool_id):
                raise NotFoundError(f"unknown tool {tool_id}")
            await db.execute(
                "INSERT INTO agent_tools (agent_id, tool_id, position) VALUES (?1, ?2, "
                "(SELECT coalesce(max(position), -1) + 1 FROM agent_tools WHERE agent_id = ?1)) "
                "ON CONFLICT (agent_id, tool_id) DO NOTHING",
                (agent_id, tool_id),
            )

    async def detach_tool(self, agent_id: str, tool_id: str) -> None:
        await self._exec(
            "detach_tool", "DELETE FROM agent_tools WHERE agent_id = ? AND tool_id = ?", (agent_id, tool_id)
        )


async def _blocks_by_id(db: aiosqlite.Connection, ids: list[str]) -> dict[str, Block]:
    if not ids:
        return {}
    unique = list(dict.fromkeys(ids))
    found = await db.execute_fetchall(f"{SELECT_BLOCK} WHERE id IN ({', '.join('?' * len(unique))})", unique)
    blocks = {b.id: b for b in (R.block_from_row(r) for r in found)}
    if missing := [i for i in unique if i not in blocks]:
        raise NotFoundError(f"unknown blocks: {missing}")
    return blocks


async def _check_label_free(db: aiosqlite.Connection, block_id: str, label: str) -> None:
    """A relabelled block must not clash with another block of any agent it is attached to."""
    if await exists(
        db,
        "SELECT 1 FROM agent_blocks mine JOIN agent_blocks other ON other.agent_id = mine.agent_id "
        "JOIN blocks b ON b.id = other.block_id WHERE mine.block_id = ? AND b.id != ? AND b.label = ?",
        block_id, block_id, label,
    ):
        raise ConfigError(f"another block of the same agent is already labelled {label!r}")
