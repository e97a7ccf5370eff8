"""Equal CPU for every worker: each worker process (its threads and its child processes) in a cgroup of its own with
the same CFS quota, for ``bench/workers_throughput.py --cpu-per-worker``.

Why: on a 2-core machine shared with other tenants (and with the bench's own load generator and fake model), one
worker and two workers never get comparable CPU, so turns/s of two over one measures the machine. With a quota Q
per worker that the worker actually receives (the group is throttled at its quota, not starved below it), one worker
has Q cores and two have 2Q: the ratio then measures the server's design only — the same CPU per turn in both runs
and nothing that serialises workers (a shared write lock, a worker waiting on another) gives 2.0x. It does not
measure whether 2 cores give 2x: on 2 cores one worker alone spreads over more than one (its store thread and helper
processes run beside its loop), which ``workers_throughput.py``'s ceiling column reports without a quota.

The groups get a large CPU weight so that the machine's other tenants do not push them below their quota; the quota
caps what they take. The generator and the fake model go into a weighted group without a quota for the same
reason. Needs root and the cgroup-v1 ``cpu`` controller mounted at /sys/fs/cgroup/cpu (what this VM has).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
WEIGHT = 10 * 1024  # ten default shares: ahead of the other tenants, up to the quota


class QuotaUnavailable(RuntimeError):
    """The cgroup-v1 cpu controller is not there or not writable (not root)."""


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, from /proc (a worker's background embedder, its sandbox server)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier]
        tree += frontier
    return tree


@dataclass
class Group:
    path: Path

    def add(self, pid: int) -> None:
        """Move one process (all its threads); its later children are born in the group."""
        with contextlib.suppress(ProcessLookupError):  # exited meanwhile
            (self.path / "cgroup.procs").write_text(str(pid))

    def add_tree(self, root: int) -> None:
        for pid in descendants(root):
            self.add(pid)

    def throttle_stats(self) -> tuple[int, int]:
        """(periods, periods in which the group used its whole quota and was throttled)."""
        fields = dict(line.split() for line in (self.path / "cpu.stat").read_text().splitlines())
        return int(fields["nr_periods"]), int(fields["nr_throttled"])


class CpuGroups:
    """One quota'd group per worker plus one unlimited group for the bench's own processes; removed on close."""

    def __init__(self, cores_per_worker: float, period_us: int) -> None:
        if not (CPU_ROOT / "cgroup.procs").exists() or not os.access(CPU_ROOT, os.W_OK):
            raise QuotaUnavailable(f"--cpu-per-worker needs root and the cgroup-v1 cpu controller at {CPU_ROOT}")
        self.quota_us = round(cores_per_worker * period_us)
        self.period_us = period_us
        self.groups: list[Group] = []
        self.prefix = f"vl-bench-{os.getpid()}"

    def _make(self, name: str, quota_us: int) -> Group:
        path = CPU_ROOT / f"{self.prefix}-{name}"
        path.mkdir()
        (path / "cpu.shares").write_text(str(WEIGHT))
        (path / "cpu.cfs_period_us").write_text(str(self.period_us))
        (path / "cpu.cfs_quota_us").write_text(str(quota_us))
        group = Group(path)
        self.groups.append(group)
        return group

    def worker(self, index: int) -> Group:
        return self._make(f"w{index}", self.quota_us)

    def bench(self) -> Group:
        return self._make("bench", -1)

    def close(self) -> None:
        """Move what is left back to the root group, then remove the groups."""
        for group in self.groups:
            with contextlib.suppress(OSError):
                for pid in (group.path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        (CPU_ROOT / "cgroup.procs").write_text(pid)
                group.path.rmdir()
        self.groups.clear()
