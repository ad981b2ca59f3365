"""The alive/suspect/dead precedence rules as a table (Go state.go)."""

from __future__ import annotations

import pytest
from serf_proto.memberlist.rules import (
    Verdict,
    alive_verdict,
    dead_verdict,
    resend_accusation,
    suspect_verdict,
    unprobed_push_pull,
)
from serf_proto.serf.joins import heal_phase, heal_probability, reconnect_probability
from serf_proto.types import NodeState

A, S, D, L = NodeState.ALIVE, NodeState.SUSPECT, NodeState.DEAD, NodeState.LEFT


def alive(
    state: NodeState | None,
    known: int,
    inc: int,
    *,
    local: bool = False,
    moved: bool = False,
    reclaim: bool = False,
    bootstrap: bool = False,
    identical: bool = False,
) -> Verdict:
    return alive_verdict(
        known_state=state,
        known_incarnation=known,
        incarnation=inc,
        is_local=local,
        address_changed=moved,
        can_reclaim=reclaim,
        bootstrap=bootstrap,
        identical_to_local=identical,
    )


@pytest.mark.parametrize(
    ("case", "verdict"),
    [
        (alive(None, 0, 1), Verdict.APPLY),  # a new node
        (alive(A, 3, 4), Verdict.APPLY),  # newer incarnation
        (alive(A, 3, 3), Verdict.IGNORE),  # same incarnation: old news
        (alive(S, 3, 3), Verdict.IGNORE),  # a suspect node needs a newer alive
        (alive(S, 3, 4), Verdict.APPLY),
        (alive(D, 3, 4), Verdict.APPLY),  # a dead node comes back
        (alive(A, 3, 2), Verdict.IGNORE),
        (alive(A, 3, 9, moved=True), Verdict.CONFLICT),  # another node claims the name
        (alive(D, 3, 9, moved=True), Verdict.CONFLICT),  # dead, not reclaimable
        (alive(D, 3, 1, moved=True, reclaim=True), Verdict.APPLY),  # reclaimed after a while
        (alive(L, 3, 1, moved=True), Verdict.APPLY),  # a left node may move
        (alive(A, 3, 3, local=True, identical=True), Verdict.IGNORE),  # our own echo
        (alive(A, 3, 3, local=True), Verdict.REFUTE),  # someone else's meta for us
        (alive(A, 3, 5, local=True), Verdict.REFUTE),  # a higher incarnation about us
        (alive(A, 3, 2, local=True), Verdict.IGNORE),
        (alive(A, 3, 4, local=True, bootstrap=True), Verdict.APPLY),  # our own update
    ],
)
def test_alive_precedence(case: Verdict, verdict: Verdict) -> None:
    assert case is verdict


def suspect(
    state: NodeState | None, known: int, inc: int, *, local: bool = False, suspected: bool = False
) -> Verdict:
    return suspect_verdict(
        known_state=state,
        known_incarnation=known,
        incarnation=inc,
        is_local=local,
        suspected=suspected,
    )


@pytest.mark.parametrize(
    ("case", "verdict"),
    [
        (suspect(None, 0, 1), Verdict.IGNORE),  # unknown node
        (suspect(A, 3, 2), Verdict.IGNORE),  # stale
        (suspect(A, 3, 3), Verdict.APPLY),
        (suspect(A, 3, 4), Verdict.APPLY),
        (suspect(S, 3, 3, suspected=True), Verdict.CONFIRM),  # Lifeguard confirmation
        (suspect(D, 3, 3), Verdict.IGNORE),  # only alive nodes become suspect
        (suspect(L, 3, 3), Verdict.IGNORE),
        (suspect(A, 3, 3, local=True), Verdict.REFUTE),
    ],
)
def test_suspect_precedence(case: Verdict, verdict: Verdict) -> None:
    assert case is verdict


def dead(
    state: NodeState | None, known: int, inc: int, *, local: bool = False, leaving: bool = False
) -> Verdict:
    return dead_verdict(
        known_state=state,
        known_incarnation=known,
        incarnation=inc,
        is_local=local,
        leaving=leaving,
    )


@pytest.mark.parametrize(
    ("case", "verdict"),
    [
        (dead(None, 0, 1), Verdict.IGNORE),
        (dead(A, 3, 2), Verdict.IGNORE),
        (dead(A, 3, 3), Verdict.APPLY),
        (dead(S, 3, 3), Verdict.APPLY),
        (dead(D, 3, 4), Verdict.IGNORE),  # already dead
        (dead(L, 3, 4), Verdict.IGNORE),
        (dead(A, 3, 3, local=True), Verdict.REFUTE),
        (dead(A, 3, 3, local=True, leaving=True), Verdict.APPLY),  # our own leave
    ],
)
def test_dead_precedence(case: Verdict, verdict: Verdict) -> None:
    assert case is verdict


# -- pyserf's self-healing rules -------------------------------------------------------------


def resend(
    state: NodeState | None,
    known: int,
    inc: int,
    *,
    local: bool = False,
    since: float | None = None,
) -> bool:
    return resend_accusation(
        known_state=state,
        known_incarnation=known,
        incarnation=inc,
        is_local=local,
        since_last=since,
        min_gap=1.0,
    )


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (resend(D, 5, 1), True),  # a restarted node, below the accusation: tell it
        (resend(D, 5, 5), True),  # equal: it has not refuted yet
        (resend(S, 3, 3), True),  # suspect likewise
        (resend(D, 5, 6), False),  # newer: the alive wins, nothing to resend
        (resend(A, 5, 1), False),  # held alive: no accusation to resend
        (resend(L, 5, 1), False),  # left: a leave is not an accusation
        (resend(None, 0, 1), False),  # unknown node
        (resend(D, 5, 1, local=True), False),  # about ourselves: the refute path handles it
        (resend(D, 5, 1, since=0.5), False),  # sent one less than min_gap ago
        (resend(D, 5, 1, since=1.0), True),  # and again after min_gap
    ],
)
def test_a_stale_alive_about_an_accused_node_earns_it_the_accusation(
    case: bool, expected: bool
) -> None:
    assert case is expected


@pytest.mark.parametrize(
    ("since", "rounds", "peers", "expected"),
    [
        (7.9, 8, True, False),  # pinged recently enough
        (8.0, 8, True, True),  # eight probe intervals without a ping: peers lost us
        (100.0, 0, True, False),  # rule off (Go)
        (100.0, 8, False, False),  # alone: nobody could ping us
    ],
)
def test_a_node_nobody_pings_pushes_and_pulls(
    since: float, rounds: int, peers: bool, expected: bool
) -> None:
    assert (
        unprobed_push_pull(since_pinged=since, probe_interval=1.0, rounds=rounds, has_peers=peers)
        is expected
    )


def test_reconnect_probability_bounds_the_heal_pings() -> None:
    # One failed member among 99 alive: each node pings with 1/99, so the cluster sends
    # about one ping per heal interval; a half-and-half split pings from every node.
    assert reconnect_probability(1, 99) == pytest.approx(1 / 99)
    assert reconnect_probability(50, 50) == 1.0
    assert reconnect_probability(3, 0) == 3.0  # no alive: always try


@pytest.mark.parametrize(
    ("failed", "alive", "since", "expected"),
    [
        (1, 99, None, 1 / 99),  # the cluster agrees: about one ping per tick for the member
        (50, 50, None, 1.0),  # half the cluster is failed: every node pings
        (3, 97, 10.0, 1.0),  # a failed member just came back: search eagerly
        (3, 97, 30.0, 3 / 97),  # long enough ago: throttled again
    ],
)
def test_heal_pings_are_throttled_unless_a_heal_is_under_way(
    failed: int, alive: int, since: float | None, expected: float
) -> None:
    assert heal_probability(failed, alive, since, 30.0) == pytest.approx(expected)


def test_heal_ticks_of_nodes_started_together_are_spread_over_the_interval() -> None:
    phases = [heal_phase(f"n{i}", 2.0) for i in range(100)]
    assert all(0.0 < p <= 2.0 for p in phases)
    assert len({round(p, 3) for p in phases}) > 90
    assert heal_phase("n1", 2.0) == heal_phase("n1", 2.0)  # no random draw: deterministic
