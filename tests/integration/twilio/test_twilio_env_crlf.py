"""TWILIO_AUTH_TOKEN from a .env file written on Windows (``docker run --env-file`` keeps each line's ``\\r``):
every webhook's signature was checked against "token\\r", so every call was refused with a 403 and the phone line
went dead (real ``voice-letta serve`` process, a webhook signed as Twilio signs it)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.integration.serve_process import ServerProcess
from voice_letta.server.twilio_signature import compute_signature

TOKEN = "tw-secret-1"


class CrlfTwilioServer(ServerProcess):
    start_timeout_s = 90.0  # a fresh process imports the whole server; the test machine is shared

    def env(self) -> dict[str, str]:
        return {**super().env(), "TWILIO_AUTH_TOKEN": TOKEN + "\r", "VOICE_LETTA_API_KEY": "k-1\r"}


async def test_a_twilio_token_with_a_carriage_return_still_checks_signatures(tmp_path: Path) -> None:
    server = CrlfTwilioServer(tmp_path / "t.db")
    await server.start()
    try:
        url = server.url + "/twilio/voice"
        params = {"CallSid": "CA123", "From": "+15551234567", "To": "+15557654321", "AccountSid": "AC1"}
        async with aiohttp.ClientSession() as s:
            async with s.post(url, data=params, headers={
                    "X-Twilio-Signature": compute_signature(TOKEN, url, params)}) as r:
                assert r.status == 200, await r.text()  # before: 403
            async with s.post(url, data=params, headers={"X-Twilio-Signature": "bad="}) as r:
                assert r.status == 403
    finally:
        await server.stop()


class SchemelessPublicUrlServer(ServerProcess):
    start_timeout_s = 90.0

    def env(self) -> dict[str, str]:
        return {**super().env(), "TWILIO_AUTH_TOKEN": TOKEN, "VOICE_LETTA_PUBLIC_URL": "abc.ngrok-free.app",
                "VOICE_LETTA_TWILIO_AGENT": "assistant"}


async def test_a_public_url_without_a_scheme_is_https(tmp_path: Path) -> None:
    # The tunnel's name pasted without https://: its Host was not allowed, so every Twilio webhook was a 421 (and
    # the TwiML would have given Twilio a stream address without wss://).
    server = SchemelessPublicUrlServer(tmp_path / "p.db")
    await server.start()
    try:
        public = "https://abc.ngrok-free.app/twilio/voice"  # what Twilio requests and signs
        params = {"CallSid": "CA9", "From": "+15551234567", "To": "+15557654321", "AccountSid": "AC1"}
        async with aiohttp.ClientSession() as s, s.post(server.url + "/twilio/voice", data=params, headers={
                "Host": "abc.ngrok-free.app", "X-Twilio-Signature": compute_signature(TOKEN, public, params)}) as r:
            body = await r.text()
            assert r.status == 200, body  # before: 421 host_not_allowed
            assert 'url="wss://abc.ngrok-free.app/twilio/stream"' in body, body
    finally:
        await server.stop()
