"""Memberlist deadlines are data: each carries what makes it stale, and a stale one is a
counted no-op."""

from __future__ import annotations

import random

from serf_proto.config import MemberlistConfig
from serf_proto.memberlist import NullDelegate
from serf_proto.memberlist.awareness import Awareness
from serf_proto.memberlist.context import Context
from serf_proto.memberlist.deadlines import (
    ProbeEnd,
    ProbeTimeout,
    SuspicionExpiry,
    next_tick,
    tick_after,
)
from serf_proto.memberlist.gossip import Gossip
from serf_proto.memberlist.membership import Membership
from serf_proto.memberlist.table import NodeTable
from serf_proto.types import NodeState
from serf_proto.wire.messages import Alive, Suspect


def _machines() -> tuple[Context, NodeTable, Membership]:
    rng = random.Random(5)
    config = MemberlistConfig.lan("me", bind_addr="10.0.0.1")
    ctx = Context(config, NullDelegate(), rng, rng.randbytes, None)
    table = NodeTable("me")
    membership = Membership(ctx, table, Gossip(ctx, table), Awareness(8))
    membership.set_alive(0.0)
    return ctx, table, membership


def test_deadlines_are_equal_by_value_and_differ_by_kind() -> None:
    assert ProbeTimeout(3) == ProbeTimeout(3) and hash(ProbeTimeout(3)) == hash(ProbeTimeout(3))
    assert ProbeTimeout(3) != ProbeEnd(3)
    assert SuspicionExpiry("a", 1) != SuspicionExpiry("a", 2)


def test_a_suspicion_deadline_of_an_earlier_incarnation_is_a_counted_no_op() -> None:
    ctx, table, membership = _machines()
    peer = bytes((10, 0, 0, 2))
    membership.alive(Alive(1, "p", peer, 7946, b"", bytes((1, 5, 2, 2, 5, 4))), 0.0)
    membership.suspect(Suspect(1, "p", "q"), 1.0)
    membership.alive(Alive(2, "p", peer, 7946, b"", bytes((1, 5, 2, 2, 5, 4))), 2.0)
    membership.suspect(Suspect(2, "p", "q"), 3.0)
    assert ctx.timers.deadline(SuspicionExpiry("p", 1)) is None  # refuted: cancelled
    membership.suspicion_expired(SuspicionExpiry("p", 1), 60.0)
    assert ctx.stats.stale_timers == 1
    assert table.get("p").state == NodeState.SUSPECT  # type: ignore[union-attr]
    membership.suspicion_expired(SuspicionExpiry("p", 2), 60.0)
    assert ctx.stats.stale_timers == 1
    assert table.get("p").state == NodeState.DEAD  # type: ignore[union-attr]


def test_tickers_keep_their_phase_and_skip_missed_ticks() -> None:
    assert next_tick(1.0, 1.5, 1.0) == 2.0
    assert next_tick(1.0, 4.2, 1.0) == 5.0  # ticks at 2, 3, 4 were missed: no burst
    assert tick_after(1.0, 3.0, 1.0) == 4.0  # a parked ticker wakes strictly after now
