"""Who a caller is, as Twilio's ``From`` says it, through the real webhook of a real server (``?template=``: one
agent per caller). Found from outside (QA, session 9): a SIP caller whose PBX sends its port or URI parameters
(``sip:3135551212@203.0.113.5:5060``, ``…;user=phone``), a Twilio Client identity with a space or over 64
characters, or a long SIP address heard "Sorry, the assistant for this number could not be found" and was hung
up on, on every call: the caller's name was checked as if an integrator had typed it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from tests.integration.session.conftest import VoiceServer

Factory = Callable[..., Awaitable[VoiceServer]]


async def call_from(vs: VoiceServer, caller: str, sid: str) -> str:
    """The agent the webhook connects a call from ``caller`` to (fails on the spoken apology)."""
    async with aiohttp.ClientSession() as s, s.post(f"{vs.url}/twilio/voice?template=frontdesk",
                                                    data={"CallSid": sid, "From": caller, "To": "+15550000000"}) as r:
        assert r.status == 200
        twiml = await r.text()
    assert "<Connect>" in twiml, (caller, twiml)
    start = twiml.index('name="agent_id" value="') + len('name="agent_id" value="')
    return twiml[start:twiml.index('"', start)]


async def test_every_caller_twilio_can_send_gets_an_agent_of_their_own(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory()
    template = await vs.create_agent(name="frontdesk")
    callers = {
        "sip:3135551212@203.0.113.5:5060": "frontdesk:sip.3135551212@203.0.113.5",
        "sip:+15551234567@pbx.example.com;user=phone": "frontdesk:sip.+15551234567@pbx.example.com",
        '"Front Desk" <sip:desk@pbx.example.com:5061;transport=tls>;tag=9a': "frontdesk:sip.desk@pbx.example.com",
        "tel:+15557654321;phone-context=example.com": "frontdesk:+15557654321",
        "client:alice smith": None, "client:" + "u" * 90: None, "sip:" + "r" * 70 + "@example.sip.twilio.com": None,
    }
    agents: dict[str, str] = {}
    for i, (caller, name) in enumerate(callers.items()):
        agent = await call_from(vs, caller, f"CA7{i}")
        agents[caller] = agent
        got = (await vs.store.get_agent(agent)).name
        assert agent != template and (got == name if name else len(got) <= len("frontdesk:") + 64), (caller, got)
        assert await call_from(vs, caller, f"CA8{i}") == agent  # the same caller finds their agent again
    assert len(set(agents.values())) == len(callers)
    # the port and parameters name no caller; a tel: URI is the number
    assert await call_from(vs, "sip:3135551212@203.0.113.5", "CA90") == agents["sip:3135551212@203.0.113.5:5060"]
    assert await call_from(vs, "+15557654321", "CA91") == agents["tel:+15557654321;phone-context=example.com"]
    # two callers whose names differ only in what an identity cannot hold stay apart
    assert await call_from(vs, "client:alice-smith", "CA92") not in agents.values()


async def post_raw(url: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, str]:
    """A POST over a raw socket: header bytes that are no UTF-8, which HTTP clients refuse to send."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"".join(k + b": " + v + b"\r\n" for k, v in headers) + b"\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")


@pytest.mark.parametrize("headers", [
    [(b"X-Twilio-Signature", b"\xe9\xe9==")], [(b"X-Twilio-Signature", "é".encode())],
    [(b"X-Twilio-Signature", b"abc="), (b"X-Forwarded-Proto", b"\xe9")],
    [(b"X-Twilio-Signature", b"abc="), (b"X-Forwarded-Host", b"ex\xe9.com")],
    [(b"X-Twilio-Signature", b"abc="), (b"X-Forwarded-Host", b"example.com:port")],
])
async def test_a_signature_or_forwarded_header_of_other_bytes_is_refused_not_a_500(
        twilio_server_factory: Factory, headers: list[tuple[bytes, bytes]]) -> None:
    """With TWILIO_AUTH_TOKEN set, a non-ASCII X-Twilio-Signature was a 500 (compare_digest takes no such str), and
    an X-Forwarded-Proto/-Host that is no UTF-8 or has a port that is no number a 500 while rebuilding the signed
    URL (found from outside, QA session 9). Forged requests get the 403 that every bad signature gets."""
    vs = await twilio_server_factory(auth_token="tw-token")
    await vs.create_agent(name="frontdesk")
    form = [(b"Content-Type", b"application/x-www-form-urlencoded")]
    status, body = await post_raw(vs.url, "/twilio/voice?template=frontdesk", headers + form,
                                  b"CallSid=CA1&From=%2B15551234567")
    assert status == 403 and json.loads(body)["error"]["code"] == "invalid_signature", body
    status, body = await post_raw(vs.url, "/twilio/voice?template=frontdesk", form, b"CallSid=CA1")
    assert status == 403 and json.loads(body)["error"]["code"] == "invalid_signature", body  # unsigned, as before
