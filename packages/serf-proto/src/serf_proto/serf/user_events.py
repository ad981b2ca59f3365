"""User-event de-duplication: the Lamport-indexed event ring (Go ``handleUserEvent``).

User events are gossiped, so every node sees each one several times. Serf keeps a ring of
``event_buffer`` slots indexed by ``ltime % size``; each slot holds the events seen at one
Lamport time. An event is new unless its slot already holds the same time with an event of the
same name and payload. Events older than the ring (``ltime < clock - size``) are refused as too
old, and events below ``min_time`` (set from a snapshot, or by a join that ignores old events)
are refused so a restarted or newly joined node does not replay history.

The ring is also what push/pull carries (``MessagePushPull.events``), which is how a node that
missed a gossip round still gets the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from serf_proto.wire import EventRecord, EventSlot


class EventVerdict(Enum):
    """What the ring decided about an incoming event."""

    NEW = "new"
    DUPLICATE = "duplicate"
    TOO_OLD = "too-old"
    BEFORE_MIN_TIME = "before-min-time"


@dataclass(slots=True)
class _Slot:
    ltime: int
    events: list[EventRecord]


@dataclass(slots=True)
class EventBuffer:
    """The ring of recently seen user events; ``size`` slots (Go ``EventBuffer``)."""

    size: int
    min_time: int = 0
    _slots: list[_Slot | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("event buffer size must be at least 1")
        self._slots = [None] * self.size

    def admit(self, ltime: int, name: str, payload: bytes, clock_time: int) -> EventVerdict:
        """Record the event if it is new. ``clock_time`` is the event clock after witnessing."""
        if ltime < self.min_time:
            return EventVerdict.BEFORE_MIN_TIME
        if clock_time > self.size and ltime < clock_time - self.size:
            return EventVerdict.TOO_OLD
        index = ltime % self.size
        slot = self._slots[index]
        if slot is not None and slot.ltime == ltime:
            for e in slot.events:
                if e.name == name and e.payload == payload:
                    return EventVerdict.DUPLICATE
        else:
            slot = _Slot(ltime, [])
            self._slots[index] = slot
        slot.events.append(EventRecord(name, payload))
        return EventVerdict.NEW

    def snapshot(self) -> tuple[EventSlot | None, ...]:
        """The whole ring as push/pull carries it (empty slots as None)."""
        return tuple(
            None if s is None else EventSlot(s.ltime, tuple(s.events)) for s in self._slots
        )
