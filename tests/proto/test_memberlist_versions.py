"""Protocol-version checks (Go verifyProtocol) and peer selection (Go kRandomNodes)."""

from __future__ import annotations

import random

import pytest
from serf_proto.memberlist.pushpull import encode_local_state, merge_news
from serf_proto.memberlist.selection import k_random_nodes
from serf_proto.memberlist.state import NodeRecord
from serf_proto.memberlist.versions import valid_alive_vsn, verify_protocol
from serf_proto.types import NodeState
from serf_proto.wire.messages import (
    Alive,
    Dead,
    PushNodeState,
    PushPull,
    Suspect,
    decode_stream_message,
)

SERF = bytes((1, 5, 2, 2, 5, 5))


def remote(name: str, vsn: bytes, state: int = 0) -> PushNodeState:
    return PushNodeState(name, b"\x0a\x00\x00\x01", 7946, b"", 1, state, vsn)


def local(name: str, vsn: tuple[int, int, int, int, int, int], state: NodeState) -> NodeRecord:
    return NodeRecord(name, b"\x0a\x00\x00\x02", 7946, b"", 1, state, vsn, 0.0)


def test_matching_serf_versions_merge() -> None:
    assert (
        verify_protocol([remote("b", SERF)], [local("a", (1, 5, 2, 2, 5, 5), NodeState.ALIVE)])
        is None
    )


def test_a_remote_entry_without_versions_fails_like_go() -> None:
    error = verify_protocol(
        [remote("nov", b"", state=2)], [local("a", (1, 5, 2, 2, 5, 5), NodeState.ALIVE)]
    )
    assert error == "Node 'nov' protocol version (0) is incompatible: [1, 5]"


def test_a_node_speaking_beyond_what_others_understand_fails() -> None:
    old = remote("old", bytes((1, 3, 3, 2, 5, 5)))
    new = local("new", (1, 5, 5, 2, 5, 5), NodeState.ALIVE)
    assert (
        verify_protocol([old], [new]) == "Node 'new' protocol version (5) is incompatible: [1, 3]"
    )


def test_delegate_versions_are_checked_too() -> None:
    error = verify_protocol(
        [remote("b", bytes((1, 5, 2, 2, 4, 4)))], [local("a", (1, 5, 2, 5, 5, 5), NodeState.ALIVE)]
    )
    assert error is not None and "delegate protocol version" in error


def test_dead_local_nodes_do_not_narrow_the_range_but_must_still_fit() -> None:
    dead_old = local("gone", (1, 2, 2, 2, 5, 5), NodeState.DEAD)
    assert verify_protocol([remote("b", SERF)], [dead_old]) is None
    dead_odd = local("odd", (1, 5, 9, 2, 5, 5), NodeState.DEAD)
    assert verify_protocol([remote("b", SERF)], [dead_odd]) is not None


@pytest.mark.parametrize(
    ("vsn", "ok"),
    [
        (b"", True),
        (SERF, True),
        (bytes((0, 5, 2, 2, 5, 5)), False),
        (bytes((3, 2, 2, 2, 5, 5)), False),
        (b"\x01\x05", False),
    ],
)
def test_alive_versions_are_sanity_checked(vsn: bytes, ok: bool) -> None:
    assert valid_alive_vsn(vsn) is ok


def test_k_random_nodes_returns_distinct_eligible_nodes() -> None:
    nodes = list(range(100))
    rng = random.Random(1)
    for _ in range(50):
        picked = k_random_nodes(nodes, 3, lambda n: n % 2 == 1, rng)
        assert len(set(picked)) == len(picked) <= 3
        assert all(n % 2 == 0 for n in picked)


def test_k_random_nodes_in_a_small_table_finds_every_eligible_node() -> None:
    nodes = ["self", "a", "dead", "b"]
    picked = k_random_nodes(nodes, 3, lambda n: n in ("self", "dead"), random.Random(4))
    assert sorted(picked) == ["a", "b"]


def test_k_random_nodes_depends_only_on_the_generator() -> None:
    nodes = list(range(1000))
    first = k_random_nodes(nodes, 4, lambda n: False, random.Random(9))
    again = k_random_nodes(nodes, 4, lambda n: False, random.Random(9))
    assert first == again and len(first) == 4


def test_a_peers_table_becomes_alive_leave_and_suspicion_news() -> None:
    states = [
        remote("up", SERF, state=0),
        remote("suspected", SERF, state=1),
        remote("dead", SERF, state=2),
        remote("gone", SERF, state=3),
    ]
    news = merge_news(states, "me")
    assert [type(n) for n in news] == [Alive, Suspect, Suspect, Dead]
    assert isinstance(news[1], Suspect) and news[1].from_node == "me"  # never taken as dead
    assert isinstance(news[3], Dead) and news[3].from_node == "gone"  # its own leave


def test_our_push_pull_encoding_is_reused_until_a_record_changes() -> None:
    rec = local("a", (1, 5, 2, 2, 5, 5), NodeState.ALIVE)
    first = encode_local_state([rec], b"user", True)
    cached = rec.wire_cache
    assert encode_local_state([rec], b"user", True) == first and rec.wire_cache is cached
    rec.incarnation = 7
    rec.wire_cache = None  # what the core does whenever it changes a record
    msg = decode_stream_message(encode_local_state([rec], b"user", True))
    assert (
        isinstance(msg, PushPull) and msg.states[0].incarnation == 7 and msg.user_state == b"user"
    )
