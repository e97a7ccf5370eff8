"""Process metrics exported at /metrics in the Prometheus text format (no client library needed).

Counters and histograms take labels (``metrics.inc("x_total", provider="openai")``); label values are escaped
as the text format requires. ``ProviderMetrics`` turns the model chain's reports (providers/fallback.py) into:

    voice_letta_llm_first_token_seconds{provider,model}     histogram: request → first token, per attempt
    voice_letta_llm_requests_total{provider,model,outcome}  ok | error | stalled | cancelled
    voice_letta_llm_errors_total{provider,code}             provider_timeout, provider_rate_limited, ...,
                                                            first_token_timeout
    voice_letta_llm_fallback_answers_total{provider,model}  answers from a model other than the agent's own
    voice_letta_llm_tokens_total{provider,model,kind}       input | output | cached
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice_letta.agent.models import Usage
    from voice_letta.providers.fallback import AttemptReport

# Upper bounds in seconds, chosen for voice latencies (tens of ms to a few seconds).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


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


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _label_text(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}" if labels else ""


class Metrics:
    def __init__(self) -> None:
        self.counters: defaultdict[tuple[str, Labels], float] = defaultdict(float)
        self.gauges: defaultdict[str, float] = defaultdict(float)
        self.histograms: defaultdict[tuple[str, Labels], _Histogram] = defaultdict(_Histogram)
        self.help: dict[str, str] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self.counters[(name, tuple(sorted(labels.items())))] += amount

    def gauge_add(self, name: str, amount: float) -> None:
        self.gauges[name] += amount

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        self.histograms[(name, tuple(sorted(labels.items())))].observe(seconds)

    def render(self) -> str:
        lines: list[str] = []
        seen: set[str] = set()
        for (name, labels), value in sorted(self.counters.items()):
            if name not in seen:
                lines.append(f"# TYPE {name} counter")
                seen.add(name)
            lines.append(f"{name}{_label_text(labels)} {value:g}")
        for name, value in sorted(self.gauges.items()):
            lines += [f"# TYPE {name} gauge", f"{name} {value:g}"]
        for (name, labels), hist in sorted(self.histograms.items()):
            if name not in seen:
                lines.append(f"# TYPE {name} histogram")
                seen.add(name)
            cumulative = 0
            for bound, count in zip(_BUCKETS, hist.counts, strict=False):
                cumulative += count
                lines.append(f"{name}_bucket{_label_text((*labels, ('le', f'{bound:g}')))} {cumulative}")
            lines.append(f"{name}_bucket{_label_text((*labels, ('le', '+Inf')))} {hist.n}")
            plain = _label_text(labels)
            lines += [f"{name}_sum{plain} {hist.total:.6f}", f"{name}_count{plain} {hist.n}"]
        return "\n".join(lines) + "\n"


class ProviderMetrics:
    """A ``ChatObserver``: every model call's outcome, time to first token and tokens, by provider."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def attempt(self, report: AttemptReport) -> None:
        m = self.metrics
        m.inc("voice_letta_llm_requests_total", provider=report.provider, model=report.model, outcome=report.outcome)
        if report.first_token_s is not None:
            m.observe("voice_letta_llm_first_token_seconds", report.first_token_s, provider=report.provider,
                      model=report.model)
        if report.code is not None and report.outcome in ("error", "stalled"):
            m.inc("voice_letta_llm_errors_total", provider=report.provider, code=report.code)
        if report.outcome == "ok" and report.index > 0:
            m.inc("voice_letta_llm_fallback_answers_total", provider=report.provider, model=report.model)

    def usage(self, provider: str, model: str, usage: Usage) -> None:
        m = self.metrics
        m.inc("voice_letta_llm_tokens_total", usage.prompt_tokens, provider=provider, model=model, kind="input")
        m.inc("voice_letta_llm_tokens_total", usage.completion_tokens, provider=provider, model=model, kind="output")
        if usage.cached_tokens:
            m.inc("voice_letta_llm_tokens_total", usage.cached_tokens, provider=provider, model=model, kind="cached")
