"""Process metrics exported at /metrics in the Prometheus text format (no client library needed)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

# Upper bounds in seconds, chosen for voice latencies (tens of ms to a few seconds).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        self.total += seconds
        self.n += 1
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
                return
        self.counts[-1] += 1


class Metrics:
    def __init__(self) -> None:
        self.counters: defaultdict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.gauges: defaultdict[str, float] = defaultdict(float)
        self.histograms: defaultdict[str, _Histogram] = defaultdict(_Histogram)
        self.help: dict[str, str] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self.counters[(name, tuple(sorted(labels.items())))] += amount

    def gauge_add(self, name: str, amount: float) -> None:
        self.gauges[name] += amount

    def observe(self, name: str, seconds: float) -> None:
        self.histograms[name].observe(seconds)

    def render(self) -> str:
        lines: list[str] = []
        seen: set[str] = set()
        for (name, labels), value in sorted(self.counters.items()):
            if name not in seen:
                lines.append(f"# TYPE {name} counter")
                seen.add(name)
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(f"{name}{{{label_text}}} {value:g}" if label_text else f"{name} {value:g}")
        for name, value in sorted(self.gauges.items()):
            lines += [f"# TYPE {name} gauge", f"{name} {value:g}"]
        for name, hist in sorted(self.histograms.items()):
            lines.append(f"# TYPE {name} histogram")
            cumulative = 0
            for bound, count in zip(_BUCKETS, hist.counts, strict=False):
                cumulative += count
                lines.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
            lines.append(f'{name}_bucket{{le="+Inf"}} {hist.n}')
            lines += [f"{name}_sum {hist.total:.6f}", f"{name}_count {hist.n}"]
        return "\n".join(lines) + "\n"
