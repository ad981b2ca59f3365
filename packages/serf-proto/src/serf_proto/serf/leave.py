"""The graceful leave as a phase machine (Go's blocking ``Serf.Leave``).

::

    BROADCAST ──intent sent often enough / broadcast_timeout──▶ MEMBERLIST
    MEMBERLIST ──memberlist's LeaveCompleted──▶ PROPAGATE
    PROPAGATE ──leave_propagate_delay──▶ done: state LEFT, ``LeaveCompleted(op, error)``

The node has already gossiped our leave intent when :meth:`LeaveMachine.start` runs; with no
alive peer there is nobody to tell and the broadcast phase is skipped. Each phase's timer
carries the leave op (:mod:`serf_proto.serf.timers`); :func:`timer_applies` is the verdict
whether a fired timer still belongs to the current phase. A timeout in the broadcast phase is
logged and becomes the completion's error; so does a failed memberlist leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from serf_proto.events import LeaveCompleted
from serf_proto.serf.context import NodeContext, SerfState
from serf_proto.serf.timers import LeaveBroadcastDone, LeaveDone, LeaveTimeout

__all__ = ["LeaveMachine", "LeaveOp", "LeavePhase", "timer_applies"]

_TIMEOUT = "timeout while waiting for graceful leave"


class LeavePhase(Enum):
    """Where a graceful leave is."""

    BROADCAST = "broadcast"
    MEMBERLIST = "memberlist"
    PROPAGATE = "propagate"


@dataclass(slots=True)
class LeaveOp:
    """The running leave: its op id, phase, and the error its completion will carry."""

    op: int
    phase: LeavePhase
    error: str | None = None


LeaveTimer = LeaveBroadcastDone | LeaveTimeout | LeaveDone


def timer_applies(leave: LeaveOp | None, timer: LeaveTimer) -> bool:
    """Whether ``timer`` belongs to the current leave and phase (else it is stale)."""
    if leave is None or leave.op != timer.op:
        return False
    if isinstance(timer, LeaveDone):
        return True
    return leave.phase is LeavePhase.BROADCAST


class LeaveMachine:
    """One node's graceful leave; see the module docstring."""

    __slots__ = ("_ctx", "_leave")

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._leave: LeaveOp | None = None

    @property
    def phase(self) -> LeavePhase | None:
        """The current phase, or None when no leave runs."""
        return None if self._leave is None else self._leave.phase

    def start(self, op: int, intent_queued: bool, now: float) -> None:
        """Begin leave ``op``; ``intent_queued`` says whether our intent is being gossiped."""
        self._leave = LeaveOp(op, LeavePhase.BROADCAST)
        if intent_queued:
            self._ctx.timers.schedule(LeaveTimeout(op), now + self._ctx.config.broadcast_timeout)
        else:
            self._leave_memberlist(now)

    def intent_sent(self, now: float) -> None:
        """Our leave intent went out often enough (its broadcast finished)."""
        leave = self._leave
        if leave is not None and leave.phase is LeavePhase.BROADCAST:
            self._ctx.timers.schedule(LeaveBroadcastDone(leave.op), now)

    def memberlist_left(self, done: LeaveCompleted, now: float) -> bool:
        """Memberlist's leave completed; False when it was not ours to wait for."""
        leave = self._leave
        if leave is None or leave.phase is not LeavePhase.MEMBERLIST:
            return False
        if done.error:
            self._ctx.log.warning("Failed to leave memberlist: %s", done.error)
            leave.error = leave.error or done.error
        leave.phase = LeavePhase.PROPAGATE
        self._ctx.timers.schedule(LeaveDone(leave.op), now + self._ctx.config.leave_propagate_delay)
        return True

    def on_timer(self, timer: LeaveTimer, now: float) -> bool:
        """A leave timer fired; False when it was stale (nothing done)."""
        leave = self._leave
        if leave is None or not timer_applies(leave, timer):
            return False
        ctx = self._ctx
        if isinstance(timer, LeaveBroadcastDone):
            self._leave_memberlist(now)
        elif isinstance(timer, LeaveTimeout):
            ctx.log.warning(_TIMEOUT)
            leave.error = _TIMEOUT
            self._leave_memberlist(now)
        else:
            self._leave = None
            if ctx.state is not SerfState.SHUTDOWN:
                ctx.state = SerfState.LEFT
            ctx.out.append(LeaveCompleted(leave.op, leave.error))
        return True

    def _leave_memberlist(self, now: float) -> None:
        leave = self._leave
        if leave is None:
            return
        ctx = self._ctx
        ctx.timers.cancel(LeaveTimeout(leave.op))
        leave.phase = LeavePhase.MEMBERLIST
        ctx.ml.leave(ctx.config.broadcast_timeout, now)
