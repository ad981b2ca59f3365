"""Encrypted and labelled clusters in the simulator: who can talk to whom."""

from __future__ import annotations

from serf_proto.events import JoinCompleted
from serf_proto.memberlist import Memberlist
from serf_proto.sim import World, memberlist_factory
from serf_proto.types import Address, NodeState

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


def _all_alive(world: World, names: list[str]) -> bool:
    for name in names:
        node = world.node(name)
        assert isinstance(node, Memberlist)
        if any(node.node_state(other) is not NodeState.ALIVE for other in names):
            return False
    return True


def test_a_rolling_upgrade_from_plaintext_to_encrypted_keeps_the_cluster_whole() -> None:
    """The three-step rolling restart operators use to turn encryption on without downtime:
    keyring with verify in/out off, then outgoing on, then incoming on. Between any two
    adjacent steps the nodes understand each other, so after every restart the whole cluster
    is alive everywhere; at the end a plaintext node is refused."""
    names = ["a", "b", "c", "d", "e"]
    world = World(seed=11, factory=memberlist_factory("lan"))
    for name in names:
        world.add_node(name)
    seed = world.address("a")
    for name in names[1:]:
        world.call(name, lambda node, now: node.join([seed], now))
    world.run_for(10.0)
    assert _all_alive(world, names)
    steps = [
        {"gossip_verify_incoming": False, "gossip_verify_outgoing": False},
        {"gossip_verify_incoming": False, "gossip_verify_outgoing": True},
        {"gossip_verify_incoming": True, "gossip_verify_outgoing": True},
    ]
    for step in steps:
        for i, name in enumerate(names):
            world.restart(name, factory=memberlist_factory("lan", keys=[KEY], **step))
            peer = world.address(names[(i + 1) % len(names)])

            def rejoin(node: Memberlist, now: float, peer: Address = peer) -> object:
                return node.join([peer], now)

            world.call(name, rejoin)
            world.run_for(15.0)
            assert _all_alive(world, names), (step, name)
    world.add_node("plain", factory=memberlist_factory("lan"))
    world.call("plain", lambda node, now: node.join([seed], now))
    world.run_for(10.0)
    assert members(world, "a") == set(names)
    (done,) = join_results(world, "plain")
    assert done.joined == 0


def test_cidrs_allowed_refuses_and_counts_nodes_outside_the_networks() -> None:
    from serf_proto.drops import DropReason

    world = World(seed=7, factory=memberlist_factory("lan"))
    world.add_node(
        "a", factory=memberlist_factory("lan", cidrs_allowed=("10.0.0.1/32", "10.0.0.2/32"))
    )
    world.add_node("b")
    world.add_node("c")
    world.add_node("d")
    assert [world.address(n).host for n in "bcd"] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    world.call("b", lambda node, now: node.join([world.address("a")], now))
    world.run_for(2.0)
    world.call("c", lambda node, now: node.join([world.address("b")], now))
    world.call("d", lambda node, now: node.join([world.address("a")], now))
    world.run_for(10.0)
    # c is outside a's networks: gossip about it reaches a through b and is refused
    assert members(world, "b") == {"a", "b", "c"}
    assert members(world, "a") == {"a", "b"}
    # d dials a itself: its push/pull stream is closed at once, so its join fails
    (done,) = join_results(world, "d")
    assert done.joined == 0 and done.errors
    a = world.node("a")
    assert isinstance(a, Memberlist) and a.stats.dropped[DropReason.CIDR_DENIED] >= 2
