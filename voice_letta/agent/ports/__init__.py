"""Small Protocols the agent needs from the outside world, and the typed values that cross them.

Adapters in ``providers/`` and ``store/`` implement these; tests implement them in ten lines. One module per
port: ``chat`` (chat models), ``embed`` (embedders), ``tools`` (tool executors), ``speech`` (STT/TTS), ``hooks``
(the memory layer's hooks) and ``store`` (the Store contract, itself one module per concern). Everything is
re-exported here, so ``from voice_letta.agent.ports import X`` works for every name.
"""

from __future__ import annotations

from voice_letta.agent.ports.chat import (
    ChatDelta,
    ChatMessage,
    ChatModel,
    ChatModelFactory,
    ChatRequest,
    FinishReason,
    ModelNotice,
    ModelRoute,
    ToolCallDelta,
    ToolChoice,
    ToolSpec,
)
from voice_letta.agent.ports.embed import CrossEmbedder, Embedder, EmbedderFactory
from voice_letta.agent.ports.hooks import MemoryHooks
from voice_letta.agent.ports.speech import SpeechChunk, SpeechToText, TextToSpeech, Transcript
from voice_letta.agent.ports.store import (
    AgentStore,
    BeginCancelled,
    Change,
    ChangeKind,
    ChangeStore,
    CrossVectors,
    HandoffRange,
    HeldKey,
    JobKind,
    JobStatus,
    JobStore,
    KeyClaim,
    KeyClaimLost,
    KeyedImport,
    KeyedPassages,
    MemoryJob,
    MessageHit,
    MessageStore,
    MessageTail,
    NewBlock,
    PassageHit,
    PassageStore,
    PassageTexts,
    PassageVectors,
    RequestKeyStore,
    Store,
    ToolStore,
    TurnBegun,
    TurnStore,
    is_retry_of,
    never_completed,
)
from voice_letta.agent.ports.tools import ToolExecutor, ToolResult

__all__ = [
    "AgentStore", "BeginCancelled", "Change", "ChangeKind", "ChangeStore", "ChatDelta", "ChatMessage", "ChatModel",
    "ChatModelFactory", "ChatRequest", "CrossEmbedder", "CrossVectors", "Embedder", "EmbedderFactory", "FinishReason",
    "HandoffRange", "HeldKey", "JobKind", "JobStatus", "JobStore", "KeyClaim", "KeyClaimLost", "KeyedImport",
    "KeyedPassages",
    "MemoryHooks", "MemoryJob", "MessageHit", "MessageStore", "MessageTail", "ModelNotice", "ModelRoute", "NewBlock",
    "PassageHit", "PassageStore", "PassageTexts", "PassageVectors", "RequestKeyStore", "SpeechChunk", "SpeechToText",
    "Store", "TextToSpeech", "ToolCallDelta", "ToolChoice", "ToolExecutor", "ToolResult", "ToolSpec", "ToolStore",
    "Transcript", "TurnBegun", "TurnStore", "is_retry_of", "never_completed",
]
