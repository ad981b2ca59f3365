"""Receiver-side event coalescing as pure timers (Go ``serf/coalesce*.go``).

With coalescing on, a burst of member or user events is batched: the first event of a burst
opens a *coalesce period* (a hard upper bound on the delay) and every event restarts a
*quiescent period* (flush early once the burst goes quiet). Whichever deadline comes first
flushes the batch. Go runs this as a goroutine per kind with two ``time.After`` channels; here
each coalescer is plain data with two deadlines, and the owning node asks for
:meth:`Coalescer.deadline` and calls :meth:`Coalescer.flush_due` from its timer handler.

* Member events keep only the latest event type per member and skip a member whose type equals
  the last one flushed for it (updates always pass). One ``MemberEvent`` per type comes out.
* User events (only those sent with ``coalesce=True``) keep, per event name, the events with the
  highest Lamport time and drop older ones.

Flush order is deterministic (first appearance in the batch), unlike Go's map iteration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from serf_proto.events import MemberEvent, MemberEventType, UserEvent
from serf_proto.types import Member


@dataclass(slots=True)
class _Timers:
    coalesce_period: float
    quiescent_period: float
    quantum_at: float | None = None
    quiescent_at: float | None = None

    def touch(self, now: float) -> None:
        if self.quantum_at is None:
            self.quantum_at = now + self.coalesce_period
        self.quiescent_at = now + self.quiescent_period

    def deadline(self) -> float | None:
        times = [t for t in (self.quantum_at, self.quiescent_at) if t is not None]
        return min(times) if times else None

    def reset(self) -> None:
        self.quantum_at = None
        self.quiescent_at = None


@dataclass(slots=True)
class MemberEventCoalescer:
    """Batches member events; periods are in seconds."""

    coalesce_period: float
    quiescent_period: float
    _timers: _Timers = field(init=False)
    _latest: dict[str, tuple[MemberEventType, Member]] = field(default_factory=dict)
    _last_flushed: dict[str, MemberEventType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._timers = _Timers(self.coalesce_period, self.quiescent_period)

    def add(self, event: MemberEvent, now: float) -> None:
        """Buffer ``event`` (arriving at ``now``) and (re)arm the deadlines."""
        self._timers.touch(now)
        for m in event.members:
            self._latest.pop(m.name, None)  # re-insert: order by latest arrival
            self._latest[m.name] = (event.type, m)

    def deadline(self) -> float | None:
        """When the batch must be flushed (absolute seconds), or None when empty."""
        return self._timers.deadline()

    def flush_due(self, now: float) -> list[MemberEvent]:
        """The coalesced events if the deadline has passed, else nothing."""
        at = self.deadline()
        if at is None or now < at:
            return []
        return self.flush()

    def flush(self) -> list[MemberEvent]:
        """Emit the batch now (also used at shutdown)."""
        grouped: dict[MemberEventType, list[Member]] = {}
        for name, (etype, member) in self._latest.items():
            previous = self._last_flushed.get(name)
            if previous == etype and etype is not MemberEventType.UPDATE:
                continue
            self._last_flushed[name] = etype
            grouped.setdefault(etype, []).append(member)
        self._latest.clear()
        self._timers.reset()
        return [MemberEvent(t, tuple(ms)) for t, ms in grouped.items()]

    def forget(self, name: str) -> None:
        """Drop the flush history of a member that was reaped."""
        self._last_flushed.pop(name, None)


@dataclass(slots=True)
class UserEventCoalescer:
    """Batches coalescable user events per name; periods are in seconds."""

    coalesce_period: float
    quiescent_period: float
    _timers: _Timers = field(init=False)
    _latest: dict[str, tuple[int, list[UserEvent]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._timers = _Timers(self.coalesce_period, self.quiescent_period)

    @staticmethod
    def handles(event: UserEvent) -> bool:
        """Only events sent with ``coalesce=True`` are batched."""
        return event.coalesce

    def add(self, event: UserEvent, now: float) -> None:
        """Buffer ``event`` (arriving at ``now``) and (re)arm the deadlines."""
        self._timers.touch(now)
        latest = self._latest.get(event.name)
        if latest is None or latest[0] < event.ltime:
            self._latest[event.name] = (event.ltime, [event])
        elif latest[0] == event.ltime:
            latest[1].append(event)

    def deadline(self) -> float | None:
        """When the batch must be flushed (absolute seconds), or None when empty."""
        return self._timers.deadline()

    def flush_due(self, now: float) -> list[UserEvent]:
        """The coalesced events if the deadline has passed, else nothing."""
        at = self.deadline()
        if at is None or now < at:
            return []
        return self.flush()

    def flush(self) -> list[UserEvent]:
        """Emit the batch now (also used at shutdown)."""
        out = [e for _, events in self._latest.values() for e in events]
        self._latest.clear()
        self._timers.reset()
        return out
