"""The metrics registry: declared names only, Prometheus text that the official parser reads."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serf_agent.metrics import CATALOGUE, Metrics, mirror_core_stats
from serf_asyncio import NodeCounters, TransportStats
from serf_proto.drops import DropReason
from serf_proto.memberlist.stats import MemberlistStats


def families(metrics: Metrics) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(metrics.render())}


def test_every_declared_metric_is_exported_with_help_and_type() -> None:
    text = Metrics().render()
    for spec in CATALOGUE:
        assert f"# TYPE {spec.name} {spec.type.value}" in text
        assert f"# HELP {spec.name} " in text
    assert len(families(Metrics(runtime=False))) == len(CATALOGUE)


def test_build_process_and_python_runtime_metrics_follow_the_catalogue() -> None:
    from serf_proto import __version__

    found = families(Metrics())
    build = found["pyserf_build_info"].samples[0]  # type: ignore[attr-defined]
    assert (build.name, build.labels, build.value) == (
        "pyserf_build_info",
        {"version": __version__},
        1.0,
    )
    for name in (
        "process_cpu_seconds",
        "process_resident_memory_bytes",
        "process_open_fds",
        "python_info",
        "python_gc_collections",
    ):
        assert name in found, name
    assert found["process_resident_memory_bytes"].samples[0].value > 1e6  # type: ignore[attr-defined]


def test_counters_only_go_up_but_can_mirror_a_cumulative_total() -> None:
    metrics = Metrics()
    metrics.inc("serf_acks_received_total")
    metrics.inc("serf_acks_received_total", 2)
    assert metrics.value("serf_acks_received_total") == 3
    with pytest.raises(ValueError, match="cannot decrease"):
        metrics.inc("serf_acks_received_total", -1)
    metrics.set("serf_acks_received_total", 40)
    assert metrics.value("serf_acks_received_total") == 40


def test_unknown_names_wrong_labels_and_wrong_types_fail_loudly() -> None:
    metrics = Metrics()
    with pytest.raises(KeyError):
        metrics.inc("serf_typo_total")
    with pytest.raises(ValueError, match="takes labels"):
        metrics.inc("serf_packets_dropped_total")
    with pytest.raises(TypeError):
        metrics.observe("serf_members", 1.0, status="alive")


def test_label_values_are_escaped_so_the_parser_reads_them_back() -> None:
    metrics = Metrics()
    odd = 'quote " backslash \\ newline \n end'
    metrics.inc("serf_packets_dropped_total", reason=odd)
    sample = families(metrics)["serf_packets_dropped"].samples[0]  # type: ignore[attr-defined]
    assert sample.labels == {"reason": odd} and sample.value == 1


def test_histograms_are_cumulative_with_sum_and_count() -> None:
    metrics = Metrics()
    for seconds in (0.003, 0.2, 7.0, 100.0):
        metrics.observe("serf_handler_duration_seconds", seconds, event="user")
    family = families(metrics)["serf_handler_duration_seconds"]
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}  # type: ignore[attr-defined]
    assert buckets["0.005"] == 1 and buckets["0.5"] == 2 and buckets["10"] == 3
    assert buckets["+Inf"] == 4
    sums = [s.value for s in family.samples if s.name.endswith("_sum")]  # type: ignore[attr-defined]
    assert sums == [pytest.approx(107.203)]


def test_collectors_run_before_each_rendering_and_can_be_removed() -> None:
    metrics = Metrics()
    calls: list[int] = []

    def collect(m: Metrics) -> None:
        calls.append(1)
        m.set("serf_packets_sent_total", 99)

    remove = metrics.add_collector(collect)
    assert "serf_packets_sent_total 99" in metrics.render()
    remove()
    metrics.render()
    assert calls == [1]


def test_node_counters_are_mirrored_with_drops_per_reason() -> None:
    stats = MemberlistStats(probes_sent=10, probes_failed=2, acks_received=8, packets_out=30)
    stats.drop(DropReason.CHECKSUM_MISMATCH)
    stats.drop(DropReason.CHECKSUM_MISMATCH)
    metrics = Metrics()
    counters = NodeCounters(
        memberlist=stats,
        serf={},
        dropped={DropReason.CHECKSUM_MISMATCH: 3, DropReason.BAD_QUERY_FILTER: 4},
        transport=TransportStats(),
    )
    metrics.add_collector(lambda m: mirror_core_stats(m, counters))
    parsed = families(metrics)
    assert parsed["serf_probes_sent"].samples[0].value == 10  # type: ignore[attr-defined]
    assert parsed["serf_packets_sent"].samples[0].value == 30  # type: ignore[attr-defined]
    drops = {s.labels["reason"]: s.value for s in parsed["serf_packets_dropped"].samples}  # type: ignore[attr-defined]
    assert drops == {"checksum_mismatch": 3, "bad_query_filter": 4}
