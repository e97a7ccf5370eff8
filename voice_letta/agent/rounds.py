"""The model/tool rounds of a turn: the context sent to the model, the streamed deltas turned into spoken text,
fillers and tool calls (the failover notices: the hold line), tools run in parallel and bounded, until the model
answers without a tool call or the rounds run out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from voice_letta import config as C
from voice_letta import ids
from voice_letta.agent.context import to_chat_messages
from voice_letta.agent.events import (
    AgentEvent,
    ContentDelta,
    ReplyDone,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnFinished,
    TurnRoute,
)
from voice_letta.agent.models import AgentState, Message, ToolCall
from voice_letta.agent.ports import ChatMessage, ChatRequest, ToolResult
from voice_letta.agent.prompt import volatile_note
from voice_letta.agent.spoken import SpokenTextFilter, strip_markers
from voice_letta.agent.tools import (
    PRE_EXEC_MSG,
    SEARCH_MEMORY,
    ExposedTool,
    client_tool,
    driver_tool,
    lenient_arguments,
    parse_arguments,
    salvaged_search_arguments,
    voice_tools,
)
from voice_letta.agent.turn_persist import TurnPersistence
from voice_letta.agent.turn_state import (
    ToolCallDraft,
    TurnInput,
    TurnState,
    finish_reason_of,
    is_client_tool,
    prompt_chars,
)
from voice_letta.errors import VoiceLettaError

EMPTY_REPLY_SENTENCE = "Sorry, I don't have an answer for that."
#: A response with no new input (the agent speaks first): this cue rides on the request, never stored.
NO_INPUT_CUE = "[No new words from the user. Speak now, as your instructions and the conversation call for.]"
MAX_TOOL_OUTPUT_CHARS = 4000
TOOL_TIMEOUT_MARGIN_S = 5.0


class ModelRounds(TurnPersistence):
    """VoiceAgent's part that talks to the model and runs tools (a mixin: VoiceAgent sets the attributes)."""

    _tool_cache: dict[tuple[object, ...], list[ExposedTool]]

    def _voice_tools(self, agent: AgentState) -> list[ExposedTool]:
        """Schemas and validators per agent tool set: tools are immutable once registered."""
        key = (agent.id, agent.llm.strict, tuple(t.id for t in agent.tools))
        tools = self._tool_cache.get(key)
        if tools is None:
            if len(self._tool_cache) > 1024:
                self._tool_cache.clear()
            tools = self._tool_cache[key] = voice_tools(agent)
        return tools

    def _context(self, agent: AgentState, inp: TurnInput, state: TurnState, retry: bool) -> list[ChatMessage]:
        system = self.prompts.get(agent)
        if inp.extra_instructions and agent.client_system_prompt == "append":
            system += f"\n\n<client_instructions>\n{inp.extra_instructions}\n</client_instructions>"
        history, turn_id = state.history, state.turn.id
        if retry:  # drop what a failed earlier attempt of this very turn produced
            history = [m for m in history if m.turn_id != turn_id or m.role == "user" or m.role == "tool"]
            if history and history[-1].turn_id != turn_id:
                # a retry queued behind other turns of the agent: its words stay where they were stored, but the
                # model is asked them last, so it answers them (not the turn that ran in between)
                asked = [m for m in history if m.turn_id == turn_id and m.role == "user"]
                history = [m for m in history if m.turn_id != turn_id or m.role != "user"] + asked
        messages = [ChatMessage("system", system), *to_chat_messages(history)]
        # The time changes every turn, so it rides on the newest user message (never stored), keeping the
        # prompt prefix byte-stable for provider caches.
        note = volatile_note(self.clock(), agent.timezone)
        if messages[-1].role == "user":
            last = messages[-1]
            messages[-1] = ChatMessage("user", f"{note}\n{last.content}", images=last.images)
        elif messages[-1].role != "tool":  # no input, or tool results the context left out (answering no call)
            messages.append(ChatMessage("user", f"{note}\n{inp.cue or NO_INPUT_CUE}"))
        return messages

    async def _rounds(
        self, agent: AgentState, inp: TurnInput, state: TurnState, *, retry: bool
    ) -> AsyncIterator[AgentEvent]:
        exposed = self._voice_tools(agent) + [driver_tool(t, strict=agent.llm.strict) for t in inp.driver_tools]
        # A client tool never shadows or repeats one of ours (the entry points refuse such names; this keeps the
        # provider request valid and the model's calls routed whatever path a client tool came by).
        taken = {e.spec.name for e in exposed}
        for spec in inp.client_tools:
            if spec.name not in taken:
                taken.add(spec.name)
                exposed.append(client_tool(spec))
        by_name = {e.spec.name: e for e in exposed}
        first_choice = inp.tool_choice if inp.tool_choice in ("auto", "none", "required", *by_name) else "auto"
        specs = tuple(e.spec for e in exposed)
        messages = self._context(agent, inp, state, retry)
        model = self.models.for_config(agent.llm)
        usage = state.usage
        timings = state.turn.timings_ms
        timings["input_persisted_ms"] = self._ms(state.started)
        if inp.say and not inp.user_text:
            # A fixed line (the agent's greeting): said and stored as its reply, no model call.
            yield ContentDelta(state.speak(inp.say, "greeting"))
            yield ReplyDone(state.turn.id, "stop", usage, state.route)
            reply_id = await self._finish(agent, state, "stop", usage, reply_kind="greeting")
            yield TurnFinished(state.turn.id, "stop", usage, dict(timings), reply_id, state.route)
            return
        rounds = 0
        while True:
            calls: dict[int, ToolCallDraft] = {}
            content: list[str] = []
            finish: str | None = None
            unspoken = SpokenTextFilter()
            request = ChatRequest(tuple(messages), agent.llm, tools=specs,
                                  tool_choice=("none" if rounds >= agent.max_tool_rounds
                                               else first_choice if rounds == 0 else "auto"),
                                  first_token_timeout_s=inp.first_token_timeout_s, temperature=inp.temperature,
                                  max_tokens=inp.max_tokens, cache_key=agent.id)
            self._mark(timings, "llm_request_ms", state.started)
            state.call_model = agent.llm.model
            state.call_prompt_chars = prompt_chars(request)
            state.call_output_chars = 0
            state.call_usage_seen = True
            async for delta in model.stream(request):
                if delta.route is not None:
                    route = delta.route
                    state.call_model = route.model
                    state.call_usage_seen = False  # the model read the prompt: it costs, reported or not
                    fallback = route.index > 0 or (state.route is not None and state.route.fallback_used)
                    state.route = TurnRoute(route.provider, route.model, fallback, route.first_token_ms)
                    continue
                if delta.notice is not None:
                    notice = delta.notice
                    if notice.kind == "failover" and notice.next_model is not None:
                        state.call_model = notice.next_model
                    if not state.held and state.source is None and self.clock() - state.started >= C.HOLD_AFTER_S:
                        # Nothing said yet and the listener has been waiting: tell them we are on it.
                        state.held = True
                        self._mark(timings, "hold_ms", state.started)
                        yield ContentDelta(state.speak(C.HOLD_SENTENCE, "hold"), kind="filler")
                    continue
                self._mark(timings, "llm_first_token_ms", state.started)
                if delta.content or delta.tool_calls:
                    state.produced = True
                if delta.content:
                    state.call_output_chars += len(delta.content)
                    said = unspoken.feed(delta.content)  # context notes a small model copied: never spoken
                    if said:
                        text = state.speak(said, ("content", rounds))
                        content.append(said)
                        self._mark(timings, "first_content_ms", state.started)
                        yield ContentDelta(text)
                for frag in delta.tool_calls:
                    call = calls.setdefault(frag.index, ToolCallDraft(frag.index))
                    call.id = frag.id or call.id
                    call.name = frag.name or call.name
                    tool = by_name.get(call.name)
                    is_client = tool is not None and tool.client
                    if is_client or inp.show_server_tool_calls:
                        yield ToolCallFragment(frag.index, frag.id, frag.name, frag.arguments, is_client)
                    if frag.arguments:
                        call.args.append(frag.arguments)
                        state.call_output_chars += len(frag.arguments)
                        if tool is not None and tool.filler:
                            spoken = call.unspoken.feed(call.extractor.feed(frag.arguments))
                            if spoken:
                                text = state.speak(spoken, ("filler", rounds, frag.index))
                                self._mark(timings, "first_filler_ms", state.started)
                                self._mark(timings, "first_content_ms", state.started)
                                yield ContentDelta(text, kind="filler")
                if delta.finish_reason:
                    finish = delta.finish_reason
                if delta.usage:
                    usage.add(delta.usage)
                    state.call_usage_seen = True
                    self._learn_token_size(state, delta.usage)
            tail = unspoken.flush()  # text held back in case it was a marker, and was not
            if tail:
                content.append(tail)
                yield ContentDelta(state.speak(tail, ("content", rounds)))
            state.turn.steps += 1
            capped = bool(calls) and rounds >= agent.max_tool_rounds
            if capped:
                # Asked for no more tools (tool_choice "none") and it called some anyway: Ollama ignores tool_choice
                # and a small model can repeat a broken call. Running them looped until the turn budget (one "hi":
                # 1,650 model calls and 3,300 stored messages in 45 s); the turn ends with what was said.
                calls, finish = {}, "stop"
            if not calls:
                if not "".join(content).strip() and not "".join(state.spoken).strip() and (rounds == 0 or capped):
                    text = state.speak(EMPTY_REPLY_SENTENCE, "fallback")
                    yield ContentDelta(text, kind="fallback")
                yield ReplyDone(state.turn.id, finish_reason_of(finish), usage, state.route)
                reply_id = await self._finish(agent, state, finish or "stop", usage)
                yield TurnFinished(state.turn.id, finish_reason_of(finish), usage, dict(timings), reply_id,
                                   state.route)
                return
            tool_calls = [ToolCall(id=c.id or ids.tool_call_id(), name=c.name, arguments=c.arguments)
                          for c in sorted(calls.values(), key=lambda c: c.index)]
            spoken_text = state.take_spoken()
            state.note_added(await self.store.append_messages([Message(
                id=ids.message_id(), agent_id=agent.id, role="assistant", content=spoken_text or None,
                tool_calls=tool_calls, turn_id=state.turn.id, created_at=self.clock(),
                kind="client_tool" if any(is_client_tool(by_name, c.name) for c in tool_calls) else "normal")]))
            messages.append(ChatMessage("assistant", spoken_text or None, tool_calls=tuple(tool_calls)))
            server_calls = [c for c in tool_calls if not is_client_tool(by_name, c.name)]
            fillers = {c.id or "": strip_markers(c.extractor.value) or None for c in calls.values()}
            for c in server_calls:
                yield ToolStarted(c.id, c.name, fillers.get(c.id))
            started = time.perf_counter()
            results = await asyncio.gather(*(self._execute(agent, inp, by_name, c) for c in server_calls))
            timings[f"tools_round{rounds + 1}_ms"] = (time.perf_counter() - started) * 1000
            rows = []
            for c, result in zip(server_calls, results, strict=True):
                yield ToolFinished(c.id, c.name, result.ok, result.duration_ms, result.output[:200])
                rows.append(Message(id=ids.message_id(), agent_id=agent.id, role="tool", content=result.output,
                                    tool_call_id=c.id, name=c.name, turn_id=state.turn.id,
                                    created_at=self.clock()))
                messages.append(ChatMessage("tool", result.output, tool_call_id=c.id, name=c.name))
            if rows:
                state.note_added(await self.store.append_messages(rows))
            if len(server_calls) < len(tool_calls):
                # The client runs its own tools; it comes back with their results in a new request.
                yield ReplyDone(state.turn.id, "tool_calls", usage, state.route)
                await self._finish(agent, state, "tool_calls", usage)
                yield TurnFinished(state.turn.id, "tool_calls", usage, dict(timings), None, state.route)
                return
            if any(r.ok and (d := by_name[c.name].driver) is not None and d.ends_turn
                   for c, r in zip(server_calls, results, strict=True) if c.name in by_name):
                # e.g. end_call: its filler was the goodbye; no model call after it
                yield ReplyDone(state.turn.id, "stop", usage, state.route)
                reply_id = await self._finish(agent, state, "stop", usage)
                yield TurnFinished(state.turn.id, "stop", usage, dict(timings), reply_id, state.route)
                return
            rounds += 1

    async def _execute(
        self, agent: AgentState, inp: TurnInput, by_name: dict[str, ExposedTool], call: ToolCall
    ) -> ToolResult:
        started = time.perf_counter()
        exposed = by_name.get(call.name)
        if exposed is None:
            known = ", ".join(sorted(by_name))
            return ToolResult(False, f"Error: there is no tool named {call.name!r}. Tools: {known}.",
                              error="unknown_tool")
        args, error = parse_arguments(call.arguments)
        if args is not None and error is None:
            args = lenient_arguments(exposed.spec.parameters, args)
            error = exposed.validate(args)
            if error is not None and call.name == SEARCH_MEMORY:
                args = salvaged_search_arguments(exposed.spec.parameters, args)
                error = exposed.validate(args)
        if error is not None or args is None:
            return ToolResult(False, f"Error: invalid arguments for {call.name}: {error}. "
                              "Call the tool again with arguments that match its schema.", error="invalid_arguments")
        args.pop(PRE_EXEC_MSG, None)
        try:
            if call.name == SEARCH_MEMORY:
                output = await self.memory_search.search(agent.id, inp.user_text or "", args, tz=agent.timezone)
                result = ToolResult(True, output)
            elif exposed.driver is not None:
                result = ToolResult(True, await exposed.driver.run(args))
            elif self.tools is None or exposed.tool is None:
                result = ToolResult(False, f"Error: tool {call.name} cannot run on this server.", error="no_runtime")
            else:
                # The executor enforces the tool's own timeout and reports it; this is the backstop.
                async with asyncio.timeout(exposed.tool.options.timeout_s + TOOL_TIMEOUT_MARGIN_S):
                    result = await self.tools.execute(exposed.tool, args)
        except TimeoutError:
            result = ToolResult(False, f"Error: {call.name} timed out.", error="timeout")
        except VoiceLettaError as exc:
            result = ToolResult(False, f"Error: {call.name} failed: {exc.message}", error=exc.code)
        output = result.output if len(result.output) <= MAX_TOOL_OUTPUT_CHARS else (
            result.output[:MAX_TOOL_OUTPUT_CHARS] + " …[truncated]")
        return ToolResult(result.ok, output, result.error, (time.perf_counter() - started) * 1000)
