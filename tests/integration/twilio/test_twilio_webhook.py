"""``POST /twilio/voice`` (TwiML) and the ``X-Twilio-Signature`` checks on the webhook and the stream upgrade."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from websockets.exceptions import InvalidStatus

from tests.fakes.openai_server import Text
from tests.fakes.scripted_speech import ScriptedSTT
from tests.fakes.twilio_caller import TwilioCaller, fixture_ulaw
from tests.integration.session.conftest import VoiceServer
from voice_letta.server.twilio_signature import compute_signature, is_valid
from voice_letta.server.ws_twilio import stream_token

Factory = Callable[..., Awaitable[VoiceServer]]
TOKEN = "twilio-auth-token-for-tests"
FORM = {"CallSid": "CA0123456789abcdef0123456789abcdef", "AccountSid": "AC0123", "From": "+15551230000",
        "To": "+15559870000", "CallStatus": "ringing"}


def test_signature_matches_twilios_documented_example() -> None:
    # https://www.twilio.com/docs/usage/security#validating-requests
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    assert compute_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert is_valid("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", [url], params)
    assert is_valid("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", ["https://mycompany.com:443/myapp.php?foo=1&bar=2"],
                    params)  # Twilio may or may not sign the default port
    assert not is_valid("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", [url], {**params, "Digits": "9"})
    assert not is_valid("12345", None, [url], params)


async def post_voice(vs: VoiceServer, query: str = "", *, form: dict[str, str] | None = None,
                     headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.post(f"{vs.url}/twilio/voice{query}", data=form or FORM,
                                                    headers=headers or {}) as r:
        return r.status, await r.text()


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    stream = root.find("./Connect/Stream")
    assert stream is not None, twiml
    return stream.attrib["url"], {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}


async def test_twiml_connects_a_bidirectional_stream_for_the_agent(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory(allowed_hosts=["abcd.ngrok.app"])
    agent = await vs.create_agent()
    status, body = await post_voice(vs, "?agent=voice-agent")
    assert status == 200
    url, params = stream_of(body)
    assert url == vs.url.replace("http://", "ws://") + "/twilio/stream"
    assert params == {"agent_id": agent}
    # behind a TLS proxy / ngrok (its name allowed with --allowed-host): the public URL comes from the forwarded
    # headers
    status, body = await post_voice(vs, f"?agent={agent}",
                                    headers={"X-Forwarded-Proto": "https", "Host": "abcd.ngrok.app"})
    assert stream_of(body)[0] == "wss://abcd.ngrok.app/twilio/stream"


async def test_public_url_and_default_agent_from_the_environment(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory(public_url="https://voice.example.com/", default_agent="voice-agent")
    agent = await vs.create_agent()
    status, body = await post_voice(vs)
    assert status == 200
    assert stream_of(body) == ("wss://voice.example.com/twilio/stream", {"agent_id": agent})


async def test_no_or_unknown_agent_says_sorry_and_hangs_up(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory()
    for query in ("", "?agent=nobody"):
        status, body = await post_voice(vs, query)
        root = ET.fromstring(body)
        assert status == 200 and root.find("Say") is not None and root.find("Hangup") is not None


async def test_webhook_signature_valid_invalid_missing(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory(auth_token=TOKEN, public_url="https://voice.example.com")
    agent = await vs.create_agent()
    signed_url = f"https://voice.example.com/twilio/voice?agent={agent}"
    good = compute_signature(TOKEN, signed_url, FORM)
    status, body = await post_voice(vs, f"?agent={agent}", headers={"X-Twilio-Signature": good})
    assert status == 200
    url, params = stream_of(body)
    assert url == "wss://voice.example.com/twilio/stream"
    assert params == {"agent_id": agent, "vl_auth": stream_token(TOKEN, FORM["CallSid"])}
    # a signature over other parameters, another URL, or another token: 403
    for bad in (compute_signature(TOKEN, signed_url, {**FORM, "From": "+15550000000"}),
                compute_signature(TOKEN, "https://evil.example.com/twilio/voice?agent=" + agent, FORM),
                compute_signature("another-token", signed_url, FORM), "not-a-signature"):
        status, _ = await post_voice(vs, f"?agent={agent}", headers={"X-Twilio-Signature": bad})
        assert status == 403
    status, _ = await post_voice(vs, f"?agent={agent}")
    assert status == 403
    # the API key is not what protects /twilio/*: no Bearer needed, but the signature is


async def test_stream_upgrade_signature_and_per_call_token(twilio_server_factory: Factory) -> None:
    vs = await twilio_server_factory(auth_token=TOKEN, stt=ScriptedSTT(["What is the weather like today?"]))
    agent = await vs.create_agent()
    vs.fake.script([Text("Sunny.")])
    ws_url = vs.url.replace("http://", "ws://") + "/twilio/stream"
    # a forged upgrade signature is refused before the WebSocket opens
    with pytest.raises(InvalidStatus) as info:
        await TwilioCaller.call(vs.url, agent_id=agent, headers={"X-Twilio-Signature": "forged"})
    assert info.value.response.status_code == 403
    # an unsigned upgrade without the webhook's per-call token is dropped at 'start'
    async with await TwilioCaller.call(vs.url, agent_id=agent) as caller:
        await caller.wait_closed(timeout_s=5)
    # a correctly signed upgrade works
    signed = {"X-Twilio-Signature": compute_signature(TOKEN, ws_url)}
    async with await TwilioCaller.call(vs.url, agent_id=agent, headers=signed) as caller:
        await caller.stream(fixture_ulaw("weather.wav"), speed=0)
        await caller.wait_for("media", timeout_s=10)
    # so does an unsigned one that carries the per-call token from the TwiML
    token = stream_token(TOKEN, "CA00000000000000000000000000000001")
    async with await TwilioCaller.call(vs.url, agent_id=agent, custom_parameters={"vl_auth": token}) as caller:
        await caller.send_raw('{"event": "dtmf", "dtmf": {"digit": "1"}}')
        await asyncio.sleep(0.3)
        assert not caller.closed.is_set()
