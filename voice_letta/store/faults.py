"""Crash points for the tests that kill a server inside a write (``tests/integration/workers``).

``crash_point(name)`` kills this process with SIGKILL (no cleanup, no rollback by Python: what a power cut or an
OOM kill leaves) when the environment variable ``VOICE_LETTA_TEST_CRASH_AT`` names ``name``. Only whoever starts
the process can arm one; nothing a request sends reaches it. Unset (always, outside those tests) it is one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "VOICE_LETTA_TEST_CRASH_AT"
# inside a keyed write's transaction, its rows written and the key's response recorded, before COMMIT
KEYED_WRITE_UNCOMMITTED = "keyed_write_uncommitted"
# a keyed write committed, before its response is sent
KEYED_WRITE_COMMITTED = "keyed_write_committed"
# inside an import's transaction: its lines inserted, their memory jobs (and its key's response) not yet
IMPORT_LINES_STORED = "import_lines_stored"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
