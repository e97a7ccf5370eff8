"""A local fake of Twilio's REST "update a call" endpoint that checks every request like Twilio would.

    POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json

- the path must name the configured account and a call the fake knows (``add_call``), else 404 with Twilio's
  error body (``{"code": 20404, "message": …, "status": 404}``);
- HTTP Basic auth must be ``AccountSid:AuthToken``, else 401 (Twilio code 20003);
- the body must be ``application/x-www-form-urlencoded`` with exactly one of ``Status`` (``completed`` or
  ``canceled``) or ``Twiml`` (a ``<Response>`` document), else 400 (code 21220);
- a valid request answers 200 with a call resource (``sid``, ``account_sid``, ``status``, …) and is recorded in
  ``updates`` as ``(call_sid, form)``; ``fail_next(status)`` makes the next one fail with that status.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Update:
    call_sid: str
    form: dict[str, str]


@dataclass
class FakeTwilioRest:
    account_sid: str = "AC00000000000000000000000000000001"  # the simulated caller's account
    auth_token: str = "twilio-test-token"
    calls: set[str] = field(default_factory=set)
    updates: list[Update] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (status, reason) of refused requests
    _fail: list[int] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    base_url: str = ""
    updated: asyncio.Event = field(default_factory=asyncio.Event)

    def add_call(self, call_sid: str) -> None:
        self.calls.add(call_sid)

    def fail_next(self, status: int) -> None:
        self._fail.append(status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", self._update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _error(self, status: int, code: int, message: str) -> web.Response:
        self.refused.append((status, message))
        return web.json_response({"code": code, "message": message, "more_info": "", "status": status},
                                 status=status)

    async def _update(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if header != expected:
            return self._error(401, 20003, "Authenticate")
        account, call = request.match_info["account"], request.match_info["call"]
        if account != self.account_sid or call not in self.calls:
            return self._error(404, 20404, f"The requested resource /Calls/{call}.json was not found")
        if request.content_type != "application/x-www-form-urlencoded":
            return self._error(400, 21220, f"Invalid content type {request.content_type}")
        form = {k: str(v) for k, v in (await request.post()).items()}
        status, twiml = form.get("Status"), form.get("Twiml")
        if (status is None) == (twiml is None) or (status is not None and status not in ("completed", "canceled")) \
                or (twiml is not None and not twiml.startswith("<Response>")):
            return self._error(400, 21220, f"Invalid call update {sorted(form)}")
        if self._fail:
            code = self._fail.pop(0)
            return self._error(code, 20500, "Internal failure")
        self.updates.append(Update(call, form))
        self.updated.set()
        body: dict[str, Any] = {"sid": call, "account_sid": account, "status": "completed" if status else "in-progress",
                                "direction": "inbound", "api_version": "2010-04-01"}
        return web.json_response(body)
