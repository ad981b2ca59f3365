"""A deadline queue keyed by name: the core's replacement for goroutine timers.

Every Go ``time.AfterFunc``/ticker becomes one key in a :class:`TimerQueue`. Scheduling a key
again replaces its earlier deadline; cancelling removes it. Entries live in a heap with lazy
deletion: a replaced or cancelled entry stays in the heap and is skipped when it surfaces, which
keeps every operation ``O(log n)``. Keys that fall due at the same instant come out in the order
they were scheduled, so a late ``handle_timer(now)`` catches up deterministically.

Times are absolute seconds on the caller's monotonic clock (the ``now`` every input carries).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["TimerQueue"]

K = TypeVar("K", bound=Hashable)


class TimerQueue(Generic[K]):
    """Named deadlines; ``pop_due(now)`` returns the keys whose deadline has passed.

    ``K`` is the type of the keys (memberlist uses its deadline records, see
    ``serf_proto.memberlist.deadlines``). Each scheduling gets a sequence number; the heap
    entries whose number is still live are the valid ones, so finding the next deadline never
    hashes a key."""

    __slots__ = ("_heap", "_live", "_seq", "_valid")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._live: dict[K, tuple[float, int]] = {}
        self._valid: set[int] = set()
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def schedule(self, key: K, at: float) -> None:
        """Fire ``key`` at absolute time ``at`` (seconds), replacing any earlier deadline."""
        self._seq += 1
        seq = self._seq
        live = self._live
        entry = (at, seq)
        old = live.setdefault(key, entry)
        if old is not entry:  # a replacement: the earlier heap entry is no longer valid
            self._valid.discard(old[1])
            live[key] = entry
        self._valid.add(seq)
        heapq.heappush(self._heap, (at, seq, key))
        if len(self._heap) > 64 and len(self._heap) > 4 * len(live):
            self._compact()

    def cancel(self, key: K) -> bool:
        """Forget ``key``; returns whether it was scheduled."""
        entry = self._live.pop(key, None)
        if entry is None:
            return False
        self._valid.discard(entry[1])
        return True

    def deadline(self, key: K) -> float | None:
        """The absolute deadline of ``key``, or None when it is not scheduled."""
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def next_deadline(self) -> float | None:
        """The earliest live deadline (seconds), or None when nothing is scheduled."""
        heap = self._heap
        valid = self._valid
        while heap:
            entry = heap[0]
            if entry[1] in valid:
                return entry[0]
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> list[K]:
        """Remove and return every key due at or before ``now``, in deadline order."""
        heap = self._heap
        valid = self._valid
        due: list[K] = []
        while heap and heap[0][0] <= now:
            _, seq, key = heapq.heappop(heap)
            if seq in valid:
                valid.discard(seq)
                del self._live[key]
                due.append(key)
        return due

    def clear(self) -> None:
        """Cancel every deadline."""
        self._heap.clear()
        self._live.clear()
        self._valid.clear()

    def _compact(self) -> None:
        live = self._live
        self._heap = [(at, seq, key) for key, (at, seq) in live.items()]
        heapq.heapify(self._heap)
