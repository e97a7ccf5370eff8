"""$VOICE_LETTA_DB from a .env file written on Windows (``docker run --env-file`` keeps each line's ``\\r``): the
server opened a new, empty database named "voice.db\\r" next to the user's own, so their agents and memories
seemed gone (real ``voice-letta serve`` process, real CLI with $VOICE_LETTA_URL from the same file)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.integration.serve_process import ROOT, free_port, wait_healthy


async def test_a_database_path_with_a_carriage_return_opens_the_users_database(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VOICE_LETTA_DB": f"{tmp_path}/voice.db\r", "VOICE_LETTA_URL": url + "\r"}
    env.pop("VOICE_LETTA_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(port), "--no-preload", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_healthy(url, proc)
        names = sorted(os.listdir(tmp_path))
        assert "voice.db" in names and "voice.db\r" not in names, names
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voice_letta.cli", "agents", "list", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await cli.communicate()
        assert cli.returncode == 0, (out, err)
        cli = await asyncio.create_subprocess_exec(  # the SDKs' base_url, copied: "Error 404: Not Found" before
            sys.executable, "-m", "voice_letta.cli", "agents", "list", "--url", url + "/v1/", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await cli.communicate()
        assert cli.returncode == 0 and b"Not Found" not in out + err and b"Error" not in err, (out, err)
        # not b"404": an agent id is random hex and held "404" once (clean-clone CI, session 17)
        for command in (["agents", "list"], ["chat", "nobody", "-m", "hi"]):  # host:port, as addresses are written
            cli = await asyncio.create_subprocess_exec(  # before: a traceback / "cannot reach the server"
                sys.executable, "-m", "voice_letta.cli", *command, "--url", f"127.0.0.1:{port}", cwd=ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await cli.communicate()
            assert b"Traceback" not in err and b"cannot reach" not in err, (command, out, err)
            assert cli.returncode == 0 or b"nobody" in err, (command, out, err)
    finally:
        proc.terminate()
        await proc.wait()


@pytest.mark.parametrize("how", ["VOICE_LETTA_DB", "--db="])
async def test_a_database_path_starting_with_a_tilde_is_in_the_home_directory(tmp_path: Path, how: str) -> None:
    # No shell expands "~" in a .env file, a systemd unit, docker -e or "--db=~/voice.db": before, the server made a
    # directory named "~" in its working directory and a new, empty database in it.
    home, work, port = tmp_path / "home", tmp_path / "work", free_port()
    home.mkdir()
    work.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("VOICE_LETTA_API_KEY", None)
    args = ["--db=~/voice.db"] if how == "--db=" else []
    if how == "VOICE_LETTA_DB":
        env["VOICE_LETTA_DB"] = "~/voice.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(port), "--no-preload", "--workers", "1",
        *args, cwd=work, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", proc)
        assert (home / "voice.db").exists() and not (work / "~").exists(), (os.listdir(home), os.listdir(work))
    finally:
        proc.terminate()
        await proc.wait()


async def test_values_in_quotes_as_docker_env_file_keeps_them_are_read_without(tmp_path: Path) -> None:
    # ``docker run --env-file .env`` keeps the quotes of KEY="value" (docker compose removes them): the server's API
    # key became '"k-1"' and every client sending k-1 got a 401; the database was a new file named '"…voice.db"'.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VOICE_LETTA_API_KEY": '"k-1"', "VOICE_LETTA_DB": f"'{tmp_path}/voice.db'",
           "VOICE_LETTA_ALLOWED_HOSTS": '"voice.example.com"', "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(  # in tmp_path: a quoted path read as relative is made there
        sys.executable, "-m", "voice_letta.cli", "serve", "--port", str(port), "--no-preload", "--workers", "1",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        await wait_healthy(url, proc)
        async with aiohttp.ClientSession() as s:
            async with s.get(url + "/v1/agents", headers={"Authorization": "Bearer k-1"}) as r:
                assert r.status == 200, await r.text()  # before: 401
            async with s.get(url + "/v1/agents", headers={"Authorization": 'Bearer "k-1"'}) as r:
                assert r.status == 401
            async with s.get(url + "/health", headers={"Host": "voice.example.com"}) as r:
                assert r.status == 200  # before: 421
        names = os.listdir(tmp_path)
        assert "voice.db" in names and not any("'" in n for n in names), names
    finally:
        proc.terminate()
        await proc.wait()
