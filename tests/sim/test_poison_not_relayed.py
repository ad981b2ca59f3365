"""Input a node refuses is never gossiped on: the Go-crashing queries stop at the first node.

A hostile packet delivered to one node of a converged simulated cluster must be dropped and
counted there, and no other node may ever see it (a Go Serf 0.9.4 peer would panic on it).
"""

from __future__ import annotations

import pytest
from serf_proto.memberlist.state import ip_bytes
from serf_proto.sim import World
from serf_proto.simulate import converge, serf_sim_factory
from serf_proto.types import Address
from serf_proto.wire import MessageQueryResponse, MessageRelay, encode_serf_message

from benchmarks.fuzz.corpus import USER_TYPE, hostile_inputs

POISON = {
    "query_empty_filter": "bad_query_filter",
    "serf_internal_query_empty_payload__serf_install-key": "bad_key_query",
    "serf_internal_query_empty_payload__serf_use-key": "bad_key_query",
    "serf_internal_query_empty_payload__serf_remove-key": "bad_key_query",
}
SAMPLES = {s.name: s.data for s in hostile_inputs() if s.name in POISON}
ATTACKER = Address("10.213.0.99", 7946)


def _cluster() -> World:
    world = World(seed=7, factory=serf_sim_factory("lan"), keep_trace=False)
    names = [f"n{i}" for i in range(5)]
    for name in names:
        world.add_node(name)
    converge(world, names)
    world.run_for(1.0)
    return world


def _seen_elsewhere(world: World, reason: str) -> int:
    return sum(world.node(n).dropped.get(reason, 0) for n in world.names()[1:])


@pytest.mark.parametrize("name", sorted(POISON))
def test_a_go_crashing_query_is_dropped_counted_and_never_gossiped_on(name: str) -> None:
    world = _cluster()
    world.call("n0", lambda node, now: node.receive_packet(ATTACKER, SAMPLES[name], now))
    world.run_for(10.0)
    assert world.node("n0").dropped.get(POISON[name]) == 1
    assert _seen_elsewhere(world, POISON[name]) == 0, "the poison travelled"


def _relay(world: World, inner: bytes) -> None:
    target = world.address("n1")
    relay = MessageRelay(ip_bytes(target.host), target.port, "n1", inner)
    packet = bytes([USER_TYPE]) + encode_serf_message(relay)
    world.call("n0", lambda node, now: node.receive_packet(ATTACKER, packet, now))
    world.run_for(2.0)


def test_a_relay_of_anything_but_a_query_response_is_not_forwarded() -> None:
    world = _cluster()
    unknown = "reply_for_unknown_query"
    _relay(world, SAMPLES["query_empty_filter"][1:])  # a query inside a relay: poison
    assert world.node("n0").dropped.get("bad_relay_message") == 1
    assert world.node("n1").dropped.get(unknown, 0) == 0
    assert world.node("n1").dropped.get("bad_query_filter", 0) == 0
    _relay(world, encode_serf_message(MessageQueryResponse(1, 1, "x", 0, b"")))
    assert world.node("n0").dropped.get("bad_relay_message") == 1
    assert world.node("n1").dropped.get(unknown) == 1, "a real response is still relayed"
