"""The agent's metrics registry, rendered in the Prometheus text exposition format (0.0.4).

One ``Metrics`` object lives in the agent. The agent, its event handlers and the RPC server
update it (``inc``, ``set``, ``observe``); the HTTP endpoint renders it for ``GET /metrics``.
Values that the core already counts (probes, packets, drops...) are mirrored by a collector:
a callable registered with ``add_collector`` that runs right before each rendering and copies
the current totals in with ``set``.

Every metric name is declared once in ``CATALOGUE`` (name, type, help), so the agent and the
endpoint agree on names and a typo fails loudly (``KeyError``) instead of exporting a new
series. Label values are free strings.

After the catalogue, ``render`` appends what every Prometheus exporter is expected to have,
produced by prometheus_client's own collectors in a private registry: ``pyserf_build_info``
(a gauge of 1 labelled with the version), ``process_*`` (CPU seconds, resident memory, open
file descriptors, start time; Linux only), ``python_info`` and ``python_gc_*``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Info,
    generate_latest,
)
from serf_asyncio import NodeCounters
from serf_proto import __version__


class MetricType(StrEnum):
    """Prometheus metric types used here."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A declared metric: its full name (counters end in ``_total``), type and help text."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...] = ()


_C, _G, _H = MetricType.COUNTER, MetricType.GAUGE, MetricType.HISTOGRAM

#: Every metric the agent exports.
CATALOGUE: tuple[MetricSpec, ...] = (
    MetricSpec("serf_probes_sent_total", _C, "Failure-detector probes started."),
    MetricSpec("serf_probes_failed_total", _C, "Probes that got no ack in time."),
    MetricSpec("serf_acks_received_total", _C, "Ack messages received."),
    MetricSpec("serf_suspicions_total", _C, "Members this node started to suspect."),
    MetricSpec("serf_refutations_total", _C, "Suspicions of this node that it refuted."),
    MetricSpec("serf_member_failures_total", _C, "Members declared failed."),
    MetricSpec("serf_members", _G, "Known members by Serf status.", ("status",)),
    MetricSpec("serf_gossip_messages_total", _C, "Gossip packets sent."),
    MetricSpec("serf_push_pull_total", _C, "Push/pull state exchanges completed."),
    MetricSpec("serf_heal_pings_total", _C, "Self-healing pings sent to failed members."),
    MetricSpec("serf_heal_pings_answered_total", _C, "Self-healing pings that were acked."),
    MetricSpec(
        "serf_accusations_resent_total", _C, "Stale alives answered with the accusation held."
    ),
    MetricSpec("serf_unprobed_push_pull_total", _C, "Push/pulls started because nobody pinged us."),
    MetricSpec("serf_packets_received_total", _C, "UDP packets received."),
    MetricSpec("serf_packets_sent_total", _C, "UDP packets sent."),
    MetricSpec("serf_bytes_received_total", _C, "Bytes received (UDP and TCP)."),
    MetricSpec("serf_bytes_sent_total", _C, "Bytes sent (UDP and TCP)."),
    MetricSpec("serf_packets_dropped_total", _C, "Inbound packets dropped.", ("reason",)),
    MetricSpec("serf_broadcast_queue_depth", _G, "Messages waiting in a queue.", ("queue",)),
    MetricSpec("serf_events_total", _C, "Events delivered to the agent.", ("type",)),
    MetricSpec("serf_user_events_sent_total", _C, "User events fired by this agent."),
    MetricSpec("serf_queries_sent_total", _C, "Queries started by this agent."),
    MetricSpec("serf_handler_runs_total", _C, "Event handler runs.", ("event", "outcome")),
    MetricSpec(
        "serf_handler_duration_seconds", _H, "Event handler run time in seconds.", ("event",)
    ),
    MetricSpec("serf_health_score", _G, "Lifeguard local health score (0 is healthy)."),
    MetricSpec("serf_rpc_clients", _G, "Connected RPC clients."),
    MetricSpec("serf_rpc_commands_total", _C, "RPC commands handled.", ("command",)),
    MetricSpec("serf_rpc_dropped_records_total", _C, "Stream/monitor records dropped."),
    MetricSpec("serf_http_requests_total", _C, "HTTP requests handled.", ("path", "code")),
)

#: Histogram bucket upper bounds (seconds) for handler durations.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)

Labels = tuple[tuple[str, str], ...]
Collector = Callable[["Metrics"], None]


@dataclass(slots=True)
class _Histogram:
    buckets: tuple[float, ...]
    counts: list[int]
    total: float = 0.0
    count: int = 0


@dataclass(slots=True)
class _Series:
    spec: MetricSpec
    values: dict[Labels, float] = field(default_factory=dict)
    histograms: dict[Labels, _Histogram] = field(default_factory=dict)


class Metrics:
    """A registry of the metrics in ``CATALOGUE``; single-threaded (use it on the loop)."""

    def __init__(
        self,
        catalogue: Iterable[MetricSpec] = CATALOGUE,
        runtime: bool = True,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """``runtime=False`` leaves out the build, process and Python runtime metrics;
        ``labels`` (Serf's ``MetricLabels``) are added to every series of the catalogue."""
        self._series = {spec.name: _Series(spec) for spec in catalogue}
        self._constant: Labels = _key(dict(labels or {}))
        self._collectors: list[Collector] = []
        self._runtime = runtime_registry() if runtime else None

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (>= 0) to counter ``name`` or add to gauge ``name``."""
        series = self._get(name, (_C, _G), labels)
        if series.spec.type is _C and amount < 0:
            raise ValueError(f"counter {name} cannot decrease")
        key = _key(labels)
        series.values[key] = series.values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set gauge ``name``, or mirror a counter from a cumulative total kept elsewhere."""
        self._get(name, (_C, _G), labels).values[_key(labels)] = float(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record one observation (e.g. a handler duration in seconds) in histogram ``name``."""
        series = self._get(name, (_H,), labels)
        key = _key(labels)
        hist = series.histograms.get(key)
        if hist is None:
            hist = _Histogram(DEFAULT_BUCKETS, [0] * len(DEFAULT_BUCKETS))
            series.histograms[key] = hist
        for i, bound in enumerate(hist.buckets):
            if value <= bound:
                hist.counts[i] += 1
        hist.total += value
        hist.count += 1

    def value(self, name: str, **labels: str) -> float:
        """The current value of a counter or gauge series (0 if never set)."""
        return self._get(name, (_C, _G), labels).values.get(_key(labels), 0.0)

    def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Every series of counter or gauge ``name`` as ``(labels, value)``, after running the
        collectors (what a scrape would show for it)."""
        for collector in list(self._collectors):
            collector(self)
        series = self._series[name]
        if series.spec.type is _H:
            raise TypeError(f"{name} is a histogram")
        return [(dict(key), value) for key, value in sorted(series.values.items())]

    def add_collector(self, collector: Collector) -> Callable[[], None]:
        """Run ``collector(self)`` before every ``render``; returns a function removing it."""
        self._collectors.append(collector)
        return lambda: self._collectors.remove(collector)

    def render(self) -> str:
        """Run the collectors, then return every metric in Prometheus text format."""
        for collector in list(self._collectors):
            collector(self)
        lines: list[str] = []
        for series in self._series.values():
            spec = series.spec
            lines.append(f"# HELP {spec.name} {_escape_help(spec.help)}")
            lines.append(f"# TYPE {spec.name} {spec.type.value}")
            const = self._constant
            if spec.type is _H:
                for key, hist in sorted(series.histograms.items()):
                    lines.extend(_histogram_lines(spec.name, (*const, *key), hist))
                continue
            if not series.values and not spec.labels:
                lines.append(f"{spec.name}{_labels_text(const)} 0")
            for key, number in sorted(series.values.items()):
                lines.append(f"{spec.name}{_labels_text((*const, *key))} {_number(number)}")
        text = "\n".join(lines) + "\n"
        if self._runtime is not None:
            text += generate_latest(self._runtime).decode()
        return text

    def _get(self, name: str, types: tuple[MetricType, ...], labels: dict[str, str]) -> _Series:
        series = self._series[name]
        if series.spec.type not in types:
            raise TypeError(f"{name} is a {series.spec.type.value}")
        if set(labels) != set(series.spec.labels):
            raise ValueError(f"{name} takes labels {series.spec.labels}, got {tuple(labels)}")
        return series


def metric_label_error(name: str) -> str | None:
    """Why ``name`` cannot be a constant metric label (Prometheus' rules), or ``None``."""
    if not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
        return f"invalid label name {name!r}"
    if any(name in spec.labels for spec in CATALOGUE) or name == "le":
        return f"label name {name!r} is used by the metrics themselves"
    return None


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def runtime_registry() -> CollectorRegistry:
    """A registry of ``pyserf_build_info`` and prometheus_client's process, platform and GC
    collectors (the same objects its default registry uses; they keep no state of their own)."""
    registry = CollectorRegistry(auto_describe=True)
    Info("pyserf_build", "The running pyserf version.", registry=registry).info(
        {"version": __version__}
    )
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


def _key(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _histogram_lines(name: str, key: Labels, hist: _Histogram) -> list[str]:
    lines = [
        f"{name}_bucket{_labels_text((*key, ('le', _number(bound))))} {count}"
        for bound, count in zip(hist.buckets, hist.counts, strict=True)
    ]
    lines.append(f"{name}_bucket{_labels_text((*key, ('le', '+Inf')))} {hist.count}")
    lines.append(f"{name}_sum{_labels_text(key)} {_number(hist.total)}")
    lines.append(f"{name}_count{_labels_text(key)} {hist.count}")
    return lines


def _labels_text(key: Labels) -> str:
    if not key:
        return ""
    inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in key)
    return "{" + inner + "}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


#: ``MemberlistStats`` attribute -> counter it is mirrored into.
MEMBERLIST_COUNTERS: Mapping[str, str] = {
    "probes_sent": "serf_probes_sent_total",
    "probes_failed": "serf_probes_failed_total",
    "acks_received": "serf_acks_received_total",
    "suspicions": "serf_suspicions_total",
    "refutations": "serf_refutations_total",
    "dead_declared": "serf_member_failures_total",
    "push_pulls": "serf_push_pull_total",
    "heal_pings_sent": "serf_heal_pings_total",
    "heal_pings_answered": "serf_heal_pings_answered_total",
    "accusations_resent": "serf_accusations_resent_total",
    "unprobed_push_pulls": "serf_unprobed_push_pull_total",
    "packets_in": "serf_packets_received_total",
    "packets_out": "serf_packets_sent_total",
    "bytes_in": "serf_bytes_received_total",
    "bytes_out": "serf_bytes_sent_total",
}


def mirror_core_stats(metrics: Metrics, counters: NodeCounters) -> None:
    """Copy a node's cumulative counters (``SerfNode.counters()``) into ``metrics`` (use it
    inside a collector): memberlist's probes, acks, suspicions, push/pulls and traffic, and the
    drops of both layers per reason. The ``reason`` label is the value of
    ``serf_proto.drops.DropReason`` (snake_case, e.g. ``checksum_mismatch``)."""
    for attr, name in MEMBERLIST_COUNTERS.items():
        metrics.set(name, getattr(counters.memberlist, attr))
    for reason, count in counters.dropped.items():
        metrics.set("serf_packets_dropped_total", count, reason=str(reason))
