"""response.done says who answered and what the response cost, a cancelled one included."""

from __future__ import annotations

from tests.fakes.openai_server import Pause, Text
from tests.integration.session.conftest import VoiceServer


async def test_response_done_names_the_model_and_its_tokens(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.usage = {"prompt_tokens": 120, "completion_tokens": 6, "cached_tokens": 64}
    vs.fake.script([Text("Hello there.")])
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="hi")
        done = await c.wait_for("response.done")
    assert done["usage"] == {"prompt_tokens": 120, "completion_tokens": 6, "total_tokens": 126, "cached_tokens": 64}
    route = done["route"]
    assert route["provider"] == "openai" and route["model"] == "fake-model" and route["fallback"] is False
    assert route["first_token_ms"] > 0 and route["usage_estimated"] is False


async def test_a_cancelled_response_reports_the_tokens_it_spent(vs: VoiceServer) -> None:
    agent = await vs.create_agent()
    vs.fake.script([Text("This is the start of a long answer that"), Pause(5.0), Text(" never ends.")])
    async with await vs.client(agent) as c:
        await c.send(type="input_text", text="Tell me everything.")
        await c.wait_for("response.chunk", count=2)
        await c.send(type="response.cancel")
        done = await c.wait_for("response.done", status="cancelled")
    usage, route = done["usage"], done["route"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert route["usage_estimated"] is True and route["model"] == "fake-model"
    records = await vs.store.list_turns(agent)
    assert records[-1].status == "cancelled" and records[-1].usage.estimated
