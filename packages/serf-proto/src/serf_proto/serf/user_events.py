"""User-event de-duplication: the Lamport-indexed event ring (Go ``handleUserEvent``).

User events are gossiped, so every node sees each one several times. Serf keeps a ring of
``event_buffer`` slots indexed by ``ltime % size``; each slot holds the events seen at one
Lamport time. An event is new unless its slot already holds the same time with an event of the
same name and payload. Events older than the ring (``ltime < clock - size``) are refused as too
old, and events below ``min_time`` (set from a snapshot, or by a join that ignores old events)
are refused so a restarted or newly joined node does not replay history.

The ring is also what push/pull carries (``MessagePushPull.events``), which is how a node that
missed a gossip round still gets the event.

:class:`UserEvents` is the sub-machine around the ring: the ``user_event`` command (size
limits, the event clock, gossip on the event queue) and delivery of gossiped events into the
event pipeline. Refused events are counted by reason; too-old ones are also logged (Go's text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from serf_proto.drops import DropReason
from serf_proto.errors import PayloadTooLarge
from serf_proto.events import UserEvent
from serf_proto.serf.context import NodeContext
from serf_proto.wire import EventRecord, EventSlot, MessageUserEvent, encode_serf_message


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


class UserEvents:
    """One node's user events; see the module docstring. ``emit`` is the event pipeline and
    ``broadcast(raw, now)`` queues on the event lane."""

    __slots__ = ("_broadcast", "_ctx", "_emit", "buffer")

    def __init__(
        self,
        ctx: NodeContext,
        emit: Callable[[UserEvent, float], None],
        broadcast: Callable[[bytes, float], None],
    ) -> None:
        self._ctx = ctx
        self._emit = emit
        self._broadcast = broadcast
        self.buffer = EventBuffer(ctx.config.event_buffer)

    def send(self, name: str, payload: bytes, coalesce: bool, now: float) -> None:
        """The ``user_event`` command; raises ``PayloadTooLarge`` over the size limits."""
        ctx = self._ctx
        limit = ctx.config.user_event_size_limit
        size = len(name.encode()) + len(payload)
        if size > limit:
            raise PayloadTooLarge(
                f"user event exceeds configured limit of {limit} bytes before encoding"
            )
        msg = MessageUserEvent(ctx.event_clock.time(), name, payload, coalesce)
        raw = encode_serf_message(msg)
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"encoded user event exceeds configured limit of {limit} bytes after encoding"
            )
        ctx.event_clock.increment()
        self.receive(msg, now)
        self._broadcast(raw, now)

    def receive(self, msg: MessageUserEvent, now: float) -> bool:
        """A user event arrived (gossip, push/pull, or our own); returns whether it was new."""
        ctx = self._ctx
        clock = ctx.event_clock
        clock.witness(msg.ltime)
        verdict = self.buffer.admit(msg.ltime, msg.name, msg.payload, clock.time())
        if verdict is EventVerdict.TOO_OLD:
            ctx.log.warning(
                "received old event %s from time %d (current: %d)",
                msg.name,
                msg.ltime,
                clock.time(),
            )
            ctx.stats.drop(DropReason.OLD_EVENT)
            return False
        if verdict is EventVerdict.BEFORE_MIN_TIME:
            ctx.stats.drop(DropReason.EVENT_BEFORE_MIN_TIME)
            return False
        if verdict is EventVerdict.DUPLICATE:
            return False
        ctx.stats.count("events")
        self._emit(UserEvent(msg.ltime, msg.name, msg.payload, msg.cc), now)
        return True
