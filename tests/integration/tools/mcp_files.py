"""The test MCP server, copied to a place every user can read.

A sandboxed server sees its own code only if it is exposed, and a request may expose only paths every user of the
machine can read; a checkout may sit in a private directory, so the server is copied out of it."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "fakes_mcp" / "echo_server.py"
_PUBLIC = Path(tempfile.mkdtemp(prefix="vl-mcp-", dir="/tmp"))
os.chmod(_PUBLIC, 0o755)
SERVER = Path(shutil.copy(SOURCE, _PUBLIC / "echo_server.py"))
os.chmod(SERVER, 0o644)
atexit.register(shutil.rmtree, _PUBLIC, True)
STDIO = [sys.executable, str(SERVER), "stdio"]
FILES = [str(_PUBLIC)]
