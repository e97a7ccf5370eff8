"""A retried memory write stores everything once: ``Idempotency-Key`` on ``POST …/messages/import``,
``…/archival/batch`` and ``…/archival``, and an import overlapping an earlier one. Through the real server, on a
SQLite file and on the PostgreSQL the tests start; two servers on one database play two processes (or workers)."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.agent.conftest import Running, openai_llm, serving
from tests.integration.server.test_header_bytes import raw_request
from tests.integration.store.helpers import raw
from tests.postgres import Databases
from voice_letta.server import http_memory, request_keys
from voice_letta.store.cache import CachingStore

DAY = 86400.0


@dataclass
class Backend:
    start: Callable[[], AbstractAsyncContextManager[Running]]  # a server process on the test's database
    kind: str


@pytest.fixture(params=["sqlite", "postgresql"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path, fake_openai: FakeOpenAIServer,
                  pg_databases: Databases) -> Backend:
    extra = {} if request.param == "sqlite" else {"database_url": await pg_databases.create()}
    return Backend(lambda: serving(tmp_path, fake_openai, api_key=None, **extra), request.param)


@pytest.fixture
async def server(backend: Backend) -> AsyncIterator[Running]:
    async with backend.start() as running:
        yield running


@dataclass
class Reply:
    status: int
    body: Any
    replayed: bool
    retry_after: str | None


async def post(server: Running, path: str, body: Any, key: str | None = None) -> Reply:
    headers = {"Idempotency-Key": key} if key is not None else {}
    async with aiohttp.ClientSession() as s, s.post(server.url + path, json=body, headers=headers) as r:
        return Reply(r.status, await r.json(), r.headers.get("Idempotent-Replayed") == "true",
                     r.headers.get("Retry-After"))


def conversation(t0: float, lines: range) -> list[dict[str, Any]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"line {i}: the ferry to Vigo was late.",
             "said_at": t0 + 60 * i} for i in lines]


async def messages(server: Running, agent_id: str) -> list[tuple[str, str, float]]:
    status, listed = await server.request("GET", f"/v1/agents/{agent_id}/messages",
                                          params={"in_context": "false", "limit": "1000"})
    assert status == 200, listed
    return [(m["role"], m["content"], m["created_at"]) for m in listed["data"]]


async def passages(server: Running, agent_id: str) -> list[str]:
    status, listed = await server.request("GET", f"/v1/agents/{agent_id}/archival", params={"limit": "1000"})
    assert status == 200, listed
    return sorted(p["id"] for p in listed["data"])


def batch(*texts: str) -> dict[str, Any]:
    return {"passages": [{"text": t} for t in texts]}


async def test_a_retried_import_with_its_key_is_answered_with_the_first_response_and_stored_once(
    server: Running,
) -> None:
    agent = (await server.create_agent())["id"]
    path = f"/v1/agents/{agent}/messages/import"
    body = {"messages": conversation(time.time() - 3 * DAY, range(6)), "archive": False}
    first = await post(server, path, body, key="import-2026-12-07")
    assert first.status == 202 and first.body["imported"] == 6 and not first.replayed, first
    again = await post(server, path, body, key="import-2026-12-07")
    assert (again.status, again.body, again.replayed) == (202, first.body, True)
    # the same JSON written another way (member order, an explicit default) is the same request
    reordered = {"archive": False, "messages": [dict(reversed(list(m.items()))) for m in body["messages"]]}
    assert (await post(server, path, reordered, key="import-2026-12-07")).body == first.body
    assert len(await messages(server, agent)) == 6


async def test_a_retried_batch_returns_the_same_passage_ids_and_stores_nothing_again(server: Running) -> None:
    agent = (await server.create_agent())["id"]
    path = f"/v1/agents/{agent}/archival/batch"
    first = await post(server, path, batch("Sam's sister is Ines.", "Sam takes the ferry on Fridays."), key="b-1")
    assert first.status == 201 and not first.replayed, first
    again = await post(server, path, batch("Sam's sister is Ines.", "Sam takes the ferry on Fridays."), key="b-1")
    assert (again.status, again.replayed) == (201, True)
    assert [p["id"] for p in again.body["data"]] == [p["id"] for p in first.body["data"]]
    one = await post(server, f"/v1/agents/{agent}/archival", {"text": "Sam's cat is Miso."}, key="p-1")
    assert (await post(server, f"/v1/agents/{agent}/archival", {"text": "Sam's cat is Miso."}, key="p-1")).body == \
        one.body
    assert await passages(server, agent) == sorted([p["id"] for p in first.body["data"]] + [one.body["id"]])


async def test_the_same_key_with_another_body_or_route_is_a_409_and_keys_are_per_agent(server: Running) -> None:
    ada, bob = (await server.create_agent())["id"], (await server.create_agent(name="bob"))["id"]
    path = f"/v1/agents/{ada}/archival/batch"
    assert (await post(server, path, batch("Ada likes tea."), key="k")).status == 201
    other = await post(server, path, batch("Ada likes coffee."), key="k")
    assert other.status == 409 and other.body["error"]["code"] == "idempotency_key_reused", other
    assert other.body["error"]["param"] == "Idempotency-Key" and other.body["error"]["type"] == "conflict_error"
    elsewhere = await post(server, f"/v1/agents/{ada}/archival", {"text": "Ada likes tea."}, key="k")
    assert elsewhere.status == 409 and elsewhere.body["error"]["code"] == "idempotency_key_reused"
    assert len(await passages(server, ada)) == 1
    # another agent's key of the same name is its own
    assert (await post(server, f"/v1/agents/{bob}/archival/batch", batch("Bob likes coffee."), key="k")).status == 201


async def test_concurrent_requests_with_one_key_on_two_servers_store_once(backend: Backend) -> None:
    async with backend.start() as one, backend.start() as two:
        agent = (await one.create_agent())["id"]
        texts = [f"Fact {i}: the lighthouse at Cabo Silleiro was painted in {1900 + i}." for i in range(40)]
        path = f"/v1/agents/{agent}/archival/batch"
        replies = await asyncio.gather(*(post(s, path, batch(*texts), key="race") for s in [one, two] * 4))
        firsts = [r for r in replies if r.status == 201 and not r.replayed]
        assert len(firsts) == 1, [(r.status, r.replayed) for r in replies]
        for r in replies:
            if r.status == 201:
                assert r.body == firsts[0].body
            else:  # still running: told so, with when to try again
                assert r.status == 409 and r.body["error"]["code"] == "idempotency_key_in_use" and r.retry_after == "1"
        assert len(await passages(two, agent)) == 40
        retried = await post(two, path, batch(*texts), key="race")
        assert retried.replayed and retried.body == firsts[0].body

        imports = f"/v1/agents/{agent}/messages/import"
        body = {"messages": conversation(time.time() - DAY, range(30)), "archive": False}
        replies = await asyncio.gather(*(post(s, imports, body, key="race-import") for s in [one, two] * 4))
        assert sum(r.status == 202 and not r.replayed for r in replies) == 1
        assert {r.status for r in replies} <= {202, 409}
        assert len(await messages(one, agent)) == 30


async def test_a_key_outlives_a_restart_of_the_server(backend: Backend) -> None:
    async with backend.start() as before:
        agent = (await before.create_agent())["id"]
        first = await post(before, f"/v1/agents/{agent}/archival/batch", batch("Ines moved to Lisbon."), key="r")
    async with backend.start() as after:
        again = await post(after, f"/v1/agents/{agent}/archival/batch", batch("Ines moved to Lisbon."), key="r")
        assert (again.status, again.body, again.replayed) == (201, first.body, True)
        assert len(await passages(after, agent)) == 1


async def test_a_key_expires_after_24_hours_and_expired_keys_are_purged(server: Running) -> None:
    agent = (await server.create_agent())["id"]
    path = f"/v1/agents/{agent}/archival/batch"
    first = await post(server, path, batch("Sam's boat is the Gaivota."), key="old")
    await post(server, path, batch("Sam's boat is blue."), key="new")
    store = server.store.inner if isinstance(server.store, CachingStore) else server.store
    await raw(store, f"UPDATE request_keys SET created_at = created_at - {DAY + 5} WHERE key = 'old'")
    later = await post(server, path, batch("Sam's boat is the Gaivota."), key="old")
    assert later.status == 201 and not later.replayed and later.body != first.body  # a new request now
    await raw(store, f"UPDATE request_keys SET created_at = created_at - {DAY + 5} WHERE key = 'new'")
    assert await server.store.purge_request_keys(before=time.time() - DAY) == 1  # "new", claimed a day ago
    assert [r[0] for r in await raw(store, "SELECT key FROM request_keys")] == ["old"]


async def raw_answer(url: str, path: str, key: bytes, body: bytes) -> tuple[int, bytes]:
    """POST with ``Idempotency-Key: key`` as raw bytes (HTTP clients refuse to send such keys): status and body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n".encode()
                 + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
                 + b"Idempotency-Key: " + key + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


HOSTILE = [b"x" * 256, b"", b"tab\there", b"bell\x07", b"del\x7f", b"cl\xe9", b"\xff\xfe"]
FINE = ["x" * 255, "clé-1 ✓", "'; DROP TABLE request_keys; --", "a b", "%00", "../../k"]


async def test_a_hostile_key_is_a_400_naming_the_header_and_nothing_is_stored(server: Running) -> None:
    agent = (await server.create_agent())["id"]
    for key in HOSTILE:
        for path, body in [(f"/v1/agents/{agent}/archival", b'{"text": "Ada likes tea."}'),
                           (f"/v1/agents/{agent}/archival/batch", b'{"passages": [{"text": "Ada likes tea."}]}'),
                           (f"/v1/agents/{agent}/messages/import",
                            b'{"messages": [{"role": "user", "content": "hi", "said_at": 1700000000}]}')]:
            status, answer = await raw_answer(server.url, path, key, body)
            assert status == 400, (key, answer)
            if b"\x07" not in key and b"\x7f" not in key:  # those the HTTP parser refuses first (a plain-text 400)
                assert json.loads(answer)["error"]["param"] == "Idempotency-Key", (key, answer)
    assert await passages(server, agent) == [] and await messages(server, agent) == []


async def test_any_printable_key_up_to_255_characters_is_a_key(server: Running) -> None:
    agent = (await server.create_agent())["id"]
    for key in FINE:
        status, data = await raw_request(server.url, "POST", f"/v1/agents/{agent}/archival/batch", [
            (b"Content-Type", b"application/json"), (b"Idempotency-Key", key.encode())],
            b'{"passages": [{"text": "Ada likes tea."}]}')
        assert status == 201, (key, data)
        again = await post(server, f"/v1/agents/{agent}/archival/batch", batch("Ada likes tea."), key=key)
        assert again.replayed and again.body == data, key
    assert len(await passages(server, agent)) == len(FINE)


async def test_a_failed_request_does_not_keep_its_key(server: Running) -> None:
    agent = (await server.create_agent())["id"]
    path = f"/v1/agents/{agent}/archival/batch"
    wrong = {"passages": [{"text": "Sam moved to Vigo.", "supersedes": ["passage-nope"]}]}
    for _ in range(2):  # the error is not recorded: the same request runs (and fails) again
        failed = await post(server, path, wrong, key="fix-me")
        assert failed.status == 400 and failed.body["error"]["param"] == "passages.0.supersedes", failed
    fixed = await post(server, path, batch("Sam moved to Vigo."), key="fix-me")
    assert fixed.status == 201 and not fixed.replayed


async def test_a_request_longer_than_the_lease_keeps_its_key_while_it_runs(server: Running,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The running request renews its claim: a retry sent after the lease (1 s here, 60 s in production) would
    have taken a claim made once over and stored the import a second time."""
    monkeypatch.setattr(request_keys, "KEY_LEASE_S", 1.0)
    monkeypatch.setattr(request_keys, "KEY_RENEW_S", 0.2)
    slow_import = http_memory._import

    async def slowly(*args: Any) -> Any:
        await asyncio.sleep(3.0)  # as a long embedding would
        return await slow_import(*args)

    monkeypatch.setattr(http_memory, "_import", slowly)
    agent = (await server.create_agent())["id"]
    path = f"/v1/agents/{agent}/messages/import"
    body = {"messages": conversation(time.time() - DAY, range(10)), "archive": False}
    first = asyncio.create_task(post(server, path, body, key="slow"))
    await asyncio.sleep(2.0)
    retry = await post(server, path, body, key="slow")
    assert (retry.status, retry.body["error"]["code"]) == (409, "idempotency_key_in_use")
    done = await first
    assert (done.status, done.body["imported"]) == (202, 10)
    again = await post(server, path, body, key="slow")
    assert again.replayed and again.body == done.body
    assert len(await messages(server, agent)) == 10


async def test_an_import_overlapping_an_earlier_one_stores_only_what_is_new(server: Running) -> None:
    agent = (await server.create_agent())["id"]
    path = f"/v1/agents/{agent}/messages/import"
    t0 = time.time() - 10 * DAY
    first = await post(server, path, {"messages": conversation(t0, range(6)), "archive": False})
    assert (first.status, first.body["imported"], first.body["duplicates"]) == (202, 6, 0)
    # a later export of the same chat: four lines already imported, three new ones, one of them said twice at once
    later = conversation(t0, range(2, 9)) + conversation(t0, range(8, 9))
    second = await post(server, path, {"messages": later, "archive": False})
    assert (second.body["imported"], second.body["duplicates"]) == (4, 4), second.body
    assert second.body["first_seq"] == first.body["last_seq"] + 1
    # the same export sent again without a key: nothing new, nothing stored, no job
    third = await post(server, path, {"messages": later, "archive": False})
    assert third.status == 202 and third.body == {"imported": 0, "duplicates": 8, "first_seq": None,
                                                  "last_seq": None, "job_id": None, "job_ids": []}
    stored = await messages(server, agent)
    assert len(stored) == 10 and stored.count(stored[-1]) == 2
    # the same words at another time, or said by the other side, are new
    moved = [dict(m, said_at=m["said_at"] + 1) for m in conversation(t0, range(1))]
    swapped = [dict(m, role="assistant") for m in conversation(t0, range(1))]
    assert (await post(server, path, {"messages": moved + swapped, "archive": False})).body["imported"] == 2


ROUTES = {"single": "archival", "batch": "archival/batch", "import": "messages/import"}


def write_body(route: str, n: int) -> dict[str, Any]:
    text = f"Fact number {n}: the tide in Vigo turns at {n} o'clock."
    if route == "single":
        return {"text": text}
    if route == "batch":
        return batch(text)
    return {"messages": [{"role": "user", "content": text, "said_at": 1_700_000_000.5 + n}], "archive": False}


def sync_post(port: int, path: str, body: Any, key: str | None) -> tuple[int, Any, bool]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json"} | ({"Idempotency-Key": key} if key is not None else {})
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read()), r.getheader("Idempotent-Replayed") == "true"
    finally:
        conn.close()


async def test_any_sequence_of_writes_and_retries_stores_what_a_model_of_keys_says(server: Running) -> None:
    """Property: whatever the order of keyed, unkeyed and retried writes, each key's first request is run once
    and every later use gets its response (same body) or a 409 (another body or route), and the agent holds one
    passage per write that ran and one message per new imported line."""
    port = int(server.url.rsplit(":", 1)[1])
    ops = st.lists(st.tuples(st.sampled_from(sorted(ROUTES)), st.sampled_from([None, "a", "b", "c"]),
                             st.integers(0, 2)), min_size=1, max_size=8)

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    @given(ops)
    def run(sequence: list[tuple[str, str | None, int]]) -> None:
        status, agent, _ = sync_post(port, "/v1/agents", {"name": "prop", "llm": openai_llm(server.fake)}, None)
        assert status == 201, agent
        first: dict[str, tuple[str, int, Any]] = {}
        written, lines = 0, set()
        for route, key, n in sequence:
            status, body, replayed = sync_post(port, f"/v1/agents/{agent['id']}/{ROUTES[route]}",
                                               write_body(route, n), key)
            if key is not None and key in first:
                if first[key][:2] == (route, n):
                    assert (status, body, replayed) == (202 if route == "import" else 201, first[key][2], True)
                else:
                    assert status == 409 and body["error"]["code"] == "idempotency_key_reused", body
                continue
            assert status < 300 and not replayed, body
            if key is not None:
                first[key] = (route, n, body)
            if route == "import":
                assert body["imported"] == (0 if n in lines else 1), body
                lines.add(n)
            else:
                written += 1
        status, listed = asyncio.run_coroutine_threadsafe(
            server.request("GET", f"/v1/agents/{agent['id']}/archival", params={"limit": "1000"}), loop).result(60)
        assert len(listed["data"]) == written
        status, listed = asyncio.run_coroutine_threadsafe(
            server.request("GET", f"/v1/agents/{agent['id']}/messages", params={"in_context": "false"}),
            loop).result(60)
        assert len(listed["data"]) == len(lines)

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(run)
