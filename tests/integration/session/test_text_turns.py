"""Text turns over the native WebSocket: chunks stream, TTS audio arrives framed by events, response.done."""

from __future__ import annotations

from tests.fakes.openai_server import Pause, Text
from tests.integration.session.conftest import VoiceServer


async def test_text_turn_streams_chunks_audio_and_done(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("Hello there, nice to meet you. "), Pause(0.3), Text("How can I help today?")])
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="hi")
        done = await c.wait_for("response.done")
        assert done["status"] == "completed" and done["finish_reason"] == "stop"
        rid = done["response_id"]
        assert c.response_text(rid) == "Hello there, nice to meet you. How can I help today?"
        start = await c.wait_for("response.audio.start")
        assert start["sample_rate_hz"] == 24000 and start["format"] == "pcm16"
        audio_done = await c.wait_for("response.audio.done")
        assert len(c.audio[rid]) / 2 / 24 == audio_done["audio_ms"]
        # the first sentence was spoken before the LLM finished the second one
        assert vs.tts.texts == ["Hello there, nice to meet you.", "How can I help today?"]
        t_audio = next(t for t, m in c.messages if isinstance(m, bytes))
        t_last_chunk = max(t for t, m in c.timed("response.chunk"))
        assert t_audio < t_last_chunk
        kinds = [m["type"] for m in c.events()]
        assert kinds.index("response.created") < kinds.index("response.chunk") < kinds.index("response.audio.done")
        assert kinds.index("response.audio.done") < kinds.index("response.done")
        assert "first_audio" not in done["timings_ms"]
        assert done["timings_ms"]["transcript_to_audio_ms"] > 0
    rows = await vs.assistant_rows(agent)
    assert rows[-1].content == "Hello there, nice to meet you. How can I help today?"
    assert not rows[-1].interrupted


async def test_markdown_emoji_and_web_paths_in_a_reply_are_not_read_out(vs: VoiceServer) -> None:
    # Models write markdown and emoji although the prompt says not to; Piper read "**Sure!** … 1. **Pasta**" as
    # "asterisk, sure exclamation asterisk, … One, asterisk, asterisk, …", "🎉" as "party popper" and a link with its
    # whole path and query. The client's text and the stored reply keep them as written.
    agent = await vs.create_agent()
    reply = ("**Sure!** Here are two options:\n\n1. **Pasta** with pesto\n2. *Tacos* and a [salsa](https://x.example/s)"
             "\n\n### Tip\n- Cook 2 * 3 minutes 🍝. Recipe: https://www.bbcgoodfood.com/recipes/pesto-pasta?ref=x\n")
    vs.fake.script([Text(reply)])
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="dinner ideas?")
        done = await c.wait_for("response.done")
        assert c.response_text(done["response_id"]) == reply
        await c.wait_for("response.audio.done")
    spoken = " ".join(vs.tts.texts)
    assert "*" not in spoken.replace("2 * 3", "") and "#" not in spoken and "](" not in spoken, vs.tts.texts
    assert "Sure!" in spoken and "Pasta with pesto" in spoken and "Tacos and a salsa" in spoken
    assert "Tip" in spoken and "Cook 2 * 3 minutes. Recipe: bbcgoodfood.com" in spoken and "🍝" not in spoken
    rows = await vs.store.list_messages(agent, limit=10)
    assert rows[-1].role == "assistant" and rows[-1].content == reply.strip()
