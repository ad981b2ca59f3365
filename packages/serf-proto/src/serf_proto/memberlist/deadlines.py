"""Memberlist's deadlines as data: one frozen record per kind of wait.

Go memberlist waits in goroutines (tickers, ``time.After`` in ``probeNode``, ``AfterFunc`` for
suspicions). Here each wait is a value in the node's :class:`~serf_proto.timers.TimerQueue`:
scheduling an equal value again moves its deadline, cancelling it forgets it. A value carries
what tells whether it still matters when it falls due (the probe's sequence number, the
stream's id, the suspected node's name and incarnation), so the sub-machine that owns it can
tell a stale deadline from a live one; a stale one is a no-op, counted in
``MemberlistStats.stale_timers``. ``Memberlist.handle_timer`` dispatches on the type with
``match`` and ``typing.assert_never``, so a new kind that nobody handles fails the type check.
Kinds without fields are singletons (the constants below); kinds with fields compare by value.

The three tickers (probe, gossip, push/pull) keep their phase: :func:`next_tick` is Go's
``time.Ticker``, which skips the ticks a late caller missed instead of firing them in a burst.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Deadline",
    "GossipTick",
    "GossipWake",
    "LeaveDeadline",
    "PingExpiry",
    "ProbeEnd",
    "ProbeTick",
    "ProbeTimeout",
    "PushPullTick",
    "RelayExpiry",
    "StreamDeadline",
    "SuspicionExpiry",
    "next_tick",
    "tick_after",
]


@dataclass(frozen=True, slots=True, eq=False)
class ProbeTick:
    """Time to probe the next node (every ``probe_interval``)."""


@dataclass(frozen=True, slots=True, eq=False)
class GossipTick:
    """Time to gossip queued broadcasts (every ``gossip_interval``, parked while idle)."""


@dataclass(frozen=True, slots=True, eq=False)
class GossipWake:
    """The delegate holds broadcasts while gossip is parked: resume the ticker."""


@dataclass(frozen=True, slots=True, eq=False)
class PushPullTick:
    """Time for a periodic push/pull (every scaled ``push_pull_interval``)."""


@dataclass(frozen=True, slots=True)
class ProbeTimeout:
    """Probe ``seq`` got no direct ack within ``probe_timeout``: go indirect."""

    seq: int


@dataclass(frozen=True, slots=True)
class ProbeEnd:
    """Probe ``seq`` reached the end of its (awareness-scaled) interval."""

    seq: int


@dataclass(frozen=True, slots=True)
class RelayExpiry:
    """The indirect ping we sent as ``seq`` for a peer got no ack: nack it."""

    seq: int


@dataclass(frozen=True, slots=True)
class PingExpiry:
    """The ping ``seq`` sent by ``Memberlist.ping_address`` got no ack in time."""

    seq: int


@dataclass(frozen=True, slots=True)
class SuspicionExpiry:
    """The suspicion of ``name`` at ``incarnation`` ran out: declare it dead."""

    name: str
    incarnation: int


@dataclass(frozen=True, slots=True)
class StreamDeadline:
    """Stream ``sid`` did not finish in time."""

    sid: int


@dataclass(frozen=True, slots=True, eq=False)
class LeaveDeadline:
    """Our leave broadcast was not gossiped out in time."""


Deadline = (
    ProbeTick
    | GossipTick
    | GossipWake
    | PushPullTick
    | ProbeTimeout
    | ProbeEnd
    | RelayExpiry
    | PingExpiry
    | SuspicionExpiry
    | StreamDeadline
    | LeaveDeadline
)

#: The kinds without fields are singletons, compared by identity (``eq=False``): always use
#: these instances. Their hash is then the C-level identity hash, which keeps the busiest
#: timer-queue lookups cheap.
PROBE_TICK = ProbeTick()
GOSSIP_TICK = GossipTick()
GOSSIP_WAKE = GossipWake()
PUSH_PULL_TICK = PushPullTick()
LEAVE_DEADLINE = LeaveDeadline()


def next_tick(prev: float, now: float, interval: float) -> float:
    """The tick after ``prev`` for a ticker that fired at ``now``, skipping missed ticks."""
    nxt = prev + interval
    if nxt <= now:
        nxt = prev + interval * (int((now - prev) / interval) + 1)
    return nxt


def tick_after(prev: float, now: float, interval: float) -> float:
    """The first tick strictly after ``now`` on the phase of ``prev`` (a parked ticker wakes)."""
    return prev + interval * (int((now - prev) / interval) + 1)
