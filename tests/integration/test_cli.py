"""The documented CLI contract, run as real processes against a real server process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, HttpError, Text
from tests.integration.serve_process import free_port
from voice_letta.config import DEFAULT_LLM_RETRIES

CLI = [sys.executable, "-m", "voice_letta.cli"]


async def run(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*CLI, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {**os.environ, "OPENAI_API_KEY": "sk-fake", "VOICE_LETTA_API_KEY": "cli-key",
           "VOICE_LETTA_URL": f"http://127.0.0.1:{port}"}
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(tmp_path / "cli.db"), "--no-preload",
        "--no-default-agent",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        # serve starts one worker process per core by default: allow a loaded machine time to start them all
        async with aiohttp.ClientSession() as s, asyncio.timeout(90):
            while True:
                try:
                    async with s.get(f"http://127.0.0.1:{port}/health") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}", env
    finally:
        proc.terminate()
        await proc.wait()
    assert (tmp_path / "cli.db").exists()


async def test_agents_create_prints_id_last_and_chat_streams(served: tuple[str, dict[str, str]],
                                                             fake_openai: FakeOpenAIServer) -> None:
    url, env = served
    code, out, err = await run("agents", "create", "--name", "cli-agent", "--provider", "openai",
                               "--model", "fake-model", "--base-url", fake_openai.base_url, env=env)
    assert code == 0, err
    agent_id = out.strip().splitlines()[-1]
    assert agent_id.startswith("agent-")
    code, out, _ = await run("agents", "list", "--json", env=env)
    assert code == 0 and [a["id"] for a in json.loads(out)] == [agent_id]
    fake_openai.script([Text("Hello from "), Text("the agent.")])
    code, out, err = await run("chat", agent_id, "-m", "Hi there", "--url", url, env=env)
    assert code == 0, err
    assert "Hello from the agent." in out
    # --json: one JSON object per turn (it was accepted and ignored: the plain "agent> ..." came out)
    fake_openai.script([Text("In JSON.")])
    code, out, err = await run("chat", agent_id, "-m", "Once more", "--json", "--url", url, env=env)
    assert code == 0, err
    assert json.loads(out) == {"message": "Once more", "reply": "In JSON.", "error": None}


async def test_chat_reads_lines_piped_from_a_file_written_on_windows(served: tuple[str, dict[str, str]],
                                                                    fake_openai: FakeOpenAIServer) -> None:
    # `voice-letta chat my-agent < questions.txt` (CRLF lines) on Linux or WSL: before, "hello there\r" was sent
    # to the model and stored as the user's words, and --json printed it with its "\r".
    _, env = served
    code, out, err = await run("agents", "create", "--name", "piped", "--provider", "openai", "--model", "fake-model",
                               "--base-url", fake_openai.base_url, env=env)
    assert code == 0, err
    agent_id = out.strip().splitlines()[-1]
    fake_openai.script([Text("One.")], [Text("Two.")])
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*CLI, "chat", agent_id, "--json", env=env, stdin=pipe, stdout=pipe,
                                                stderr=pipe)
    raw_out, raw_err = await asyncio.wait_for(proc.communicate(b"hello there\r\n\r\nsecond line\r\n"), 60)
    assert proc.returncode == 0, raw_err.decode()
    turns = [json.loads(line) for line in raw_out.decode().splitlines()]
    assert [(t["message"], t["reply"]) for t in turns] == [("hello there", "One."), ("second line", "Two.")]
    said = [m["content"] for m in fake_openai.requests[-1]["messages"] if m["role"] == "user"]
    assert said[-1].endswith("second line") and not any("\r" in str(m) for m in said), said


async def test_chat_skips_a_line_that_is_not_utf8_with_one_line_and_sends_the_rest(
        served: tuple[str, dict[str, str]], fake_openai: FakeOpenAIServer) -> None:
    # A file saved as Windows-1252 / Latin-1 ("café" is b"caf\xe9") piped into `chat`, or such bytes in an
    # argument: before, a traceback (UnicodeEncodeError: surrogates not allowed) and the rest of the file unsent.
    _, env = served
    code, out, err = await run("agents", "create", "--name", "latin1", "--provider", "openai", "--model",
                               "fake-model", "--base-url", fake_openai.base_url, env=env)
    assert code == 0, err
    agent_id = out.strip().splitlines()[-1]
    fake_openai.script([Text("One.")], [Text("Three.")])
    pipe = asyncio.subprocess.PIPE
    proc = await asyncio.create_subprocess_exec(*CLI, "chat", agent_id, "--json", env=env, stdin=pipe, stdout=pipe,
                                                stderr=pipe)
    raw_out, raw_err = await asyncio.wait_for(proc.communicate(b"first line\ncaf\xe9 au lait\nthird line\n"), 60)
    assert proc.returncode == 1
    assert [json.loads(line)["message"] for line in raw_out.decode().splitlines()] == ["first line", "third line"]
    assert raw_err.decode().splitlines() == ["voice-letta chat: line 2 of the input is not UTF-8 text (byte 0xe9), "
                                             "not sent: save it as UTF-8, e.g. iconv -f windows-1252 -t utf-8"]
    proc = await asyncio.create_subprocess_exec(*CLI, "chat", agent_id, "-m", b"caf\xe9", env=env, stdout=pipe,
                                                stderr=pipe)
    raw_out, raw_err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and raw_out == b""
    assert raw_err.decode().splitlines() == ["voice-letta: the argument b'caf\\xe9' is not UTF-8 text (byte 0xe9); "
                                             "set the terminal to UTF-8"]
    assert sum(m["role"] == "user" for m in fake_openai.requests[-1]["messages"]) == 2


async def test_client_commands_report_auth_errors(served: tuple[str, dict[str, str]]) -> None:
    _, env = served
    code, _, err = await run("agents", "list", env={**env, "VOICE_LETTA_API_KEY": "wrong"})
    assert code != 0 and "401" in err


async def test_chat_fails_with_one_line_and_a_nonzero_status(served: tuple[str, dict[str, str]],
                                                             fake_openai: FakeOpenAIServer) -> None:
    url, env = served
    code, out, err = await run("chat", "nobody", "-m", "Hi", "--url", url, env=env)
    assert code == 1
    assert err.strip() == "voice-letta chat: no agent named 'nobody' on this server (voice-letta agents list)"
    assert "Traceback" not in err and "INFO" not in err and "agent>" not in out
    code, _, err = await run("chat", "nobody", "-m", "Hi", "--url", url, env={**env, "VOICE_LETTA_API_KEY": "bad"})
    assert code == 1 and "HTTP 401" in err and "VOICE_LETTA_API_KEY" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = await run("chat", "x", "-m", "Hi", "--url", f"http://127.0.0.1:{free_port()}", env=env)
    assert code == 1 and err.startswith("voice-letta chat: cannot reach the server")


async def test_chat_prints_no_library_logs_and_fails_when_the_turn_fails(
    served: tuple[str, dict[str, str]], fake_openai: FakeOpenAIServer
) -> None:
    _, env = served
    code, out, err = await run("agents", "create", "--name", "quiet", "--provider", "openai",
                               "--model", "fake-model", "--base-url", fake_openai.base_url, env=env)
    agent_id = out.strip().splitlines()[-1]
    fake_openai.script([Text("All good.")])
    code, out, err = await run("chat", agent_id, "-m", "Hi", env=env)
    assert code == 0 and "All good." in out
    assert err == ""  # no "INFO httpx…/openai…" lines by default
    fake_openai.script(*([HttpError(500, "boom")] for _ in range(1 + DEFAULT_LLM_RETRIES)))  # every retry fails
    code, out, err = await run("chat", agent_id, "-m", "Hi again", env=env)
    assert code == 1 and "[error:" in err


async def test_chat_with_a_name_two_agents_share_says_so_and_lists_their_ids(served: tuple[str, dict[str, str]],
                                                                             fake_openai: FakeOpenAIServer) -> None:
    # Before: "no agent named 'twin' on this server" although `agents list` showed two.
    url, env = served
    ids = []
    for _ in range(2):
        code, out, err = await run("agents", "create", "--name", "twin", "--provider", "openai",
                                   "--model", "fake-model", "--base-url", fake_openai.base_url, env=env)
        assert code == 0, err
        ids.append(out.strip().splitlines()[-1])
    code, out, err = await run("chat", "twin", "-m", "Hi", "--url", url, env=env)
    assert code == 1 and "agent>" not in out and len(err.strip().splitlines()) == 1
    assert "2 agents are named 'twin'" in err and all(i in err for i in ids)


async def test_a_reader_that_leaves_early_stops_the_command_quietly(served: tuple[str, dict[str, str]],
                                                                    fake_openai: FakeOpenAIServer) -> None:
    # `voice-letta agents show X | head -1`: before, a BrokenPipeError traceback on stderr.
    _, env = served
    code, _, err = await run("agents", "create", "--name", "piped", "--provider", "openai",
                               "--model", "fake-model", "--base-url", fake_openai.base_url, env=env)
    assert code == 0, err
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    proc = await asyncio.create_subprocess_exec(*CLI, "agents", "show", "piped", env=env, stdout=write_end,
                                                stderr=asyncio.subprocess.PIPE)
    os.close(write_end)
    _, err_bytes = await asyncio.wait_for(proc.communicate(), 60)
    assert "Traceback" not in err_bytes.decode() and "BrokenPipe" not in err_bytes.decode()
    assert proc.returncode == 141  # 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe
