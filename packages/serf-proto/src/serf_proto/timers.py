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
    ``serf_proto.memberlist.deadlines``)."""

    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._live: dict[K, tuple[float, int]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def schedule(self, key: K, at: float) -> None:
        """Fire ``key`` at absolute time ``at`` (seconds), replacing any earlier deadline."""
        self._seq += 1
        entry = (at, self._seq)
        self._live[key] = entry
        heapq.heappush(self._heap, (at, self._seq, key))
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._live):
            self._compact()

    def cancel(self, key: K) -> bool:
        """Forget ``key``; returns whether it was scheduled."""
        return self._live.pop(key, None) is not None

    def deadline(self, key: K) -> float | None:
        """The absolute deadline of ``key``, or None when it is not scheduled."""
        entry = self._live.get(key)
        return None if entry is None else entry[0]

    def next_deadline(self) -> float | None:
        """The earliest live deadline (seconds), or None when nothing is scheduled."""
        heap = self._heap
        live = self._live
        while heap:
            at, seq, key = heap[0]
            if live.get(key) == (at, seq):
                return at
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> list[K]:
        """Remove and return every key due at or before ``now``, in deadline order."""
        heap = self._heap
        live = self._live
        due: list[K] = []
        while heap and heap[0][0] <= now:
            at, seq, key = heapq.heappop(heap)
            if live.get(key) == (at, seq):
                del live[key]
                due.append(key)
        return due

    def clear(self) -> None:
        """Cancel every deadline."""
        self._heap.clear()
        self._live.clear()

    def _compact(self) -> None:
        live = self._live
        self._heap = [(at, seq, key) for key, (at, seq) in live.items()]
        heapq.heapify(self._heap)
