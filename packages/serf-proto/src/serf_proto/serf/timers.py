"""The Serf layer's timers as data.

Each Go goroutine or ``time.AfterFunc`` of the Serf layer is one frozen value here, used as
its key in the node's :class:`~serf_proto.timers.TimerQueue`: scheduling an equal value again
replaces its deadline. A timer carries what tells whether it still matters when it fires: a
query deadline names its op, a prune names its member, a leave phase names the leave op. The
node dispatches a fired timer with ``match`` over :data:`SerfTimer`; the machine that owns
it checks the carried fields against its state, and a timer whose op, member or phase has
moved on is a no-op that is counted (``SerfStats.stale_timers``) and logged at debug.

Periodic timers (reap, reconnect, heal, queue check, snapshot clock) reschedule themselves each time
they fire; shutdown clears them all.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CoalesceMember",
    "CoalesceUser",
    "Heal",
    "LeaveBroadcastDone",
    "LeaveDone",
    "LeaveTimeout",
    "PruneMember",
    "QueryDeadline",
    "QueueCheck",
    "Reap",
    "Reconnect",
    "SerfTimer",
    "SnapshotClock",
]


@dataclass(frozen=True, slots=True)
class Reap:
    """Periodic: erase members failed or left for too long, expire intents and unanswered
    queries (``reap_interval``)."""


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Periodic: maybe try one failed member again (``reconnect_interval``)."""


@dataclass(frozen=True, slots=True)
class Heal:
    """Periodic: while members are failed, maybe ping one and push/pull when it answers
    (``heal_interval``; pyserf self-healing)."""


@dataclass(frozen=True, slots=True)
class QueueCheck:
    """Periodic: warn about and prune over-long broadcast queues (``queue_check_interval``)."""


@dataclass(frozen=True, slots=True)
class SnapshotClock:
    """Periodic: record the member clock in the snapshot."""


@dataclass(frozen=True, slots=True)
class CoalesceMember:
    """The member-event coalescer's next flush."""


@dataclass(frozen=True, slots=True)
class CoalesceUser:
    """The user-event coalescer's next flush."""


@dataclass(frozen=True, slots=True)
class QueryDeadline:
    """Our query ``op`` closes; stale once it was closed otherwise."""

    op: int


@dataclass(frozen=True, slots=True)
class PruneMember:
    """Erase ``name`` after a pruning force-leave caught it leaving; stale once it is gone."""

    name: str


@dataclass(frozen=True, slots=True)
class LeaveBroadcastDone:
    """Leave ``op``'s intent went out often enough; stale past the broadcast phase."""

    op: int


@dataclass(frozen=True, slots=True)
class LeaveTimeout:
    """Leave ``op`` stops waiting for its intent (``broadcast_timeout``); stale past the
    broadcast phase."""

    op: int


@dataclass(frozen=True, slots=True)
class LeaveDone:
    """Leave ``op`` has waited ``leave_propagate_delay``; stale once it completed."""

    op: int


SerfTimer = (
    Reap
    | Reconnect
    | Heal
    | QueueCheck
    | SnapshotClock
    | CoalesceMember
    | CoalesceUser
    | QueryDeadline
    | PruneMember
    | LeaveBroadcastDone
    | LeaveTimeout
    | LeaveDone
)
