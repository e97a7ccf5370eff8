"""A tiny Ollama: the native ``/api/tags`` and ``/api/show`` endpoints plus the OpenAI-compatible ``/v1``
(inherited from ``FakeOpenAIServer``, so chat can be scripted the same way).

``show`` maps a model name to its ``/api/show`` payload. The default has one current model (with
``capabilities`` and a context length) and one from an older Ollama whose payload has no
``capabilities`` field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.openai_server import FakeOpenAIServer

__all__ = ["DEFAULT_SHOW", "FakeOllamaServer"]

DEFAULT_SHOW: dict[str, dict[str, Any]] = {
    "qwen2.5:0.5b": {
        "details": {"family": "qwen2", "parameter_size": "494.03M"},
        "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
        "capabilities": ["completion", "tools"],
    },
    "old-llama:latest": {
        "details": {"family": "llama"},
        "model_info": {"general.architecture": "llama", "llama.context_length": 8192},
    },
}


class FakeOllamaServer(FakeOpenAIServer):
    def __init__(self, show: dict[str, dict[str, Any]] | None = None) -> None:
        self.show = dict(DEFAULT_SHOW if show is None else show)
        super().__init__(models=list(self.show))
        self.show_requests: list[dict[str, Any]] = []

    def _routes(self, app: web.Application) -> None:
        super()._routes(app)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_post("/api/show", self._show)

    async def _tags(self, request: web.Request) -> web.Response:
        models = [{"name": n, "model": n, "size": 1, "digest": f"sha256:{i:064d}", "details": p.get("details", {})}
                  for i, (n, p) in enumerate(self.show.items())]
        return web.json_response({"models": models})

    async def _show(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.show_requests.append(body)
        name = body.get("model") or body.get("name")
        if name not in self.show:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        return web.json_response(self.show[name])
