"""Twilio's REST API, the two calls a phone agent needs: hang up a live call, and move it to other TwiML.

    POST {api_base}/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json
         Authorization: Basic base64(AccountSid:AuthToken), Content-Type: application/x-www-form-urlencoded
         Status=completed                         → the call ends
         Twiml=<Response><Dial>…</Dial></Response> → Twilio leaves the media stream and runs that TwiML

(docs: twilio.com/docs/voice/api/call-resource#update-a-call-resource). Two documented form POSTs through
the aiohttp client the server already has; Twilio's SDK would need an HTTP client that rewrites its host to
reach a local fake in tests, and brings its own dependencies. ``api_base`` is ``https://api.twilio.com``
unless ``VOICE_LETTA_TWILIO_API_BASE`` says otherwise (tests point it at ``tests/fakes/twilio_rest.py``).
Failures raise ``ProviderError``s: the bridge logs them and, for a hang-up, closes the stream itself.
"""

from __future__ import annotations

import base64
import logging
from xml.sax.saxutils import escape

import aiohttp

from voice_letta.errors import ProviderBadRequest, ProviderUnavailable

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.twilio.com"
TIMEOUT_S = 10.0


def dial_twiml(number: str, *, say: str | None = None) -> str:
    """TwiML that (optionally says something and) connects the caller to ``number``."""
    spoken = f"<Say>{escape(say)}</Say>" if say else ""
    return f"<Response>{spoken}<Dial>{escape(number)}</Dial></Response>"


class TwilioRest:
    def __init__(self, account_sid: str, auth_token: str, *, api_base: str = DEFAULT_API_BASE) -> None:
        self.account_sid = account_sid
        # the header itself: aiohttp deprecates BasicAuth and its replacement needs aiohttp >= 3.14
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {credentials}"}
        self.api_base = api_base.rstrip("/")

    def call_url(self, call_sid: str) -> str:
        return f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Calls/{call_sid}.json"

    async def hang_up(self, call_sid: str) -> None:
        await self._update(call_sid, {"Status": "completed"})

    async def redirect(self, call_sid: str, twiml: str) -> None:
        await self._update(call_sid, {"Twiml": twiml})

    async def _update(self, call_sid: str, form: dict[str, str]) -> None:
        url = self.call_url(call_sid)
        try:
            timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
            async with aiohttp.ClientSession(headers=self._headers, timeout=timeout) as s, \
                    s.post(url, data=form) as resp:
                body = await resp.text()
                if resp.status >= 400:
                    message = f"Twilio refused the call update ({resp.status}): {body[:200]}"
                    if resp.status in (400, 401, 403, 404):
                        raise ProviderBadRequest(message, code="twilio_rejected")
                    raise ProviderUnavailable(message, code="twilio_unavailable")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(f"Twilio's REST API cannot be reached: {exc}", code="twilio_unavailable") from exc
        log.info("twilio: call %s updated (%s)", call_sid, ", ".join(form))
