"""Encrypted and labelled clusters in the simulator: who can talk to whom."""

from __future__ import annotations

from serf_proto.events import JoinCompleted
from serf_proto.memberlist import Memberlist
from serf_proto.sim import World, memberlist_factory

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def members(world: World, name: str) -> set[str]:
    node = world.node(name)
    assert isinstance(node, Memberlist)
    return {m.name for m in node.members()}


def join_results(world: World, name: str) -> list[JoinCompleted]:
    return [e.item for e in world.trace if e.node == name and isinstance(e.item, JoinCompleted)]


def test_nodes_sharing_a_key_form_a_cluster_over_encrypted_gossip() -> None:
    world = World(seed=3, factory=memberlist_factory("lan", keys=[KEY]), trace_packets=True)
    for name in ("a", "b", "c"):
        world.add_node(name)
    seed = world.address("a")
    for name in ("b", "c"):
        world.call(name, lambda node, now: node.join([seed], now))
    world.run_for(10.0)
    assert all(members(world, n) == {"a", "b", "c"} for n in ("a", "b", "c"))
    node = world.node("b")
    assert isinstance(node, Memberlist) and node.stats.probes_failed == 0


def test_a_node_with_another_key_cannot_join() -> None:
    world = World(seed=3, factory=memberlist_factory("lan", keys=[KEY]))
    world.add_node("a")
    world.add_node("intruder", factory=memberlist_factory("lan", keys=[OTHER_KEY]))
    world.add_node("plain", factory=memberlist_factory("lan"))
    seed = world.address("a")
    for name in ("intruder", "plain"):
        world.call(name, lambda node, now: node.join([seed], now))
    world.run_for(10.0)
    assert members(world, "a") == {"a"}
    for name in ("intruder", "plain"):
        (done,) = join_results(world, name)
        assert done.joined == 0 and done.errors
    a = world.node("a")
    assert isinstance(a, Memberlist) and sum(a.stats.dropped.values()) >= 2


def test_labels_separate_clusters_and_authenticate_with_the_key() -> None:
    world = World(seed=5, factory=memberlist_factory("lan", keys=[KEY], label="blue"))
    world.add_node("a")
    world.add_node("b")
    world.add_node("red", factory=memberlist_factory("lan", keys=[KEY], label="red"))
    seed = world.address("a")
    for name in ("b", "red"):
        world.call(name, lambda node, now: node.join([seed], now))
    world.run_for(10.0)
    assert members(world, "a") == {"a", "b"}
    assert members(world, "red") == {"red"}
    (done,) = join_results(world, "red")
    assert done.joined == 0
