"""One response as OpenAI Realtime server events: the output half of ``session.realtime_out``. Synchronous, no I/O.

A response's output is rendered as the Realtime API shows it: one assistant message item (opened by its first
text or audio: ``output_item.added``, ``content_part.added``, then text or audio-transcript deltas) and one
``function_call`` item per client function call (argument deltas), all closed in output order when the response
ends (``*.done`` events, then ``response.done`` with its status, status details and usage). ``ResponseState`` is
what the renderer keeps of the response in progress; the conversation the items go into is the renderer's
(``ConversationHost``).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from voice_letta.session import events as E
from voice_letta.wire import realtime as R
from voice_letta.wire import realtime_events as RE

RATE_LIMIT_WINDOW = 1_000_000  # no limits are enforced; rate_limits.updated reports this fixed window


@dataclass
class ToolCallState:
    item_id: str
    output_index: int
    call_id: str
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class ResponseState:
    id: str
    modalities: tuple[E.Modality, ...]
    metadata: dict[str, str] | None
    output: R.AudioFormatType = "audio/pcm"  # its audio format: a session.update applies from the next response
    next_index: int = 0
    message: RE.ItemOut | None = None
    message_index: int = 0
    text: list[str] = field(default_factory=list)
    audio_ms: float = 0.0  # audio sent for its message
    audio_done: bool = False
    calls: dict[int, ToolCallState] = field(default_factory=dict)
    error: RE.ErrorDetail | None = None

    @property
    def audio(self) -> bool:
        return "audio" in self.modalities


class ConversationHost(Protocol):
    """What a response's rendering needs from the renderer: the conversation its items go into."""

    session_id: str
    items: OrderedDict[str, RE.ItemOut]
    item_response: dict[str, str]  # assistant item id → response id

    def add_item(self, item: RE.ItemOut) -> str | None: ...


def started(host: ConversationHost, r: ResponseState, voice: str) -> list[RE.ServerEvent]:
    limits = [RE.RateLimit(name=n, limit=RATE_LIMIT_WINDOW, remaining=RATE_LIMIT_WINDOW, reset_seconds=0.0)
              for n in ("requests", "tokens")]
    return [RE.ResponseCreated(response=response_out(host, r, "in_progress", voice)),
            RE.RateLimitsUpdated(rate_limits=limits)]


def text(host: ConversationHost, r: ResponseState, ev: E.TextOut) -> list[RE.ServerEvent]:
    out = open_message(host, r)
    r.text.append(ev.text)
    assert r.message is not None
    if r.audio:
        out.append(RE.AudioTranscriptDelta(response_id=r.id, item_id=r.message.id, output_index=r.message_index,
                                          delta=ev.text))
    else:
        out.append(RE.TextDelta(response_id=r.id, item_id=r.message.id, output_index=r.message_index,
                               delta=ev.text))
    return out


def open_message(host: ConversationHost, r: ResponseState) -> list[RE.ServerEvent]:
    if r.message is not None:
        return []
    item = RE.ItemOut(id=R.new_item_id(), type="message", role="assistant", status="in_progress", content=[])
    r.message, r.message_index = item, r.next_index
    r.next_index += 1
    host.item_response[item.id] = r.id
    previous = host.add_item(item)
    part = RE.PartOut(type="audio", transcript="") if r.audio else RE.PartOut(type="text", text="")
    return [RE.OutputItemAdded(response_id=r.id, output_index=r.message_index, item=item),
            RE.ItemAdded(item=item, previous_item_id=previous),
            RE.ContentPartAdded(response_id=r.id, item_id=item.id, output_index=r.message_index, part=part)]


def audio_finished(r: ResponseState) -> list[RE.ServerEvent]:
    if r.message is None or r.audio_done:
        return []
    r.audio_done = True
    return [RE.AudioDone(response_id=r.id, item_id=r.message.id, output_index=r.message_index)]


def audio_delta(r: ResponseState, pcm16: bytes) -> RE.AudioDelta | None:
    """One paced frame of the response's audio as ``response.output_audio.delta`` (counted in ``r.audio_ms``)."""
    if r.message is None:
        return None
    rate = R.PCM_RATE_HZ if r.output == "audio/pcm" else R.G711_RATE_HZ
    r.audio_ms += len(pcm16) / 2 * 1000.0 / rate
    return RE.AudioDelta(response_id=r.id, item_id=r.message.id, output_index=r.message_index,
                        delta=R.encode_audio(pcm16, r.output))


def tool_call(host: ConversationHost, r: ResponseState, ev: E.ToolCallOut) -> list[RE.ServerEvent]:
    call = r.calls.get(ev.index)
    out: list[RE.ServerEvent] = []
    if call is None:
        call = r.calls[ev.index] = ToolCallState(R.new_item_id(), r.next_index, ev.call_id or R.new_call_id())
        r.next_index += 1
        call.name = ev.name or ""
        item = RE.ItemOut(id=call.item_id, type="function_call", status="in_progress", call_id=call.call_id,
                         name=call.name, arguments="")
        previous = host.add_item(item)
        out += [RE.OutputItemAdded(response_id=r.id, output_index=call.output_index, item=item),
                RE.ItemAdded(item=item, previous_item_id=previous)]
    elif ev.name and not call.name:
        call.name = ev.name
    if ev.arguments:
        call.arguments.append(ev.arguments)
        out.append(RE.FunctionArgumentsDelta(response_id=r.id, item_id=call.item_id,
                                            output_index=call.output_index, call_id=call.call_id,
                                            delta=ev.arguments))
    return out


def ended(host: ConversationHost, r: ResponseState, ev: E.ResponseEnded, voice: str) -> list[RE.ServerEvent]:
    out: list[RE.ServerEvent] = []
    final: list[tuple[int, RE.ItemOut]] = []
    cut = ev.status == "cancelled"
    if r.message is not None:
        said = "".join(r.text).strip()
        kept = ev.heard_text if cut and ev.heard_text is not None else said
        m, i = r.message, r.message_index
        if r.audio:
            if not r.audio_done:
                out.append(RE.AudioDone(response_id=r.id, item_id=m.id, output_index=i))
            out += [RE.AudioTranscriptDone(response_id=r.id, item_id=m.id, output_index=i, transcript=said),
                    RE.ContentPartDone(response_id=r.id, item_id=m.id, output_index=i,
                                      part=RE.PartOut(type="audio", transcript=said))]
            content = [RE.ContentOut(type="output_audio", transcript=kept)]
        else:
            out += [RE.TextDone(response_id=r.id, item_id=m.id, output_index=i, text=said),
                    RE.ContentPartDone(response_id=r.id, item_id=m.id, output_index=i,
                                      part=RE.PartOut(type="text", text=said))]
            content = [RE.ContentOut(type="output_text", text=kept)]
        item = m.model_copy(update={"status": "incomplete" if cut else "completed", "content": content})
        final.append((i, item))
    for call in r.calls.values():
        args = "".join(call.arguments)
        out.append(RE.FunctionArgumentsDone(response_id=r.id, item_id=call.item_id, output_index=call.output_index,
                                           call_id=call.call_id, name=call.name, arguments=args))
        final.append((call.output_index, RE.ItemOut(id=call.item_id, type="function_call", call_id=call.call_id,
                                                   name=call.name, arguments=args,
                                                   status="incomplete" if cut else "completed")))
    final.sort(key=lambda p: p[0])
    for index, item in final:
        if item.id in host.items:
            host.items[item.id] = item
        out += [RE.OutputItemDone(response_id=r.id, output_index=index, item=item), RE.ItemDone(item=item)]
    status: RE.ResponseStatusType = "completed" if ev.status == "completed" else ev.status
    details = None
    if cut:
        # the client's response.cancel, or the user's next turn (speech over the agent, or a new utterance
        # finished while the agent was still writing: ``superseded``)
        details = RE.StatusDetails(type="cancelled", reason="client_cancelled"
                                   if ev.finish_reason == "client_cancelled" else "turn_detected")
    elif ev.status == "failed":
        details = RE.StatusDetails(type="failed", error=r.error or RE.ErrorDetail(type="server_error",
                                                                               code="internal_error",
                                                                               message="the response failed"))
    elif ev.finish_reason == "length":
        status, details = "incomplete", RE.StatusDetails(type="incomplete", reason="max_output_tokens")
    done = response_out(host, r, status, voice, [item for _, item in final], details, ev.usage)
    out.append(RE.ResponseDone(response=done))
    return out


def response_out(host: ConversationHost, r: ResponseState, status: RE.ResponseStatusType, voice: str,
                 output: list[RE.ItemOut] | None = None, details: RE.StatusDetails | None = None,
                 usage: dict[str, int] | None = None) -> RE.ResponseOut:
    return RE.ResponseOut(
        id=r.id, status=status, status_details=details, output=output or [], conversation_id=host.session_id,
        output_modalities=list(r.modalities), metadata=r.metadata,
        audio=RE.ResponseAudioOut(output=RE.ResponseAudioOutOut(format=audio_format(r.output), voice=voice)),
        usage=_usage(usage) if usage is not None else None)


def audio_format(kind: R.AudioFormatType) -> RE.AudioFormatOut:
    return RE.AudioFormatOut(type=kind, rate=R.PCM_RATE_HZ if kind == "audio/pcm" else None)


def _usage(u: dict[str, int]) -> RE.Usage:
    prompt, completion, cached = u.get("prompt_tokens", 0), u.get("completion_tokens", 0), u.get("cached_tokens", 0)
    return RE.Usage(total_tokens=u.get("total_tokens", prompt + completion), input_tokens=prompt,
                   output_tokens=completion,
                   input_token_details=RE.TokenDetailsIn(text_tokens=prompt, cached_tokens=cached,
                                                        cached_tokens_details={"text_tokens": cached,
                                                                               "audio_tokens": 0, "image_tokens": 0}),
                   output_token_details=RE.TokenDetailsOut(text_tokens=completion))
