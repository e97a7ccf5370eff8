"""The tool server run by an unprivileged user: the `standard` level (a user namespace per call, capabilities
dropped, one uid for every call) still gives each call its own PID namespace, minimal root and seccomp.

It runs the server as `nobody` with the system's Python 3 (the venv's interpreter may sit under /root, which
`nobody` cannot read) and copies of pyseccomp and h11 on PYTHONPATH."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SANDBOX = Path(__file__).resolve().parents[3] / "sandbox" / "tool_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
def _public_site(base: Path) -> str:
    """pyseccomp and h11, copied where nobody can read them (the venv may sit in a private directory)."""
    import h11
    import pyseccomp

    site = base / "site"
    site.mkdir()
    shutil.copy(pyseccomp.__file__, site / "pyseccomp.py")
    shutil.copytree(Path(h11.__file__).parent, site / "h11")
    for path in [site, *site.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return str(site)


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root to start a process as nobody"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"no {SYSTEM_PYTHON}"
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                           capture_output=True, text=True, check=False)
    if probe.stdout.strip() != "True":
        return f"{SYSTEM_PYTHON} is older than 3.11"
    userns = subprocess.run(["unshare", "-U", "true"], user=65534, group=65534, extra_groups=[],
                            capture_output=True, check=False)
    if userns.returncode != 0:
        return "the kernel does not let unprivileged users create user namespaces"
    return None


@pytest.fixture
def unprivileged_server() -> Iterator[tuple[str, dict[str, Any]]]:
    why = _why_not()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="vl-unpriv-", dir="/tmp"))  # pytest's tmp dirs are private to root
    os.chmod(base, 0o777)
    site = _public_site(base)
    nobody = pwd.getpwnam("nobody")
    sock = base / "t.sock"
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, "-s", str(SANDBOX), "--socket", str(sock), "--work-root", str(base / "work")],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": site}, user=nobody.pw_uid, group=nobody.pw_gid,
        extra_groups=[], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(base),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            assert proc.stderr is not None
            pytest.fail(f"the unprivileged tool server did not start: {proc.stderr.read().decode()[-2000:]}")
        yield str(sock), json.loads(line)["isolation"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


def _call(sock_path: str, source: str, entrypoint: str, **args: Any) -> dict[str, Any]:
    request = {"v": 2, "op": "call", "id": "u", "runtime": "python", "source": source, "entrypoint": entrypoint,
               "args": args, "limits": {"timeout_s": 20, "memory_mb": 128}}
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(sock_path)
        s.sendall(json.dumps(request).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 16)
            assert chunk, "no answer"
            data += chunk
    answer: dict[str, Any] = json.loads(data)
    return answer


PROBE = '''
import ctypes
import os


def inside() -> dict:
    libc = ctypes.CDLL(None, use_errno=True)
    status = open("/proc/self/status").read()
    return {
        "uid": os.getuid(),
        "pid": os.getpid(),
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "root": sorted(os.listdir("/")),
        "cap_eff": status.split("CapEff:")[1].split()[0],
        "unshare": 0 if libc.unshare(0x10000000) == 0 else ctypes.get_errno(),
    }
'''


def test_an_unprivileged_server_gives_standard_isolation(unprivileged_server: tuple[str, dict[str, Any]]) -> None:
    sock_path, isolation = unprivileged_server
    assert isolation["level"] == "standard"
    assert isolation["user_namespace"] and not isolation["uid_per_call"] and not isolation["root"]
    assert isolation["pid_namespace"] and isolation["minimal_root"] and isolation["seccomp"]
    answer = _call(sock_path, PROBE, "inside")
    assert answer["outcome"] == "ok", answer
    seen = answer["result"]
    assert seen["pid"] == 2 and seen["pids"] == [1, 2]  # its own PID namespace
    assert seen["cap_eff"] == "0000000000000000"  # root of its user namespace, but without capabilities
    assert seen["unshare"] == 1  # seccomp: EPERM
    assert not {"srv", "home", "root", "mnt", "opt"} & set(seen["root"])
