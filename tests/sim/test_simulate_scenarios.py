"""Scenario runs of real Serf nodes (serf_proto.simulate): small, deterministic clusters."""

from __future__ import annotations

from typing import Any

import pytest
from serf_proto.serf import SerfNode
from serf_proto.sim.world import World
from serf_proto.simulate import (
    ArrivalCurve,
    ScenarioError,
    ScenarioSpec,
    converge,
    render_text,
    run_scenario,
    serf_sim_factory,
    share_time,
)

NODES = 20


def run(scenario: str, **kw: object) -> dict[str, Any]:
    values: dict[str, object] = {"nodes": NODES, "scenario": scenario, "duration": 30.0}
    values.update(kw)
    return run_scenario(ScenarioSpec(**values)).to_dict()  # type: ignore[arg-type]


def test_share_time_counts_nodes_not_arrivals() -> None:
    times = [0.1, 0.2, 0.3, 0.4]
    assert share_time(times, 4, 0.5) == 0.2
    assert share_time(times, 4, 1.0) == 0.4
    assert share_time(times, 5, 1.0) is None
    assert share_time(times, 4, 0.0) == 0.1
    assert share_time([], 0, 0.5) is None


def test_an_arrival_curve_keeps_the_first_arrival_relative_to_the_trigger() -> None:
    curve = ArrivalCurve(trigger=10.0)
    curve.arrive("a", 10.5)
    curve.arrive("a", 12.0)
    curve.arrive("b", 11.0)
    assert curve.times() == [0.5, 1.0]
    assert curve.times({"b"}) == [1.0]
    assert "a" in curve and len(curve) == 2


def test_a_converged_start_fills_every_table_and_leaves_gossip_quiet() -> None:
    world = World(seed=3, factory=serf_sim_factory("lan"), keep_trace=False)
    names = [f"n{i}" for i in range(10)]
    for name in names:
        world.add_node(name)
    incarnations = {n: world.node(n).memberlist.local_node.incarnation for n in names}
    converge(world, names)
    for name in names:
        node = world.node(name)
        assert isinstance(node, SerfNode)
        assert sorted(m.name for m in node.members()) == sorted(names)
        assert all(str(m.status) == "alive" for m in node.members())
        assert node.memberlist.queue_depth() == 0
        # Its own entry in the message was old news: nothing to refute.
        assert node.memberlist.local_node.incarnation == incarnations[name]
    world.run_for(5.0)
    # Probes and their acks only: about two deliveries per node per probe interval.
    assert world.stats.deliveries <= 10 * 2 * 6


def test_an_event_reaches_every_node_within_a_second_on_a_lan() -> None:
    out = run("event")
    assert out["reached"] == NODES and out["population"] == NODES
    spread = out["dissemination"]
    assert isinstance(spread, dict)
    assert set(spread) == {"p50", "p99", "p9999", "all"}
    assert 0 < spread["p50"] <= spread["p99"] <= spread["p9999"] <= spread["all"] < 1.0
    assert out["false_failures"] == 0


def test_a_crashed_node_is_detected_by_every_live_node() -> None:
    out = run("failure")
    assert out["population"] == NODES - 1 and out["reached"] == NODES - 1
    detection = out["detection"]
    assert isinstance(detection, dict)
    assert set(detection) == {"first", "p50", "all"}
    # LAN: a probe every second, then a suspicion timeout of 4 * log10(20) s at least.
    assert 1.0 < detection["first"] <= detection["p50"] <= detection["all"] < 20.0
    assert out["false_failures"] == 0
    assert "dissemination" not in out


def test_nodes_joining_one_seed_all_end_up_seeing_everyone() -> None:
    out = run("join")
    spread = out["dissemination"]
    assert isinstance(spread, dict)
    assert spread["all"] is not None and spread["all"] < 10.0
    assert out["reached"] == NODES


def test_a_healed_partition_converges_again_without_false_failures_inside_a_half() -> None:
    out = run("partition", heal_after=20.0)
    assert out["split_at_s"] == 10.0 and out["heal_at_s"] == 30.0
    spread = out["dissemination"]
    assert isinstance(spread, dict)
    assert spread["all"] is not None
    assert out["false_failures"] == 0
    assert out["packets_lost"] > 0  # the partition dropped traffic


def test_a_quiet_lossless_cluster_has_no_false_failures() -> None:
    out = run("steady", duration=60.0)
    assert out["false_failures"] == 0
    assert out["duration_s"] == 60.0
    assert "dissemination" not in out and "detection" not in out


def test_tcp_fallback_hides_loss_and_lifeguard_suppresses_false_failures() -> None:
    with_tcp = run("steady", duration=120.0, loss=0.3, lifeguard=False)
    assert with_tcp["false_failures"] == 0
    udp_only = {"duration": 120.0, "loss": 0.3, "tcp_pings": False}
    off = run("steady", lifeguard=False, **udp_only)
    on = run("steady", lifeguard=True, **udp_only)
    assert off["lifeguard"] is False and off["tcp_pings"] is False
    assert isinstance(off["false_failures"], int) and isinstance(on["false_failures"], int)
    assert off["false_failures"] > 0
    assert on["false_failures"] < off["false_failures"]


def test_the_same_seed_gives_the_same_run_and_another_seed_another() -> None:
    first = run("event", seed=7, loss=0.1)
    again = run("event", seed=7, loss=0.1)
    other = run("event", seed=8, loss=0.1)
    assert first == again
    assert first["trace_hash"] != other["trace_hash"]


def test_stop_when_complete_ends_the_run_early() -> None:
    out = run("event", duration=60.0, stop_when_complete=True)
    assert out["reached"] == NODES
    assert isinstance(out["duration_s"], float) and out["duration_s"] < 20.0


def test_the_text_report_shows_the_summary_and_the_curve() -> None:
    text = render_text(run_scenario(ScenarioSpec(nodes=10, duration=10.0)), wall_s=1.0)
    assert "Dissemination" in text and "p9999=" in text
    assert "100.00%" in text and "deliveries/s" in text


@pytest.mark.parametrize(
    "bad",
    [
        {"nodes": 1},
        {"nodes": 5, "scenario": "meteor"},
        {"nodes": 5, "profile": "moon"},
        {"nodes": 5, "loss": 1.0},
        {"nodes": 5, "latency": -1.0},
        {"nodes": 5, "duration": 0.0},
    ],
)
def test_a_bad_specification_is_refused_with_a_scenario_error(bad: dict[str, object]) -> None:
    with pytest.raises(ScenarioError):
        ScenarioSpec(**bad)  # type: ignore[arg-type]
