"""One agent per person: an agent *template* and an identity (a caller's number, an app's user id) name an agent
of its own, made from the template the first time that identity calls and found again every time after.

The person's agent is named ``<template name>:<identity>`` (``agents list`` shows it; ``?agent=`` takes that
name). It starts as a copy of the template: the same system prompt, model settings, tools, voice settings
(greeting, transfer number) and buffer, its own copies of the template's writable memory blocks (what it learns
about this person stays with this person) and the template's read-only blocks shared, so editing those (say,
a company's opening hours) reaches every person's agent.

``POST /v1/agents/{template}/identities/{identity}`` (the API key) returns that agent, creating it if needed: a
backend that knows who its user is gets the agent id and mints a voice token for it (``POST /v1/tokens``). A
voice session can also name ``?agent=<template>&identity=<id>``, but only without a key or with the key
itself: a scoped token is for one agent, so it cannot pick an identity (that would open any person's agent).

Two first calls from the same identity at the same moment create one agent, in one process or in several
(``serve --workers N``, several machines on one PostgreSQL): the person's agent *claims* its name in the database
(a unique key, ``AgentStore.create_agent(claim_name=True)``), so the second insert fails and that call returns the
first's agent. Ids stay random: an agent deleted and made again for the same person gets a new id, so no other
process's cache can serve the deleted agent under it. An agent made before claims existed is found by its name
(the oldest, if a race of that time left two).
"""

from __future__ import annotations

import hashlib
import logging
import re

from aiohttp import web

from voice_letta.agent.models import AgentState
from voice_letta.agent.service import MAX_AGENT_NAME, AgentCreate, AgentService, BlockCreate, same_name
from voice_letta.errors import AccessDenied, ConflictError, ProtocolViolation
from voice_letta.locks import KeyedLocks
from voice_letta.server.auth import principal_of
from voice_letta.server.keys import AGENTS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

MAX_IDENTITY_CHARS = 64
_IDENTITY = re.compile(r"^[A-Za-z0-9+_.@-]{1,64}$")
_locks = KeyedLocks()  # one per identity while in use (callers come and go for weeks)


def check_identity(identity: str) -> str:
    """An identity as given by a client (letters, digits and ``+_.@-``, at most 64); ProtocolViolation if not."""
    identity = identity.strip()
    if not _IDENTITY.match(identity):
        raise ProtocolViolation("identity: 1 to 64 letters, digits or + _ . @ -", code="invalid_identity")
    return identity


# What carriers put in a call's From when the caller withholds their number, as words or as Twilio spells them on a
# keypad ("+266696687" is ANONYMOUS, "+7378742833" RESTRICTED, "+86282452253" UNAVAILABLE).
_WITHHELD_WORDS = ("anonymous", "restricted", "unavailable", "unknown", "blocked", "private", "withheld")
_KEYPAD = dict(zip("abcdefghijklmnopqrstuvwxyz", "22233344455566677778889999", strict=True))
WITHHELD_CALLERS = frozenset(_WITHHELD_WORDS) | {"+" + "".join(_KEYPAD[c] for c in w) for w in _WITHHELD_WORDS}


# A SIP From as a PBX sends it: an optional display name, the URI in <...>, then the transport's parts that do not
# name the caller (a port, ";user=phone", "?headers").
_SIP_URI = re.compile(r'^(?:"[^"]*"\s*|[^<"]*)?<?\s*(sips?):([^;?>]+?)(?::\d{1,5})?(?:[;?][^>]*)?>?(?:;.*)?$', re.I)
_NOT_IDENTITY = re.compile(r"[^A-Za-z0-9+_.@-]+")
_DIGEST_CHARS = 12


def caller_identity(caller: str, call_sid: str) -> str:
    """The identity of a phone caller (Twilio's ``From``; the callee on calls we place) for one agent per caller.

    A withheld number is no identity: every anonymous caller would share one agent and hear what the others told
    it, so such a call gets an agent of its own (``call-<CallSid>``; nothing carries over to the next call). A
    Twilio Client or SIP caller (``client:alice``, ``sip:bob@example.com``) keeps its name with ``.`` for ``:``;
    a SIP URI's port and parameters (``sip:+15551234567@10.0.0.5:5060;user=phone``: Twilio passes the INVITE's
    From as it came) name no caller and are left out, and ``tel:+15551234567`` is the number. Twilio, not the
    integrator, decides what a caller is called, so a name that is no identity (over 64 characters, spaces, other
    letters) is never a reason to hang up: it keeps its identity characters and ends in a digest of the whole
    name, the same on every call."""
    caller = caller.strip()
    if not caller or caller.lower() in WITHHELD_CALLERS:
        if not call_sid:
            raise ProtocolViolation("a call with neither a caller number nor a CallSid", code="invalid_identity")
        return check_identity(f"call-{call_sid}")
    if "\x00" in caller:  # refused on every wire (docs/protocol.md §REST); Twilio never sends it
        raise ProtocolViolation("a caller holding the NUL character", code="invalid_identity")
    sip = _SIP_URI.match(caller)
    if sip:
        name = f"{sip.group(1)}.{sip.group(2)}"  # the scheme as sent: agents made before keep their names
    elif caller.lower().startswith("tel:"):  # a telephone URI is the number itself ("tel:+1555…;phone-context=…")
        name = re.split(r"[;?]", caller[len("tel:"):], maxsplit=1)[0].strip()
    elif caller.lower().startswith("client:"):
        name = "client." + caller[len("client:"):]
    else:
        name = caller
    if _IDENTITY.match(name):
        return name
    digest = hashlib.sha256(caller.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_CHARS]
    kept = _NOT_IDENTITY.sub("-", name).strip("-")[:MAX_IDENTITY_CHARS - _DIGEST_CHARS - 1]
    return check_identity(f"{kept}-{digest}" if kept else digest)


def identity_agent_name(template: AgentState, identity: str) -> str:
    return same_name(f"{template.name}:{identity}")  # composed, as AgentCreate stores it (a template named before)


def _copy_request(template: AgentState, name: str) -> AgentCreate:
    return AgentCreate(
        name=name, system=template.system, llm=template.llm, sleeptime_llm=template.sleeptime_llm,
        embedding=template.embedding, buffer=template.buffer, client_system_prompt=template.client_system_prompt,
        max_tool_rounds=template.max_tool_rounds, turn_budget_s=template.turn_budget_s,
        memory_target_label=template.memory_target_label, handoff_on_session_end=template.handoff_on_session_end,
        voice=template.voice, timezone=template.timezone, tool_ids=[t.id for t in template.tools],
        blocks=[BlockCreate(label=b.label, value=b.value, limit=b.limit, description=b.description)
                for b in template.blocks if not b.read_only],
        block_ids=[b.id for b in template.blocks if b.read_only],
    )


async def agent_for_identity(agents: AgentService, template_ref: str, identity: str) -> AgentState:
    """The agent of ``identity`` made from the template ``template_ref`` (id or unique name); created if new."""
    return (await person_agent(agents, template_ref, identity))[0]


async def person_agent(agents: AgentService, template_ref: str, identity: str) -> tuple[AgentState, bool]:
    """``agent_for_identity`` and whether this call created it (False when it existed or another call won)."""
    identity = check_identity(identity)
    template = await agents.find(template_ref)
    if template is None:
        raise ProtocolViolation(f"no agent template {template_ref[:80]!r}", code="agent_not_found")
    name = identity_agent_name(template, identity)
    if len(name) > MAX_AGENT_NAME:  # it was a 500 (the copy failed validation); shortening could join two templates
        raise ProtocolViolation(f"the agent of identity {identity!r} would be named {name[:40]!r}…, over "
                                f"{MAX_AGENT_NAME} characters: give the template a shorter name",
                                code="invalid_identity")
    async with _locks(name):  # in one process the second call waits here and finds the first's agent
        for _ in range(3):
            found = await _named(agents, name)
            if found is not None:
                return found, False
            try:
                created = await agents.create(_copy_request(template, name), claim_name=True)
            except ConflictError:  # another process claimed the name first: take its agent (committed by now)
                continue
            log.info("agent %s created from template %s for a new identity", created.id, template.id)
            return created, True
    # three rounds of "claimed by another, then gone" means it is being deleted and made again as we look
    raise ConflictError(f"the agent {name!r} is being changed by another request: try again")


async def _named(agents: AgentService, name: str) -> AgentState | None:
    """The agent named ``name``: the one that claims it, else (made before claims) the oldest of that name."""
    same = [a for a in await agents.store.list_agents() if same_name(a.name) == name]  # oldest first
    return await agents.store.get_agent(same[0].id) if same else None


async def identity_agent(request: web.Request, template_ref: str, identity: str) -> str:
    """For a voice session's ``?identity=``: the person's agent id; refused to a scoped token."""
    principal = principal_of(request)
    if principal.kind == "token":
        raise ProtocolViolation("a scoped token is for one agent and cannot choose an identity: mint the token for "
                                "the person's agent (POST /v1/agents/{template}/identities/{identity})",
                                code="identity_not_allowed")
    if not template_ref:
        raise ProtocolViolation("?identity= needs ?agent= naming the template agent", code="no_agent")
    if " " in identity:  # "?identity=+15551234567" reads " 15551234567": stripped, it was another person's agent
        raise ProtocolViolation("identity has a space: a '+' in a URL query reads as a space, so send it as %2B "
                                "(?identity=%2B15551234567)", code="invalid_identity")
    return (await agent_for_identity(request.app[AGENTS], template_ref, identity)).id


@routes.post("/v1/agents/{agent_id}/identities/{identity}")
async def post_identity(request: web.Request) -> web.Response:
    """The agent of ``identity`` made from the template ``agent_id`` (201 when it was created now)."""
    agents = request.app[AGENTS]
    template = await agents.find(request.match_info["agent_id"])
    if template is None:
        raise ProtocolViolation("no such agent template", code="not_found")
    if principal_of(request).kind == "token":  # the route is ADMIN: a token never gets here; belt and braces
        raise AccessDenied("this needs the API key")
    agent, created = await person_agent(agents, template.id, request.match_info["identity"])
    return web.json_response(agent.model_dump(mode="json"), status=201 if created else 200)
