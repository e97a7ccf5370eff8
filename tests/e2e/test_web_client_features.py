"""The page's conversation features in a real Chromium against a real server (fake microphone, real Whisper and
Piper, scripted LLM): live captions and the listening / thinking / speaking indicator, the history after a
reload, tool chips that open onto their arguments and result, the event log, session settings (text-only
replies, the end-of-turn pause), device selection and the transcript export.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Playwright

from tests.e2e.test_web_client import debug, launch, mic_flags, new_page, wait_for, words
from tests.fakes.openai_server import Text, ToolCall
from tests.integration.agent.conftest import Running

OPEN = "window.voiceLettaDebug.state === 'open'"


@pytest.mark.timeout(240)
async def test_captions_and_the_agent_state_while_talking(warm_server: Running, pw: Playwright) -> None:
    """long_story.wav (8 s of speech) through the fake microphone: captions grow while it plays, the final
    transcript replaces them, and the indicator goes listening → thinking → speaking → idle."""
    server = warm_server
    await server.create_agent(name="Juniper", handoff_on_session_end=False)
    server.fake.script([Text("What a lovely trip. Thank you for telling me.")])
    browser = await launch(pw, mic_flags("long_story.wav"))
    try:
        page = await new_page(browser)
        await page.goto(server.url + "/")
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.locator("#mic").click()
        await page.locator(".msg.user.caption").wait_for(timeout=60_000)
        d = await debug(page)
        assert d["partials"] and not d["transcripts"], "captions come while the user is still speaking"
        d = await wait_for(page, "window.voiceLettaDebug.transcripts.length > 0", 90)
        # captions come after every 500 ms of speech; a busy machine spaces them out (each transcription then
        # takes longer), so only "at least one before the final" holds whatever the load
        assert d["partials"], d
        assert {"summer", "coast", "brother"} <= words(d["transcripts"][0]), d["transcripts"]
        assert await page.locator(".msg.user.caption").count() == 0  # the final transcript took its place
        d = await wait_for(page, "window.voiceLettaDebug.reports.some(r => r.reason === 'finished')", 60)
        d = await wait_for(page, "window.voiceLettaDebug.agentState === 'idle'", 10)
        states = d["agentStates"]
        for a, b in (("listening", "thinking"), ("thinking", "speaking"), ("speaking", "idle")):
            assert a in states and b in states[states.index(a):], states
        assert await page.locator("#agent-state").get_attribute("data-state") == "idle"
    finally:
        await browser.close()


@pytest.mark.timeout(180)
async def test_history_tool_chips_event_log_and_export(server: Running, agent: dict[str, Any],
                                                       pw: Playwright, tmp_path: Any) -> None:
    server.fake.script(
        [ToolCall("search_memory", json.dumps({
            "pre_exec_msg": "Let me check my notes.", "convo_keyword_queries": ["sister"],
            "start_minutes_ago": None, "end_minutes_ago": None}))],
        [Text("You told me your sister lives in Paris.")],
    )
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(server.url + "/")
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.locator("#text-input").fill("What did I tell you about my sister?")
        await page.locator("#send").click()
        chip = page.locator(".msg.agent .tool[data-state='ok']", has_text="search_memory")
        await chip.wait_for(timeout=30_000)
        await page.locator(".msg.agent .text", has_text="sister lives in Paris").wait_for(timeout=30_000)
        # the chip opens onto its arguments and the start of its result
        await chip.locator("summary").click()
        assert '"convo_keyword_queries"' in (await chip.locator(".tool-args").text_content() or "")
        assert (await chip.locator(".tool-result").text_content() or "").strip()
        assert "Let me check my notes." in (await chip.locator(".tool-filler").text_content() or "")

        # the event log lists the protocol messages both ways and filters them
        await page.locator("#event-log > summary").click()
        await page.locator(".log-row.log-out[data-type='input_text']").wait_for(timeout=5_000)
        await page.locator(".log-row.log-in[data-type='response.done']").first.wait_for(timeout=5_000)
        await page.locator("#log-filter").fill("tool.")
        types = await page.locator(".log-row").evaluate_all("rows => rows.map(r => r.dataset.type)")
        assert types and set(types) <= {"tool.started", "tool.finished"}, types

        # export: Markdown with both sides of the conversation and the tool call
        async with page.expect_download() as info:
            await page.locator("#export-md").click()
        path = tmp_path / "conversation.md"
        await (await info.value).save_as(path)
        md = path.read_text()
        assert "**You**" in md and "What did I tell you about my sister?" in md
        assert "sister lives in Paris" in md and "`search_memory`" in md

        # after a reload the stored conversation is shown again, marked as earlier
        await page.reload()
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.locator(".msg.user.past .text", has_text="What did I tell you about my sister?").wait_for(
            timeout=10_000)
        await page.locator(".msg.agent.past .text", has_text="sister lives in Paris").wait_for(timeout=10_000)
        past_chip = page.locator(".msg.agent.past .tool", has_text="search_memory")
        await past_chip.locator("summary").click()
        assert '"sister"' in (await past_chip.locator(".tool-args").text_content() or "")
        assert (await debug(page))["history"] >= 2
    finally:
        await browser.close()


@pytest.mark.timeout(180)
async def test_settings_text_only_replies_and_the_pause(server: Running, agent: dict[str, Any],
                                                       pw: Playwright) -> None:
    server.fake.script([Text("Text only, as you asked.")])
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(server.url + "/")
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.locator("#set-text-only").check()  # the side panel is open at this width
        await page.wait_for_function(
            "window.voiceLetta.state.session.output_modalities.join() === 'text'", timeout=5_000)
        await page.locator("#set-silence").fill("900")
        await page.locator("#set-silence").dispatch_event("change")
        await page.wait_for_function("window.voiceLetta.state.session.vad.silence_ms === 900", timeout=5_000)
        await page.locator("#set-eot").uncheck()
        await page.wait_for_function("window.voiceLetta.state.session.vad.end_of_turn === 'silence'", timeout=5_000)
        await page.locator("#text-input").fill("Hello?")
        await page.locator("#send").click()
        await page.locator(".msg.agent .text", has_text="Text only, as you asked.").wait_for(timeout=30_000)
        d = await wait_for(page, "window.voiceLettaDebug.responses.length > 0", 10)
        assert d["framesReceived"] == 0 and "response.audio.start" not in d["events"]
        # the settings are kept in this browser and sent again by the next session
        await page.reload()
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.wait_for_function("window.voiceLetta.state.session.vad.silence_ms === 900", timeout=5_000)
        assert await page.locator("#set-text-only").is_checked()
    finally:
        await browser.close()


@pytest.mark.timeout(120)
async def test_microphone_selection(server: Running, agent: dict[str, Any], pw: Playwright) -> None:
    browser = await launch(pw, mic_flags("hello.wav"))
    try:
        page = await new_page(browser)
        await page.goto(server.url + "/")
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.locator("#mic").click()
        await page.wait_for_function("window.voiceLettaDebug.framesSent > 5", timeout=10_000)
        # once the microphone is allowed, the devices are listed by name
        await page.wait_for_function("document.querySelectorAll('#mic-select option').length > 1", timeout=5_000)
        options = await page.locator("#mic-select option").evaluate_all(
            "os => os.map(o => ({value: o.value, label: o.textContent}))")
        device = next(o for o in options if o["value"])
        assert device["label"]
        await page.locator("#mic-select").select_option(device["value"])
        await page.wait_for_function(f"window.voiceLetta.audio.micId === {json.dumps(device['value'])}",
                                     timeout=5_000)
        sent = (await debug(page))["framesSent"]
        await page.wait_for_function(f"window.voiceLettaDebug.framesSent > {sent + 10}", timeout=10_000)
        track = await page.evaluate("window.voiceLetta.audio.stream.getAudioTracks()[0].getSettings().deviceId")
        assert track == device["value"]
        # the speaker list is there (Chromium can choose an output); headless Chromium may list no outputs
        assert await page.locator("#speaker-select option").count() >= 1
    finally:
        await browser.close()


@pytest.mark.timeout(120)
async def test_the_agent_greets_a_fresh_page_when_asked(server: Running, pw: Playwright) -> None:
    agent = await server.create_agent(name="Greeter", voice={"greeting": "Hello, nice to see you!"})
    browser = await launch(pw, [])
    try:
        page = await new_page(browser, permissions=[])
        await page.goto(server.url + "/")
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.locator("#set-greet").check()
        await page.reload()  # the preference applies when a session starts on a fresh page
        await page.wait_for_function(OPEN, timeout=15_000)
        await page.locator(".msg.agent .text", has_text="Hello, nice to see you!").wait_for(timeout=30_000)
        assert server.fake.requests == []  # a fixed greeting: no model call
        rows = await server.store.list_messages(agent["id"])
        assert [(m.role, m.kind) for m in rows] == [("assistant", "greeting")]
    finally:
        await browser.close()


async def test_an_agent_made_on_the_page_gets_the_browsers_time_zone(server: Running, pw: Playwright) -> None:
    browser = await launch(pw, [])
    try:
        ctx = await browser.new_context(timezone_id="Pacific/Tongatapu", bypass_csp=True)
        page = await ctx.new_page()
        await page.goto(server.url + "/")
        await page.locator("#new-agent-form").wait_for(state="visible", timeout=15_000)  # no agent yet: it opens
        await page.locator("#new-agent-name").fill("Islander")
        await page.locator("#new-agent-name").press("Enter")
        await page.locator("#new-agent-form").wait_for(state="hidden", timeout=15_000)
        [made] = [a for a in await server.store.list_agents() if a.name == "Islander"]
        assert made.timezone == "Pacific/Tongatapu"  # "yesterday" is this user's yesterday
    finally:
        await browser.close()
