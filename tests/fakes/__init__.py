"""Fake servers and clients that speak the real protocols over real sockets on 127.0.0.1:0."""

from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.ollama_server import FakeOllamaServer
from tests.fakes.openai_server import Cut, FakeOpenAIServer, Finish, HttpError, Pause, Text, ToolCall, Turn

__all__ = [
    "Cut",
    "FakeAnthropicServer",
    "FakeOllamaServer",
    "FakeOpenAIServer",
    "Finish",
    "HttpError",
    "Pause",
    "Text",
    "ToolCall",
    "Turn",
]
