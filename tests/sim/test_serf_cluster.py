"""Serf clusters in the simulator: membership, events, leave."""

from __future__ import annotations

from serf_proto.events import MemberEvent, MemberEventType
from serf_proto.serf import QueryParams
from serf_proto.sim.network import LinkSpec
from serf_proto.sim.world import World

from tests.sim.serf_cluster import (
    alive_everywhere,
    build_cluster,
    member_events,
    serf,
    serf_factory,
    user_events,
)


def test_three_nodes_join_and_see_each_other_alive() -> None:
    world = World(1, serf_factory())
    names = ["a", "b", "c"]
    build_cluster(world, names)
    assert alive_everywhere(world, names)


def test_a_user_event_reaches_every_node_once() -> None:
    world = World(2, serf_factory())
    names = ["a", "b", "c", "d"]
    build_cluster(world, names)
    world.call("b", lambda n, now: n.user_event("deploy", b"v1", True, now))
    world.run_for(5.0)
    got = sorted(node for node, e in user_events(world) if e.name == "deploy")
    assert got == names


def test_a_graceful_leave_is_seen_as_left_not_failed() -> None:
    world = World(3, serf_factory())
    names = ["a", "b", "c"]
    build_cluster(world, names)
    world.call("c", lambda n, now: n.leave(now))
    world.run_for(10.0)
    views = {m.name: str(m.status) for m in serf(world, "a").members()}
    assert views["c"] == "left"
    assert ("a", "c") in member_events(world, MemberEventType.LEAVE)
    assert ("a", "c") not in member_events(world, MemberEventType.FAILED)


def test_a_crashed_node_is_failed_then_reaped_after_the_reconnect_timeout() -> None:
    world = World(4, serf_factory(reap_interval=5.0, reconnect_timeout=30.0))
    names = ["a", "b", "c"]
    build_cluster(world, names)
    world.crash("c")
    world.run_for(20.0)
    assert ("a", "c") in member_events(world, MemberEventType.FAILED)
    assert str({m.name: m.status for m in serf(world, "a").members()}["c"]) == "failed"
    world.run_for(30.0)
    assert ("a", "c") in member_events(world, MemberEventType.REAP)
    assert "c" not in {m.name for m in serf(world, "a").members()}


def test_a_failed_node_that_comes_back_is_reconnected_without_joining() -> None:
    world = World(5, serf_factory(reconnect_interval=3.0))
    names = ["a", "b", "c"]
    build_cluster(world, names)
    world.crash("c")
    world.run_for(20.0)
    world.restart("c")
    world.run_for(30.0)
    assert alive_everywhere(world, names)


def test_force_leave_with_prune_erases_a_failed_node_everywhere() -> None:
    world = World(6, serf_factory())
    names = ["a", "b", "c", "d"]
    build_cluster(world, names)
    world.crash("d")
    world.run_for(20.0)
    world.call("a", lambda n, now: n.force_leave("d", True, now))
    world.run_for(5.0)
    for viewer in ("a", "b", "c"):
        assert "d" not in {m.name for m in serf(world, viewer).members()}
        assert (viewer, "d") in member_events(world, MemberEventType.REAP)


def test_agent_coalescing_batches_a_burst_of_joins_into_few_events() -> None:
    world = World(7, serf_factory(coalesce_period=3.0, quiescent_period=1.0))
    names = [f"c{i}" for i in range(6)]
    build_cluster(world, names, settle=15.0)
    batches = [
        e.item
        for e in world.trace
        if e.node == "c0"
        and isinstance(e.item, MemberEvent)
        and e.item.type is MemberEventType.JOIN
    ]
    joined = sorted(m.name for b in batches for m in b.members)
    assert joined == names
    assert len(batches) < len(names)


def test_a_join_that_ignores_old_events_does_not_replay_them() -> None:
    world = World(8, serf_factory())
    build_cluster(world, ["a", "b"])
    world.call("a", lambda n, now: n.user_event("history", b"", False, now))
    world.run_for(3.0)
    world.add_node("late")
    world.add_node("replayer")
    world.call("late", lambda n, now: n.join([world.address("a")], now, ignore_old=True))
    world.call("replayer", lambda n, now: n.join([world.address("a")], now))
    world.run_for(10.0)
    got = {node for node, e in user_events(world) if e.name == "history"}
    assert got == {"a", "b", "replayer"}


def test_the_same_seed_gives_the_same_serf_trace() -> None:
    def run() -> str:
        world = World(9, serf_factory(), link=LinkSpec(loss=0.05, jitter=0.005))
        build_cluster(world, ["a", "b", "c", "d"])
        world.call("b", lambda n, now: n.user_event("e", b"1", True, now))
        world.call("c", lambda n, now: n.query("q", b"", QueryParams(request_ack=True), now))
        world.run_for(10.0)
        return world.trace_hash()

    assert run() == run()
