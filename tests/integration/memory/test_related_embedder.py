"""A memory job's related-memory lookup embeds the user's lines with the job's own embedder (for the local model:
the background process), not with the server process's in-process model, when both are the same model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.integration.agent.conftest import Running
from tests.integration.memory.conftest import create_voice_agent
from tests.integration.memory.test_recall import batch
from voice_letta.agent.models import EmbeddingConfig
from voice_letta.agent.ports import Embedder
from voice_letta.server.http_memory import BACKGROUND_EMBEDDERS, MEMORY_SEARCH


@dataclass
class Counted:
    """Another process's embedder as the job sees it, counting what it is asked to embed."""

    inner: Embedder
    model: str
    dim: int
    texts: list[str] = field(default_factory=list)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += texts
        return await self.inner.embed(texts)


async def test_related_embeds_with_the_job_s_embedder_when_it_is_the_same_model(server: Running) -> None:
    agent = await create_voice_agent(server)
    now = time.time()
    boston, _knit = await batch(server, agent["id"], [
        {"text": "user: I live in Boston, near the harbor.", "synopsis": "The user lives in Boston.",
         "start_at": now - 90},
        {"text": "user: I'm learning to knit scarves.", "synopsis": "The user is learning to knit.",
         "start_at": now - 60}])
    search = server.app[MEMORY_SEARCH]
    background = server.app[BACKGROUND_EMBEDDERS].for_config(EmbeddingConfig())
    said = ["I moved to Seattle last week and I love the rain"]
    in_process = [p.id for p in await search.related(agent["id"], said)]
    same = Counted(background, background.model, background.dim)
    assert [p.id for p in await search.related(agent["id"], said, query_embedder=same)] == in_process
    assert same.texts == said and in_process[0] == boston
    other = Counted(background, "another-model", background.dim)  # vectors of another model: not comparable
    assert [p.id for p in await search.related(agent["id"], said, query_embedder=other)] == in_process
    assert other.texts == []
