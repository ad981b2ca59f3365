"""The event pipeline: snapshot records → internal queries → coalescers → outbox.

Every member event, user event and query this node delivers passes :meth:`EventPipeline.emit`
once, in this order:

1. **snapshot**: with snapshots on, the event becomes snapshot lines (a join records the
   member's address, a leave or failure forgets it, user events and queries advance the
   replay clocks) that leave as one ``SnapshotAppend`` output *before* the event itself;
2. **internal queries** (names starting ``_serf_``) go to the internal-query handler and never
   reach the application;
3. **coalescing**: with coalescing configured, member events and coalescable user events wait
   in their coalescer; the coalescer's deadline becomes a ``CoalesceMember``/``CoalesceUser``
   timer, and the timer's flush emits the merged events;
4. everything else goes straight to the outbox.

The pipeline also owns the periodic snapshot clock record and the final flush on shutdown.
"""

from __future__ import annotations

from collections.abc import Callable

from serf_proto.events import MemberEvent, MemberEventType, Query, SnapshotAppend, UserEvent
from serf_proto.serf.coalesce import MemberEventCoalescer, UserEventCoalescer
from serf_proto.serf.context import NodeContext
from serf_proto.serf.members import MemberState
from serf_proto.serf.query import INTERNAL_QUERY_PREFIX
from serf_proto.serf.snapshot import (
    CLOCK_UPDATE_INTERVAL,
    RecoveredState,
    Snapshotter,
    SnapshotUpdate,
)
from serf_proto.serf.timers import CoalesceMember, CoalesceUser, SnapshotClock

__all__ = ["EventPipeline"]


class EventPipeline:
    """Snapshot records, coalescing and emission of one node's events; see the module doc."""

    __slots__ = ("_ctx", "_internal", "_member_coalescer", "_snapshotter", "_user_coalescer")

    def __init__(
        self,
        ctx: NodeContext,
        recovered: RecoveredState | None,
        internal: Callable[[Query, float], None],
    ) -> None:
        config = ctx.config
        self._ctx = ctx
        self._internal = internal
        self._member_coalescer: MemberEventCoalescer | None = None
        if config.coalesce_period > 0 and config.quiescent_period > 0:
            self._member_coalescer = MemberEventCoalescer(
                config.coalesce_period, config.quiescent_period
            )
        self._user_coalescer: UserEventCoalescer | None = None
        if config.user_coalesce_period > 0 and config.user_quiescent_period > 0:
            self._user_coalescer = UserEventCoalescer(
                config.user_coalesce_period, config.user_quiescent_period
            )
        self._snapshotter: Snapshotter | None = None
        if config.snapshot:
            base = recovered if recovered is not None else RecoveredState()
            self._snapshotter = Snapshotter.resume(
                base, rejoin_after_leave=config.rejoin_after_leave
            )

    def start(self, now: float) -> None:
        """Schedule the periodic snapshot clock record (snapshots on only)."""
        if self._snapshotter is not None:
            self._ctx.timers.schedule(SnapshotClock(), now + CLOCK_UPDATE_INTERVAL)

    # ------------------------------------------------------------------------------------------
    # emission

    def emit(self, event: MemberEvent | UserEvent | Query, now: float) -> None:
        """Deliver one event through the stages of the module docstring."""
        snap = self._snapshotter
        if snap is not None:
            clock = self._ctx.clock.time()
            if isinstance(event, MemberEvent):
                for m in event.members:
                    if event.type is MemberEventType.JOIN:
                        self._append(snap.record_join(m.name, m.addr, clock))
                    elif event.type in (MemberEventType.LEAVE, MemberEventType.FAILED):
                        self._append(snap.record_gone(m.name, clock))
                    else:
                        self._append(snap.record_other_member_event(clock))
            elif isinstance(event, UserEvent):
                self._append(snap.record_user_event(event.ltime))
            else:
                self._append(snap.record_query(event.ltime))
        out = self._ctx.out
        if isinstance(event, Query):
            if event.name.startswith(INTERNAL_QUERY_PREFIX):
                self._internal(event, now)
                return
            out.append(event)
            return
        if isinstance(event, UserEvent):
            uc = self._user_coalescer
            if uc is not None and uc.handles(event):
                uc.add(event, now)
                at = uc.deadline()
                if at is not None:
                    self._ctx.timers.schedule(CoalesceUser(), at)
                return
            out.append(event)
            return
        mc = self._member_coalescer
        if mc is not None:
            mc.add(event, now)
            at = mc.deadline()
            if at is not None:
                self._ctx.timers.schedule(CoalesceMember(), at)
            return
        out.append(event)

    def member_event(self, etype: MemberEventType, member: MemberState, now: float) -> None:
        """Emit a member event about one member."""
        self.emit(MemberEvent(etype, (member.view(),)), now)

    def forget(self, name: str) -> None:
        """Drop a reaped member from the pending coalesced member events."""
        if self._member_coalescer is not None:
            self._member_coalescer.forget(name)

    # ------------------------------------------------------------------------------------------
    # snapshot records outside emission

    def record_leave(self) -> None:
        """Our graceful leave began (snapshots on only)."""
        if self._snapshotter is not None:
            self._append(self._snapshotter.record_leave())

    # ------------------------------------------------------------------------------------------
    # timers and shutdown

    def on_coalesce_member(self, now: float) -> None:
        """``CoalesceMember`` fired: emit the member events that are due."""
        if self._member_coalescer is not None:
            self._ctx.out.extend(self._member_coalescer.flush_due(now))

    def on_coalesce_user(self, now: float) -> None:
        """``CoalesceUser`` fired: emit the user events that are due."""
        if self._user_coalescer is not None:
            self._ctx.out.extend(self._user_coalescer.flush_due(now))

    def on_snapshot_clock(self, now: float) -> None:
        """``SnapshotClock`` fired: record the member clock and schedule the next record."""
        if self._snapshotter is not None:
            self._append(self._snapshotter.record_clock(self._ctx.clock.time()))
            self._ctx.timers.schedule(SnapshotClock(), now + CLOCK_UPDATE_INTERVAL)

    def flush_all(self) -> None:
        """Shutdown: emit every pending coalesced event (user events first, as Go does)."""
        if self._user_coalescer is not None:
            self._ctx.out.extend(self._user_coalescer.flush())
        if self._member_coalescer is not None:
            self._ctx.out.extend(self._member_coalescer.flush())

    def _append(self, update: SnapshotUpdate) -> None:
        if update.lines:
            self._ctx.out.append(SnapshotAppend(tuple(update.lines), compact=update.compact))
