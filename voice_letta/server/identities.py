"""One agent per person: an agent *template* and an identity (a caller's number, an app's user id) name an agent
of its own, made from the template the first time that identity calls and found again every time after.

The person's agent is named ``<template name>:<identity>`` (``agents list`` shows it; ``?agent=`` takes that
name). It starts as a copy of the template: the same system prompt, model settings, tools, voice settings
(greeting, transfer number) and buffer, its own copies of the template's writable memory blocks (what it learns
about this person stays with this person) and the template's read-only blocks shared, so editing those (say,
a company's opening hours) reaches every person's agent.

Two first calls from the same identity at the same moment create one agent: creation is serialized per
name in the process, and a duplicate made by another worker process is deleted in favour of the older one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict

from voice_letta.agent.models import AgentState
from voice_letta.agent.service import AgentCreate, AgentService, BlockCreate
from voice_letta.errors import ProtocolViolation

log = logging.getLogger(__name__)

MAX_IDENTITY_CHARS = 64
_IDENTITY = re.compile(r"^[A-Za-z0-9+_.@-]{1,64}$")
_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


def check_identity(identity: str) -> str:
    """An identity as given by a client (letters, digits and ``+_.@-``, at most 64); ProtocolViolation if not."""
    identity = identity.strip()
    if not _IDENTITY.match(identity):
        raise ProtocolViolation("identity: 1 to 64 letters, digits or + _ . @ -", code="invalid_identity")
    return identity


def identity_agent_name(template: AgentState, identity: str) -> str:
    return f"{template.name}:{identity}"


def _copy_request(template: AgentState, name: str) -> AgentCreate:
    return AgentCreate(
        name=name, system=template.system, llm=template.llm, sleeptime_llm=template.sleeptime_llm,
        embedding=template.embedding, buffer=template.buffer, client_system_prompt=template.client_system_prompt,
        max_tool_rounds=template.max_tool_rounds, turn_budget_s=template.turn_budget_s,
        memory_target_label=template.memory_target_label, handoff_on_session_end=template.handoff_on_session_end,
        voice=template.voice, tool_ids=[t.id for t in template.tools],
        blocks=[BlockCreate(label=b.label, value=b.value, limit=b.limit, description=b.description)
                for b in template.blocks if not b.read_only],
        block_ids=[b.id for b in template.blocks if b.read_only],
    )


async def agent_for_identity(agents: AgentService, template_ref: str, identity: str) -> AgentState:
    """The agent of ``identity`` made from the template ``template_ref`` (id or unique name); created if new."""
    identity = check_identity(identity)
    template = await agents.find(template_ref)
    if template is None:
        raise ProtocolViolation(f"no agent template {template_ref[:80]!r}", code="agent_not_found")
    name = identity_agent_name(template, identity)
    async with _locks[name]:
        found = await agents.find(name)
        if found is not None:
            return found
        created = await agents.create(_copy_request(template, name))
        log.info("agent %s created from template %s for a new identity", created.id, template.id)
        same = sorted((a for a in await agents.store.list_agents() if a.name == name), key=lambda a: a.created_at)
        if len(same) > 1 and same[0].id != created.id:  # another process made it first: use that one
            await agents.delete(created.id)
            return await agents.store.get_agent(same[0].id)
        return created
