"""The fake LLM of ``bench/crash_safety.py`` (its own process: ``crash_safety.py --fake``): streamed chat
completions whose first token comes late enough to kill the server before it, and slow sleeptime tool calls.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

FIRST_TOKEN_S = 0.3
WORD_S = 0.06
REPLY_WORDS = ("Sure,", "I", "have", "noted", "that", "and", "I", "will", "remember", "it", "for", "you.")
SLEEPTIME_STEP_S = 1.2


async def fake_llm() -> None:
    from aiohttp import web

    tool_args = {"store_memories": {"chunks": [{"start_index": 0, "end_index": 0, "context": "archived"}]},
                 "rethink_user_memory": {"new_memory": ""}}  # "" keeps the block (a made-up one is refused)

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())

        try:
            choice = body.get("tool_choice")
            if isinstance(choice, dict) or choice == "required":  # a sleeptime step: the tool it asks for
                await asyncio.sleep(SLEEPTIME_STEP_S)
                name = choice["function"]["name"] if isinstance(choice, dict) else "finish_rethinking_memory"
                call = {"index": 0, "id": "call_1", "type": "function",
                        "function": {"name": name, "arguments": json.dumps(tool_args.get(name, {}))}}
                await send({"role": "assistant", "tool_calls": [call]})
                await send({}, "tool_calls")
            else:
                await send({"role": "assistant", "content": ""})
                await asyncio.sleep(FIRST_TOKEN_S)
                for word in REPLY_WORDS:
                    await send({"content": word + " "})
                    await asyncio.sleep(WORD_S)
                await send({}, "stop")
            usage = {"prompt_tokens": 100, "completion_tokens": 12, "total_tokens": 112}
            await resp.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
            await resp.write(b"data: [DONE]\n\n")
        except ConnectionResetError:
            pass
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the bench closes our stdin
    await runner.cleanup()
