"""Every input the hostile-input run found to give a 500, each a typed 4xx now (issue 15), one by one.

(The property-based fuzzing of the same surfaces is in tests/integration/server/test_fuzz_rest.py and
tests/unit/wire/test_fuzz_decoders.py; an agent deleted during its own turn is in test_chat_failover.py.)
"""

from __future__ import annotations

import gzip

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.fakes.openai_server import Text
from tests.integration.agent.conftest import Running
from voice_letta.errors import ProtocolViolation
from voice_letta.wire import native as W
from voice_letta.wire import twilio as T


@pytest.mark.parametrize("path", [
    "/v1/agents/{a}/messages?limit=--5", "/v1/agents/{a}/messages?limit=%C2%B2",
    "/v1/agents/{a}/messages?after_seq=%C2%B2", "/v1/agents/{a}/memory/jobs?limit=%C2%B2",
    "/v1/agents/{a}/archival?offset=%C2%B2", "/v1/agents/{a}/archival?limit=%C2%B2",
    "/v1/agents/{a}/turns?limit=%C2%B2",
    "/v1/providers/vllm/models?base_url=http://%5B::1", "/v1/providers/vllm/models?base_url=http://127.0.0.1:99999",
])
async def test_listed_query_strings_are_400s(server: Running, path: str) -> None:
    agent = await server.create_agent()
    async with aiohttp.ClientSession() as s, s.get(server.url + path.format(a=agent["id"])) as r:
        assert r.status == 400 and r.content_type == "application/json"
        assert (await r.json())["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/x-www-form-urlencoded", b"CallSid=\xff\xfe&From=%2B1555"),
    ("multipart/form-data; boundary=xx", b"--xx\r\nbroken"),
    ("multipart/form-data; boundary=xx", b"--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xx"),
])
async def test_listed_twilio_webhook_bodies_are_400s(server: Running, content_type: str, body: bytes) -> None:
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/twilio/voice", data=body,
                                                    headers={"Content-Type": content_type}) as r:
        assert r.status == 400 and (await r.json())["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("encoding", ["deflate", "gzip"])
@pytest.mark.parametrize(("path", "content_type"), [
    ("/v1/agents", "application/json"), ("/v1/chat/completions", "application/json"),
    ("/v1/agents/{a}/archival/batch", "application/json"), ("/twilio/voice", "application/x-www-form-urlencoded"),
])
async def test_a_body_that_does_not_decompress_is_a_400(server: Running, encoding: str, path: str,
                                                        content_type: str) -> None:
    """A ``Content-Encoding`` whose body does not decode (a gzip stream sent as ``deflate``, bytes that are no gzip)
    was a 500 ``internal_error`` on every route that reads a body (found from outside, QA session 9)."""
    agent = await server.create_agent()
    body = gzip.compress(b'{"name": "x"}') if encoding == "deflate" else b"\x1f\x8b\x08\x00not really gzip"
    async with aiohttp.ClientSession(auto_decompress=False) as s, s.post(
            server.url + path.format(a=agent["id"]), data=body,
            headers={"Content-Type": content_type, "Content-Encoding": encoding}) as r:
        assert r.status == 400 and r.content_type == "application/json", await r.text()
        error = (await r.json())["error"]
        assert error["code"] == "invalid_request" and "could not be read" in error["message"]
    async with aiohttp.ClientSession() as s, s.get(f"{server.url}/v1/agents/{agent['id']}") as r:
        assert r.status == 200  # the server goes on


def test_an_odd_twilio_media_timestamp_is_ignored_not_fatal() -> None:
    codec = T.TwilioCodec()
    codec.receive_text('{"event": "start", "streamSid": "MZ1", "start": {"callSid": "CA1", "accountSid": "AC1", '
                       '"mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}')
    events = codec.receive_text('{"event": "media", "streamSid": "MZ1", "media": {"track": "inbound", '
                                '"chunk": "1", "timestamp": "\\u00b2", "payload": "//8="}}')
    assert [type(e).__name__ for e in events] == ["AudioReceived"] and events[0].timestamp_ms is None


def test_the_text_frame_limit_counts_bytes_not_characters() -> None:
    text = '{"type": "input_text", "text": "' + "€" * 6000 + '"}'  # 6,032 characters, 18,032 UTF-8 bytes
    assert len(text) < W.MAX_TEXT_FRAME_BYTES < len(text.encode())
    with pytest.raises(ProtocolViolation) as err:
        W.parse_client(text)
    assert err.value.code == "frame_too_large"
    W.parse_client('{"type": "input_text", "text": "' + "a" * 4000 + '"}')  # ASCII under the limit: fine


async def test_invalid_utf8_in_a_text_frame_closes_with_1007(server: Running) -> None:
    agent = await server.create_agent()
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{server.url.replace('http', 'ws')}/v1/voice"
                                                          f"?agent={agent['id']}", protocols=("voice-letta.v1",)) as ws:
        assert (await ws.receive_json())["type"] == "session.created"
        await ws.send_frame(b'{"type": "ping", "x": "\xff\xfe"}', WSMsgType.TEXT)
        msg = await ws.receive()
        while msg.type not in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            msg = await ws.receive()
    assert ws.close_code == 1007


@pytest.mark.parametrize(("member", "param"), [
    ({"stream": "yes"}, "stream"), ({"stream": 1}, "stream"), ({"max_tokens": "5"}, "max_tokens"),
    ({"temperature": "0.3"}, "temperature"), ({"n": True}, "n"),
    ({"voice_letta": {"first_token_timeout_s": True}}, "voice_letta.first_token_timeout_s"),  # was a 1 s deadline
    ({"voice_letta": {"server_tool_calls": "no"}}, "voice_letta.server_tool_calls"),
    ({"stream_options": {"include_usage": "true"}}, "stream_options.include_usage"),
])
async def test_chat_fields_are_strict_on_json_types(server: Running, member: dict[str, object], param: str) -> None:
    """As OpenAI's API does ("Invalid type for 'stream'"): a 400 naming the field, no turn, nothing stored."""
    agent = await server.create_agent()
    body = {"model": agent["id"], "messages": [{"role": "user", "content": "hi"}], **member}
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/v1/chat/completions", json=body) as r:
        assert r.status == 400, await r.text()
        assert (await r.json())["error"]["param"] == param
    assert await server.store.list_messages(agent["id"]) == []
    assert server.fake.requests == []


@pytest.mark.parametrize(("member", "param"), [
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content"),  # was "messages.0.content.str"
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages.0.content.0.text"),
])
async def test_a_field_of_several_types_is_named_without_pydantic_type_tags(server: Running, member: dict[str, object],
                                                                              param: str) -> None:
    agent = await server.create_agent()
    body = {"model": agent["id"], **member}
    async with aiohttp.ClientSession() as s, s.post(f"{server.url}/v1/chat/completions", json=body) as r:
        assert r.status == 400, await r.text()
        assert (await r.json())["error"]["param"] == param
    async with aiohttp.ClientSession() as s, s.patch(f"{server.url}/v1/agents/{agent['id']}",
                                                     json={"fallback": [5]}) as r:
        assert r.status == 400 and (await r.json())["error"]["param"] == "fallback.0"  # was "fallback.dict[str,any]"


async def test_a_json_body_with_a_utf8_byte_order_mark_is_read(server: Running) -> None:
    # Before: 400 "Invalid JSON: expected value at line 1 column 1" (curl -d @body.json of a file a Windows editor or
    # PowerShell 5.1 saved with a BOM); RFC 8259 lets a parser ignore the mark.
    bom = b"\xef\xbb\xbf"
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s:
        async with s.post(server.url + "/v1/agents", headers=headers, data=bom + b'{"name": "from-notepad"}') as r:
            assert r.status == 201, await r.text()
        agent = await server.create_agent()
        server.fake.script([Text("Read you.")])
        body = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}]}' % agent["id"].encode()
        async with s.post(server.url + "/v1/chat/completions", headers=headers, data=bom + body) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["choices"][0]["message"]["content"] == "Read you."
        async with s.post(server.url + "/v1/agents", headers=headers, data=bom + bom + b'{"name": "x"}') as r:
            assert r.status == 400  # one mark is ignored, not any text before the JSON
