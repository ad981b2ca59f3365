"""Serf clusters in the simulator: membership, events, leave."""

from __future__ import annotations

from serf_proto.events import MemberEventType
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
