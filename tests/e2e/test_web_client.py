"""The browser client (web_client/) in a real Chromium, against a real voice-letta server.

Playwright (async API) drives Debian's ``/usr/bin/chromium``; the microphone is Chromium's fake capture
device playing a fixture WAV once (``%noloop``). The server runs in-process on 127.0.0.1:0 with the default
speech stack (local faster-whisper STT + Piper TTS) and a scripted OpenAI-compatible LLM
(``tests/fakes/openai_server.py``). The page exposes ``window.voiceLettaDebug`` (counters for frames sent,
audio played, playback reports), which the tests read.

Screenshots go to ``test-artifacts/`` (gitignored). ``VOICE_LETTA_UPDATE_SCREENSHOT=1`` also writes the
README screenshot ``docs/screenshot.png`` from the main voice test.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Text, ToolCall
from tests.integration.agent.conftest import Running, start_server
from voice_letta.agent.bus import MemoryUpdated
from voice_letta.server.keys import BUS

pytest.importorskip("playwright", reason="playwright (python) is not installed")
from playwright.async_api import Browser, ConsoleMessage, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip(f"{CHROMIUM} not found (apt-get install -y chromium)", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "audio_fixtures"
ARTIFACTS = ROOT / "test-artifacts"
META = json.loads((FIXTURES / "transcripts.json").read_text(encoding="utf-8"))

BASE_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
    "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--autoplay-policy=no-user-gesture-required",
]


def mic_flags(wav: str) -> list[str]:
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={FIXTURES / wav}%noloop"]


def words(text: str) -> set[str]:
    return {w.strip(".,!?;:'\"").lower() for w in text.split()} - {""}


async def launch(pw: Playwright, flags: list[str]) -> Browser:
    return await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BASE_FLAGS + flags)


async def new_page(browser: Browser, *, width: int = 1280, height: int = 820,
                   permissions: list[str] | None = None, bypass_csp: bool = True) -> Page:
    # Playwright's wait_for_function(string) evaluates with eval(), which the page's CSP forbids; the CSP itself
    # is exercised by test_page_runs_under_its_content_security_policy.
    ctx = await browser.new_context(viewport={"width": width, "height": height}, bypass_csp=bypass_csp,
                                    permissions=permissions if permissions is not None else ["microphone"])
    page = await ctx.new_page()
    page.on("pageerror", lambda exc: print(f"[page error] {exc}"))

    def console(m: ConsoleMessage) -> None:
        if m.type in ("error", "warning"):
            print(f"[console.{m.type}] {m.text}")

    page.on("console", console)
    return page


async def debug(page: Page) -> dict[str, Any]:
    data: dict[str, Any] = await page.evaluate("() => JSON.parse(JSON.stringify(window.voiceLettaDebug))")
    return data


async def wait_for(page: Page, js: str, timeout_s: float = 30.0) -> Any:
    await page.wait_for_function(js, timeout=timeout_s * 1000)
    return await debug(page)


def shot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@pytest.mark.timeout(240)
async def test_voice_turn_in_the_browser(warm_server: Running, pw: Playwright) -> None:
    """Fake mic (hello.wav) → real STT → scripted LLM → real TTS → played in the page, with reports; then a
    typed turn with a tool call and a memory update shown live."""
    server = warm_server
    agent = await server.create_agent(name="Juniper", blocks=[
        {"label": "persona", "value": "I am Juniper, a calm voice assistant with a long memory."},
        {"label": "human", "value": "Name: unknown."},
    ], handoff_on_session_end=False)  # no sleeptime run eating the scripted LLM turns
    reply = "I am doing great, thanks for asking. It is lovely to hear from you."
    server.fake.script(
        [Text("I am doing great, "), Text("thanks for asking. "), Text("It is lovely to hear from you.")],
        [ToolCall("search_memory", json.dumps({
            "pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": ["sister"],
            "start_minutes_ago": None, "end_minutes_ago": None}))],
        [Text("You told me your sister lives in Paris.")],
    )
    browser = await launch(pw, mic_flags("hello.wav"))
    try:
        page = await new_page(browser)
        await page.goto(server.url + "/")
        await page.wait_for_function("window.voiceLettaDebug && window.voiceLettaDebug.state === 'open'",
                                     timeout=15_000)
        assert await page.locator("#agent-id").text_content() == agent["id"]
        # memory blocks are loaded over REST on connect
        await page.locator(".block[data-label='human']").wait_for(timeout=5_000)

        await page.locator("#mic").click()
        d = await wait_for(page, "window.voiceLettaDebug.transcripts.length > 0", 60)
        heard = words(d["transcripts"][0])
        assert {"hello", "how", "are", "you"} <= heard, d["transcripts"]
        assert d["framesSent"] > 50 and d["bytesSent"] == d["framesSent"] * 640  # 20 ms PCM16 at 16 kHz
        await page.locator(".msg.user .text", has_text="how are you").wait_for(timeout=5_000)

        d = await wait_for(page, "window.voiceLettaDebug.reports.some(r => r.reason === 'finished')", 60)
        await page.locator(".msg.agent .text", has_text=reply).wait_for(timeout=5_000)
        final = next(r for r in d["reports"] if r["reason"] == "finished")
        assert d["framesReceived"] > 0 and d["audioMsReceived"] > 1000
        assert d["playedMs"] > 1000
        # the final report says what was played: everything that arrived (to within a frame or so)
        assert abs(final["played_ms"] - d["audioMsReceived"]) < 60, (final, d["audioMsReceived"])
        assert d["progressSent"] >= 2, d
        assert d["events"].get("playback.clear", 0) == 0
        assert d["micError"] is None

        # latency: response.done timings are shown (voice to voice)
        d = await wait_for(page, "window.voiceLettaDebug.responses.length > 0", 10)
        t = d["responses"][0]["timings"]
        assert d["responses"][0]["status"] == "completed"
        assert {"stt_ms", "first_token_ms", "voice_to_voice_ms"} <= set(t), t
        assert await page.locator("#latency .lat-total strong").is_visible()

        # the server really got the turn (stored reply) and the page got its playback numbers
        status, messages = await server.request("GET", f"/v1/agents/{agent['id']}/messages")
        assert status == 200
        texts = [m["content"] for m in (messages.get("data", messages) if isinstance(messages, dict) else messages)
                 if m["role"] == "assistant"]
        assert any(reply in (c or "") for c in texts), texts

        # a typed turn: the agent calls a tool (chip with its duration) and answers
        await page.locator("#text-input").fill("What did I tell you about my sister?")
        await page.locator("#send").click()
        await page.locator(".tool[data-state='ok']", has_text="search_memory").wait_for(timeout=30_000)
        await page.locator(".msg.agent .text", has_text="sister lives in Paris").wait_for(timeout=30_000)
        await wait_for(page, "window.voiceLettaDebug.responses.length >= 2 && "
                             "window.voiceLettaDebug.reports.filter(r => r.reason === 'finished').length >= 2", 60)
        d = await debug(page)
        assert d["events"].get("tool.started") == 1 and d["events"].get("tool.finished") == 1

        # memory changes reach the page live (memory.updated) and flash the block
        blocks = await server.store.list_blocks(agent["id"])
        new = tuple(b.model_copy(update={"value": "Name: Sam. Sister: lives in Paris.", "version": b.version + 1})
                    if b.label == "human" else b for b in blocks)
        server.app[BUS].publish(MemoryUpdated(agent_id=agent["id"], blocks=new, passages_added=1))
        await page.locator(".block[data-label='human'] .block-value", has_text="Sister: lives in Paris").wait_for(
            timeout=5_000)
        await page.locator(".note", has_text="Memory: human updated").wait_for(timeout=5_000)

        await page.screenshot(path=str(shot_path("web_client_desktop.png")))
        if os.environ.get("VOICE_LETTA_UPDATE_SCREENSHOT"):
            shutil.copy(shot_path("web_client_desktop.png"), ROOT / "docs" / "screenshot.png")
    finally:
        await browser.close()


@pytest.mark.timeout(120)
async def test_stop_button_cuts_playback_and_reports_what_was_heard(
        server: Running, agent: dict[str, Any], pw: Playwright) -> None:
    long_reply = ("Once upon a time there was a lighthouse keeper who counted the waves every night. "
                  "He wrote each number in a small blue notebook. One winter the notebook was full, "
                  "so he started a second one, and then a third, and then a fourth.")
    server.fake.script([Text(long_reply)])
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(server.url + "/")
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        await page.locator("#text-input").fill("Tell me a long story.")
        await page.locator("#send").click()
        await wait_for(page, "window.voiceLettaDebug.playedMs > 1200", 60)
        await page.locator("#stop").click()
        d = await wait_for(page, "window.voiceLettaDebug.responses.length > 0", 10)
        rep = [r for r in d["reports"] if r["reason"] == "interrupted"]
        assert len(rep) == 1, d["reports"]
        assert 1000 < rep[0]["played_ms"] < d["audioMsReceived"], (rep, d["audioMsReceived"])
        done = d["responses"][0]
        assert done["status"] == "cancelled"
        heard = (done["heard_text"] or "").strip()
        assert heard and long_reply.startswith(heard) and len(heard) < len(long_reply), heard
        await page.locator(".msg.agent .unheard").wait_for(timeout=5_000)
        # nothing more is played after the stop
        played = d["playedMs"]
        await asyncio.sleep(0.5)
        assert (await debug(page))["playedMs"] == pytest.approx(played, abs=1)
        assert await page.locator("#stop").is_hidden()
    finally:
        await browser.close()


@pytest.mark.timeout(180)
async def test_push_to_talk(server: Running, agent: dict[str, Any], pw: Playwright) -> None:
    """Hold the mic button while speaking (weather.wav), release: input_audio.commit ends the turn."""
    server.fake.script([Text("It is sunny and warm today.")])
    browser = await launch(pw, mic_flags("weather.wav"))
    try:
        page = await new_page(browser)
        await page.goto(server.url + "/")
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        await page.locator(".segmented [data-mode='push_to_talk']").click()
        await page.wait_for_function("window.voiceLetta.state.session.turn_mode === 'push_to_talk'", timeout=5_000)
        box = await page.locator("#mic").bounding_box()
        assert box
        await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        await page.mouse.down()
        await page.wait_for_function("window.voiceLettaDebug.framesSent > 0", timeout=10_000)
        assert await page.locator("#mic").get_attribute("data-state") == "held"
        await page.wait_for_timeout(3_000)  # the WAV: 0.5 s silence, 1.3 s of speech, 1 s silence
        await page.mouse.up()
        sent = (await debug(page))["framesSent"]
        d = await wait_for(page, "window.voiceLettaDebug.transcripts.length > 0", 60)
        # Chromium loops the WAV, so the press catches the sentence at a random point of the loop; Whisper tiny
        # then sometimes mishears one word ("like" as "light" seen in CI). Two of the three words: it was heard.
        assert len({"weather", "like", "today"} & words(d["transcripts"][0])) >= 2, d["transcripts"]
        await page.locator(".msg.agent .text", has_text="It is sunny and warm today.").wait_for(timeout=30_000)
        await page.wait_for_timeout(500)
        assert (await debug(page))["framesSent"] == sent  # nothing is sent while the button is up
        assert await page.locator("#mic").get_attribute("data-state") == "ready"
    finally:
        await browser.close()


@pytest.mark.timeout(180)
async def test_barge_in_clears_playback_and_reports_it(server: Running, agent: dict[str, Any], pw: Playwright) -> None:
    """The user talks over the agent (barge_in.wav): the server's playback.clear stops the audio at once and
    the page answers with playback.stopped (reason "cleared")."""
    long_reply = ("Once upon a time there was a lighthouse keeper who counted the waves every night. "
                  "He wrote each number in a small blue notebook. One winter the notebook was full, "
                  "so he started a second one, and then a third, and then a fourth.")
    server.fake.script([Text(long_reply)], [Text("Sure, what is your question?")])
    browser = await launch(pw, mic_flags("barge_in.wav"))
    try:
        page = await new_page(browser)
        await page.goto(server.url + "/")
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        await page.locator("#text-input").fill("Tell me a long story.")
        await page.locator("#send").click()
        await wait_for(page, "window.voiceLettaDebug.playedMs > 300", 60)
        await page.locator("#mic").click()  # barge_in.wav: 1.5 s of silence, then "Wait, stop, ..."
        d = await wait_for(page, "window.voiceLettaDebug.reports.some(r => r.reason === 'cleared')", 30)
        assert d["events"].get("playback.clear") == 1
        rep = next(r for r in d["reports"] if r["reason"] == "cleared")
        assert 1500 < rep["played_ms"] < d["audioMsReceived"], (rep, d["audioMsReceived"])
        d = await wait_for(page, "window.voiceLettaDebug.responses.length > 0", 10)
        assert d["responses"][0]["status"] == "cancelled" and d["responses"][0]["finish_reason"] == "barge_in"
        await page.locator(".msg.agent .meta", has_text="interrupted by you").wait_for(timeout=5_000)
        # the interruption is the next turn
        await page.locator(".msg.agent .text", has_text="what is your question").wait_for(timeout=60_000)
    finally:
        await browser.close()


@pytest.mark.timeout(120)
async def test_text_turn(server: Running, agent: dict[str, Any], pw: Playwright) -> None:
    server.fake.script([Text("Paris is the capital of France.")])
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(server.url + "/")
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        await page.locator("#text-input").fill("What is the capital of France?")
        await page.locator("#text-input").press("Enter")
        await page.locator(".msg.user .text", has_text="What is the capital of France?").wait_for(timeout=5_000)
        await page.locator(".msg.agent .text", has_text="Paris is the capital of France.").wait_for(timeout=30_000)
        d = await wait_for(page, "window.voiceLettaDebug.responses.length > 0", 30)
        assert d["responses"][0]["status"] == "completed"
        assert d["transcripts"] == ["What is the capital of France?"]
        assert d["framesSent"] == 0
        assert await page.locator("#text-input").input_value() == ""
        # the user's request reached the scripted LLM
        last = server.fake.requests[0]["messages"][-1]
        assert "capital of France" in json.dumps(last)
    finally:
        await browser.close()


@pytest.mark.timeout(60)
async def test_phone_width_layout(server: Running, agent: dict[str, Any], pw: Playwright) -> None:
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, width=390, height=844, permissions=[])
        await page.goto(server.url + "/")
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        await page.locator("#text-input").fill("Hi!")
        await page.locator("#send").click()
        await page.locator(".msg.agent .text", has_text="OK.").wait_for(timeout=30_000)
        overflow = await page.evaluate("""() => {
            const d = document.documentElement;
            const wide = [...document.querySelectorAll('body *')].filter(e => {
                const s = getComputedStyle(e);
                if (s.visibility === 'hidden' || s.display === 'none' || s.position === 'fixed') return false;
                const r = e.getBoundingClientRect();
                return r.width > 0 && (r.right > window.innerWidth + 0.5 || r.left < -0.5);
            }).map(e => e.id || e.className || e.tagName);
            return {scrollWidth: d.scrollWidth, clientWidth: d.clientWidth,
                    bodyScroll: document.body.scrollWidth, wide};
        }""")
        assert overflow["scrollWidth"] <= overflow["clientWidth"], overflow
        assert overflow["bodyScroll"] <= 390, overflow
        assert not overflow["wide"], overflow
        mic = page.locator("#mic")
        assert await mic.is_visible()
        box = await mic.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
        assert await page.locator("#text-input").is_visible()
        # the side panel is a drawer at this width: closed, then opened with its button
        assert await page.locator("#side").is_hidden()
        await page.locator("#panel-toggle").click()
        await page.locator(".block[data-label='persona']").wait_for(timeout=5_000)
        await page.wait_for_timeout(400)  # the drawer's slide-in
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        side = await page.locator("#side").bounding_box()
        assert side and side["x"] >= 0 and side["x"] + side["width"] <= 390 + 0.5, side
        await page.screenshot(path=str(shot_path("web_client_phone_panel.png")))
        await page.locator("#close-side").click()
        await page.locator("#side").wait_for(state="hidden", timeout=2_000)
        await page.wait_for_timeout(100)
        await page.screenshot(path=str(shot_path("web_client_phone.png")))
    finally:
        await browser.close()


@pytest.mark.timeout(60)
async def test_microphone_denied_shows_a_clear_message(server: Running, agent: dict[str, Any], pw: Playwright) -> None:
    # No fake-UI flag and no permission: getUserMedia is refused.
    browser = await launch(pw, ["--use-fake-device-for-media-stream"])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(server.url + "/")
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        await page.locator("#mic").click()
        d = await wait_for(page, "window.voiceLettaDebug.micError !== null", 10)
        assert d["micError"] == "denied"
        banner = page.locator("#banner")
        await banner.wait_for(state="visible", timeout=5_000)
        assert "Microphone access was blocked" in (await banner.text_content() or "")
        assert await page.locator("#mic").get_attribute("data-state") == "blocked"
        assert "type" in (await page.locator("#voice-status").text_content() or "").lower()
        assert d["framesSent"] == 0
        await page.screenshot(path=str(shot_path("web_client_mic_denied.png")))
    finally:
        await browser.close()


@pytest.mark.timeout(60)
async def test_page_runs_under_its_content_security_policy(server: Running, agent: dict[str, Any],
                                                           pw: Playwright) -> None:
    """With the CSP enforced (no eval, nothing from elsewhere, no framing) the page loads, lists agents, opens
    its voice socket and takes a typed turn, and the browser reports no CSP violation."""
    server.fake.script([Text("Hello from under the policy.")])
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[], bypass_csp=False)
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        response = await page.goto(server.url + "/")
        assert response is not None and "frame-ancestors 'none'" in response.headers["content-security-policy"]
        await page.locator("#text-input").fill("hi")
        await page.locator("#text-input").press("Enter")
        await page.get_by_text("Hello from under the policy.").wait_for(timeout=20_000)
        assert violations == []
    finally:
        await browser.close()


@pytest.mark.timeout(60)
async def test_server_unreachable_then_reconnects(
        tmp_path: Path, fake_openai: FakeOpenAIServer, pw: Playwright) -> None:
    """The server goes away mid-session: the page says so, retries with backoff and reconnects."""
    running, runner = await start_server(tmp_path, fake_openai, api_key=None)
    port = int(running.url.rsplit(":", 1)[1])
    await running.create_agent(name="Juniper")
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(running.url + "/")
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        first = (await debug(page))["sessionId"]
        await runner.cleanup()
        await page.wait_for_function("window.voiceLettaDebug.state === 'reconnecting'", timeout=10_000)
        banner = page.locator("#banner")
        await banner.wait_for(state="visible", timeout=5_000)
        assert "Reconnecting" in (await banner.text_content() or "")
        await page.screenshot(path=str(shot_path("web_client_reconnecting.png")))
        # the same port again, with the same database
        from aiohttp import web

        from tests.integration.agent.conftest import FAKE_ENV
        from voice_letta.config import ServerConfig
        from voice_letta.providers.registry import ProviderRegistry
        from voice_letta.server.app import Overrides, create_app

        cfg = ServerConfig(db_path=tmp_path / "voice.db", enable_sandbox=False, api_key=None)
        app = create_app(cfg, Overrides(models=ProviderRegistry(env=FAKE_ENV)))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=30_000)
        assert (await debug(page))["sessionId"] != first
        await banner.wait_for(state="hidden", timeout=5_000)
    finally:
        await browser.close()
        await runner.cleanup()


@pytest.mark.timeout(60)
async def test_api_key_and_server_errors(tmp_path: Path, fake_openai: FakeOpenAIServer, pw: Playwright) -> None:
    """With an API key on the server: the page asks for it, then uses it for REST and a WebSocket token;
    a server error event is shown as a toast."""
    running, runner = await start_server(tmp_path, fake_openai, api_key="sk-test-key")
    await running.create_agent(name="Juniper")
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(running.url + "/")
        banner = page.locator("#banner")
        await banner.wait_for(state="visible", timeout=10_000)
        assert "API key" in (await banner.text_content() or "")
        await page.locator("#banner-action").click()
        await page.locator("#api-key").fill("sk-test-key")
        await page.locator("#key-form button[type=submit]").click()
        await page.wait_for_function("window.voiceLettaDebug.state === 'open'", timeout=15_000)
        assert await page.evaluate("localStorage.getItem('voiceLetta.apiKey')") == "sk-test-key"
        # an invalid message makes the server answer with an error event → a toast, not an alert
        await page.evaluate("window.voiceLetta.conn.send({type: 'session.update', session: {turn_mode: 'bogus'}})")
        toast = page.locator(".toast[data-kind='error']", has_text="invalid_event")
        await toast.wait_for(timeout=5_000)
        assert "turn_mode" in (await toast.text_content() or "")
    finally:
        await browser.close()
        await runner.cleanup()
