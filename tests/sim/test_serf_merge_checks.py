"""Per-member policy hooks: Go ≥ 0.9.5's checks of every joining node, the user's merge hook
and the per-member reconnect timeout."""

from __future__ import annotations

from serf_proto.events import MemberEventType
from serf_proto.memberlist.state import Node
from serf_proto.serf import member_info_error
from serf_proto.sim.world import World
from serf_proto.types import Address, Member, NodeState

from tests.sim.serf_cluster import build_cluster, member_events, serf, serf_factory

VSN = (1, 5, 2, 2, 5, 4)


def node(name: str = "a", host: str = "10.0.0.1", meta: bytes = b"") -> Node:
    return Node(name, Address(host, 7946), meta, NodeState.ALIVE, 1, VSN)


def test_member_info_verdicts_use_gos_text() -> None:
    assert member_info_error(node(), validate_names=True) is None
    assert member_info_error(node("web_1"), validate_names=False) is None
    assert member_info_error(node("web_1"), validate_names=True) == (
        "Node name contains invalid characters web_1 , Valid characters include "
        "all alpha-numerics and dashes and '.' "
    )
    assert member_info_error(node(host=""), validate_names=False) == (
        "IP byte length is invalid: 0 bytes is not either 4 or 16"
    )
    assert member_info_error(node(meta=b"x" * 513), validate_names=False) == (
        "Encoded length of tags exceeds limit of 512 bytes"
    )


def names(world: World, viewer: str) -> set[str]:
    return {m.name for m in serf(world, viewer).members()}


def test_the_merge_hook_and_name_checks_keep_nodes_out() -> None:
    seen: list[list[Member]] = []

    def hook(members: list[Member]) -> str | None:
        seen.append(members)
        if any(m.tags.get("role") == "intruder" for m in members):
            return "intruders are not welcome"
        return None

    world = World(seed=11, factory=serf_factory())
    world.add_node("a", factory=serf_factory(merge_hook=hook, validate_node_names=True))
    world.add_node("b")
    world.add_node("x", factory=serf_factory(tags={"role": "intruder"}))
    world.add_node("bad", factory=serf_factory(node_names={"bad": "bad_name"}))
    seed = world.address("a")
    for name in ("b", "x", "bad"):
        world.call(name, lambda n, now: n.join([seed], now))
    world.run_for(10.0)
    # as in Go, the joiner reads a's state before a refuses its own, so only a keeps it out
    assert names(world, "a") == {"a", "b"}
    assert "x" in names(world, "b") and "bad_name" in names(world, "b")
    assert any(m.name == "x" and m.tags == {"role": "intruder"} for ms in seen for m in ms)
    assert any(m.name == "b" and m.addr == world.address("b") for ms in seen for m in ms)


def test_a_reconnect_timeout_override_reaps_one_member_early() -> None:
    asked: list[tuple[str, float]] = []

    def override(member: Member, timeout: float) -> float:
        asked.append((member.name, timeout))
        return 10.0 if member.tags.get("short") == "yes" else timeout

    world = World(
        4,
        serf_factory(
            reap_interval=5.0,
            reconnect_timeout=3600.0,
            reconnect_timeout_override=override,
            per_node={"c": {"tags": {"short": "yes"}}},
        ),
    )
    build_cluster(world, ["a", "b", "c", "d"])
    world.crash("c")
    world.crash("d")
    world.run_for(40.0)
    reaped = {m for viewer, m in member_events(world, MemberEventType.REAP) if viewer == "a"}
    assert reaped == {"c"}
    assert ("d", 3600.0) in asked
    assert "d" in names(world, "a")
