"""Native ``response.create`` (respond without new user input) and text-only output (``output_modalities``)."""

from __future__ import annotations

from tests.fakes.openai_server import Pause, Text
from tests.integration.session.conftest import VoiceServer
from voice_letta.agent.loop import NO_INPUT_CUE


async def test_response_create_speaks_first_and_stores_no_user_message(vs: VoiceServer) -> None:
    agent = await vs.create_agent(client_system_prompt="append")
    vs.fake.script([Text("Good morning! What can I do for you?")])
    async with await vs.client(agent) as c:
        await c.send(type="response.create", instructions="Greet the caller warmly.", event_id="greet")
        done = await c.wait_for("response.done")
        assert done["status"] == "completed"
        assert c.response_text(done["response_id"]) == "Good morning! What can I do for you?"
        assert len(c.audio[done["response_id"]]) > 0
    rows = await vs.store.list_messages(agent, limit=10)
    assert [(m.role, m.content) for m in rows] == [("assistant", "Good morning! What can I do for you?")]
    sent = vs.fake.requests[-1]["messages"]
    assert sent[-1]["role"] == "user" and NO_INPUT_CUE in sent[-1]["content"]  # a cue, never stored
    assert "Greet the caller warmly." in sent[0]["content"]


async def test_response_create_instructions_are_ignored_unless_the_agent_appends(vs: VoiceServer) -> None:
    agent = await vs.create_agent()  # client_system_prompt: ignore (the default)
    vs.fake.script([Text("Hello.")])
    async with await vs.client(agent) as c:
        await c.send(type="response.create", instructions="Speak like a pirate.")
        await c.wait_for("response.done")
    assert "pirate" not in vs.fake.requests[-1]["messages"][0]["content"]


async def test_response_create_during_a_response_is_refused(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("One moment. "), Pause(0.5), Text("Here it is.")])
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="Tell me something.")
        await c.wait_for("response.created")
        await c.send(type="response.create", event_id="again")
        err = await c.wait_for("error")
        assert err["code"] == "response_in_progress" and err["event_id"] == "again"
        done = await c.wait_for("response.done")
        assert done["status"] == "completed"


async def test_text_only_session_streams_words_without_speech(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Just text. "), Text("No voice.")], [Text("Spoken again.")])
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"output_modalities": ["text"]})
        upd = await c.wait_for("session.updated")
        assert upd["session"]["output_modalities"] == ["text"]
        await c.send(type="input_text", text="hi")
        done = await c.wait_for("response.done")
        assert c.response_text(done["response_id"]) == "Just text. No voice."
        assert done["response_id"] not in c.audio and "response.audio.start" not in [m["type"] for m in c.events()]
        assert vs.tts.texts == []
        # one spoken response on request, in the same session
        await c.send(type="response.create", output_modalities=["audio"])
        second = await c.wait_for("response.done", count=2)
        assert len(c.audio[second["response_id"]]) > 0 and vs.tts.texts == ["Spoken again."]


async def test_a_cut_text_only_reply_keeps_what_was_shown(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("First part was shown. "), Pause(2.0), Text("This never came.")])
    async with await vs.client(agent) as c:
        await c.send(type="session.update", session={"output_modalities": ["text"]})
        await c.wait_for("session.updated")
        await c.send(type="input_text", text="hi")
        await c.wait_for("response.chunk", count=2)  # the role chunk, then the first words
        await c.send(type="response.cancel")
        done = await c.wait_for("response.done")
        assert done["status"] == "cancelled" and done["heard_text"] == "First part was shown."
    rows = await vs.assistant_rows(agent)
    assert rows[-1].content == "First part was shown." and rows[-1].interrupted
