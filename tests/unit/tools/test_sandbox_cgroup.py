"""The cgroup v2 side of sandbox/jail/limits.py against a directory laid out like a delegated cgroup.

The kernel side (the limits taking effect) is tested by test_sandbox_attacks.py where a delegated cgroup v2 group
exists; on these machines the memory and pids controllers are mounted as cgroup v1, so there it skips.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "sandbox"))
from jail.limits import CallCgroup, CgroupParent, Limits


def test_a_group_without_memory_and_pids_delegated_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "cgroup.subtree_control").write_text("cpu io\n")
    (tmp_path / "cgroup.controllers").write_text("cpu io memory pids\n")
    parent = CgroupParent(str(tmp_path))
    assert parent.path is None
    assert "not delegated" in parent.reason and "cpu io memory pids" in parent.reason
    assert parent.create(Limits(timeout_s=1, memory_mb=64)) is None


def test_a_call_group_gets_memory_without_swap_pids_and_one_cpu(tmp_path: Path) -> None:
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    parent = CgroupParent(str(tmp_path))
    assert parent.path == str(tmp_path) and parent.reason == ""
    group = parent.create(Limits(timeout_s=5, memory_mb=128, max_processes=32))
    assert group is not None
    path = Path(group.path)
    assert path.parent == tmp_path and path.name.startswith("vl-call-")
    assert (path / "memory.max").read_text() == str(128 << 20)
    assert (path / "memory.swap.max").read_text() == "0"
    assert (path / "memory.oom.group").read_text() == "1"
    assert (path / "pids.max").read_text() == "32"
    assert (path / "cpu.max").read_text() == "100000 100000"
    group.join()
    assert (path / "cgroup.procs").read_text() == "0"  # "0": the process that writes it (the call's init)
    (path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    assert group.oom_kills() == 2
    assert isinstance(group, CallCgroup)
