"""``voice-letta agents create|list|show|update|delete``: manage agents on a running server over REST.

Model settings are the same flags on ``create`` and ``update``; ``update`` sends only what was given (a JSON
merge patch: the agent keeps its memory and every other setting). ``--fallback`` is repeatable and takes
``provider/model``, ``provider/model@base_url`` or a JSON object (any LLMConfig fields, e.g. ``api_key_env``).
``create --check`` first sends one short request to every model of the chain (``POST /v1/llm/check``) and
creates nothing when the agent's own model does not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

PROVIDERS = ("openai", "anthropic", "ollama", "vllm", "sglang", "azure", "local")


def _api(method: str, path: str, args: argparse.Namespace, body: Any = None) -> Any:
    from voice_letta.cli import _client_url, _request

    return asyncio.run(_request(method, f"{_client_url(args)}{path}", body))


def parse_fallback(value: str) -> dict[str, Any]:
    """``provider/model[@base_url]`` or a JSON object → an LLMConfig dict."""
    value = value.strip()
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"--fallback JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise argparse.ArgumentTypeError("--fallback JSON must be an object")
        return parsed
    spec, _, base_url = value.partition("@")
    provider, _, model = spec.partition("/")
    if provider not in PROVIDERS or not model:
        raise argparse.ArgumentTypeError(
            f"--fallback {value!r}: expected provider/model[@base_url] (providers: {', '.join(PROVIDERS)})")
    out: dict[str, Any] = {"provider": provider, "model": model}
    if base_url:
        out["base_url"] = base_url
    return out


def _deadline(value: str) -> float:
    if value.lower() in ("off", "none", "0"):
        return 0.0  # no deadline (a JSON null would mean "back to the default" in a merge patch)
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError("--first-token-timeout-s takes seconds > 0, or 'off'")
    return seconds


def llm_flags(p: argparse.ArgumentParser, *, create: bool) -> None:
    g = p.add_argument_group("model (LLMConfig)")
    g.add_argument("--provider", choices=PROVIDERS, default="local" if create else None)
    g.add_argument("--model")
    g.add_argument("--base-url")
    g.add_argument("--api-key-env", metavar="NAME", help="environment variable holding the provider's key")
    g.add_argument("--temperature", type=float)
    g.add_argument("--max-tokens", type=int, help="output token limit of a model call")
    g.add_argument("--timeout-s", type=float, help="seconds without a byte from the provider (default 15)")
    g.add_argument("--first-token-timeout-s", type=_deadline, metavar="S|off",
                   help="seconds to the first token before the next model of the chain takes over (default 5)")
    g.add_argument("--max-retries", type=int, help="retries of the last model of the chain (default 2)")
    g.add_argument("--fallback", action="append", type=parse_fallback, metavar="PROVIDER/MODEL[@URL]|JSON",
                   help="a fallback model, tried in the order given (repeatable)")
    if not create:
        g.add_argument("--no-fallback", action="store_true", help="remove the fallback chain")
    p.add_argument("--system", help="system prompt")
    p.add_argument("--turn-budget-s", type=float, help="wall-clock limit of one turn")
    p.add_argument("--timezone", metavar="IANA_NAME",
                   help="the user's time zone, e.g. America/Los_Angeles (days in memory questions, dates, clock)")


_LLM_FIELDS = (("base_url", "base_url"), ("api_key_env", "api_key_env"), ("temperature", "temperature"),
               ("max_tokens", "max_tokens"), ("timeout_s", "timeout_s"), ("max_retries", "max_retries"))


def _llm_patch(args: argparse.Namespace) -> dict[str, Any]:
    llm: dict[str, Any] = {}
    if args.provider is not None:
        llm["provider"] = args.provider
    if args.model:
        llm["model"] = args.model
    for flag, field in _LLM_FIELDS:
        value = getattr(args, flag)
        if value is not None:
            llm[field] = value
    if "first_token_timeout_s" in vars(args) and args.first_token_timeout_s is not _UNSET:
        llm["first_token_timeout_s"] = args.first_token_timeout_s
    return llm


_UNSET: Any = object()


def _chain(fallbacks: list[dict[str, Any]]) -> dict[str, Any] | None:
    chain: dict[str, Any] | None = None
    for link in reversed(fallbacks):
        chain = {**link, "fallback": chain} if chain is not None else dict(link)
    return chain


def cmd_create(args: argparse.Namespace) -> int:
    llm = _llm_patch(args)
    if not args.model and args.provider != "local":
        raise SystemExit("--model is required for provider " + args.provider)
    if args.fallback:
        llm["fallback"] = _chain(args.fallback)
    body: dict[str, Any] = {"name": args.name, "llm": llm}
    if args.system:
        body["system"] = args.system
    if args.turn_budget_s is not None:
        body["turn_budget_s"] = args.turn_budget_s
    if args.timezone:
        body["timezone"] = args.timezone
    if args.human is not None or args.persona is not None:
        from voice_letta import config as C

        body["blocks"] = [
            {"label": "persona", "value": args.persona or C.DEFAULT_PERSONA},
            {"label": "human", "value": args.human or C.DEFAULT_HUMAN},
        ]
    if args.check:
        report = _api("POST", "/v1/llm/check", args, llm)
        print_check(report, out=sys.stderr if args.json else sys.stdout)
        if not report["ok"]:
            print("not created: the agent's own model did not answer (fix the flags, or leave out --check)",
                  file=sys.stderr)
            return 1
    agent = _api("POST", "/v1/agents", args, body)
    if args.json:
        print(json.dumps(agent))
    else:
        print(f"created agent {agent['name']!r} ({agent['llm']['provider']}/{agent['llm']['model']})")
    print(agent["id"])
    return 0


def print_check(report: dict[str, Any], *, out: Any = sys.stdout) -> None:
    for r in report["results"]:
        name = f"{r['provider']}/{r['model']}" + (" (fallback)" if r["index"] else "")
        if r["ok"]:
            print(f"ok    {name}: first token {r['first_token_ms']} ms, reply {r['reply']!r}", file=out)
        else:
            err = r["error"] or {}
            print(f"FAIL  {name}: {err.get('code')}: {err.get('message')}", file=out)
        for warning in r["warnings"]:
            print(f"      warning: {warning}", file=out)


def cmd_list(args: argparse.Namespace) -> int:
    data = _api("GET", "/v1/agents", args)["data"]
    if args.json:
        print(json.dumps(data))
        return 0
    for agent in data:
        print(f"{agent['id']}\t{agent['name']}\t{agent['llm']['provider']}/{agent['llm']['model']}")
    return 0


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """The agent named by ``args.agent``: an id, else the one agent with that name."""
    agents = _api("GET", "/v1/agents", args)["data"]
    for agent in agents:
        if agent["id"] == args.agent:
            return dict(agent)
    named = [a for a in agents if a["name"] == args.agent]
    if len(named) != 1:
        raise SystemExit(f"no agent {args.agent!r}" if not named else
                         f"{len(named)} agents are named {args.agent!r}: use the id")
    return dict(named[0])


def describe(agent: dict[str, Any]) -> list[str]:
    llm = agent["llm"]
    lines = [f"id        {agent['id']}", f"name      {agent['name']}"]
    link, depth = llm, 0
    while link is not None:
        label = "llm" if depth == 0 else f"fallback {depth}"
        where = f" @ {link['base_url']}" if link.get("base_url") else ""
        key = f", key ${link['api_key_env']}" if link.get("api_key_env") else ""
        deadline = link.get("first_token_timeout_s") or None
        lines.append(f"{label:<9} {link['provider']}/{link['model']}{where}{key}; temperature {link['temperature']}, "
                     f"max_tokens {link['max_tokens']}, timeout {link['timeout_s']} s, first token "
                     f"{'off' if deadline is None else f'{deadline} s'}, retries {link['max_retries']}")
        link, depth = link.get("fallback"), depth + 1
    sleeptime = agent.get("sleeptime_llm")
    lines.append(f"sleeptime {sleeptime['provider'] + '/' + sleeptime['model'] if sleeptime else 'same as llm'}")
    emb, buf = agent["embedding"], agent["buffer"]
    lines.append(f"embedding {emb['provider']}/{emb['model']} ({emb['dim']}-d)")
    lines.append(f"buffer    {buf['min_messages']}..{buf['max_messages']} messages; turn budget "
                 f"{agent['turn_budget_s']} s; tool rounds {agent['max_tool_rounds']}")
    lines.append(f"timezone  {agent.get('timezone', 'UTC')}")
    lines.append("tools     " + (", ".join(t["name"] for t in agent["tools"]) or "none"))
    for block in agent["blocks"]:
        value = " ".join(block["value"].split())
        lines.append(f"block     {block['label']}: {value[:100]}{'…' if len(value) > 100 else ''}")
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    agent = resolve(args)
    print(json.dumps(agent) if args.json else "\n".join(describe(agent)))
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    agent = resolve(args)
    patch: dict[str, Any] = {}
    llm = _llm_patch(args)
    if llm:
        patch["llm"] = llm
    if args.no_fallback:
        patch["fallback"] = None
    elif args.fallback:
        patch["fallback"] = args.fallback
    if args.name:
        patch["name"] = args.name
    if args.system:
        patch["system"] = args.system
    if args.turn_budget_s is not None:
        patch["turn_budget_s"] = args.turn_budget_s
    if args.timezone:
        patch["timezone"] = args.timezone
    if not patch:
        raise SystemExit("nothing to change: give at least one setting (see --help)")
    updated = _api("PATCH", f"/v1/agents/{agent['id']}", args, patch)
    print(json.dumps(updated) if args.json else "\n".join(describe(updated)))
    if "to_reembed" in updated:
        print(f"{updated['to_reembed']} passages to re-embed", file=sys.stderr)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    agent = resolve(args)
    if not args.yes and sys.stdin.isatty():
        answer = input(f"delete agent {agent['name']!r} ({agent['id']}) and all its memory? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("not deleted")
            return 1
    result = _api("DELETE", f"/v1/agents/{agent['id']}", args)
    print(json.dumps(result) if args.json else f"deleted agent {agent['name']!r} ({agent['id']})")
    return 0


def add_agent_commands(sub: Any, client_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    agents = sub.add_parser("agents", help="manage agents").add_subparsers(dest="agents_command", required=True)
    create = agents.add_parser("create", help="create an agent; prints its id as the last line")
    create.add_argument("--name", required=True)
    llm_flags(create, create=True)
    create.add_argument("--persona")
    create.add_argument("--human")
    create.add_argument("--check", action="store_true",
                        help="first send one short request to each model of the chain; create nothing on failure")
    client_flags(create)
    create.set_defaults(func=cmd_create, first_token_timeout_s=_UNSET)
    lst = agents.add_parser("list", help="list agents")
    client_flags(lst)
    lst.set_defaults(func=cmd_list)
    show = agents.add_parser("show", help="an agent's settings, chain, tools and memory blocks")
    show.add_argument("agent", help="agent id or name")
    client_flags(show)
    show.set_defaults(func=cmd_show)
    update = agents.add_parser("update", help="change an agent's settings; its memory stays")
    update.add_argument("agent", help="agent id or name")
    update.add_argument("--name", help="rename")
    llm_flags(update, create=False)
    client_flags(update)
    update.set_defaults(func=cmd_update, first_token_timeout_s=_UNSET)
    delete = agents.add_parser("delete", help="delete an agent and all its memory")
    delete.add_argument("agent", help="agent id or name")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    client_flags(delete)
    delete.set_defaults(func=cmd_delete)
