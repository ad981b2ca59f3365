"""Lamport clocks (Go ``serf/lamport.go``).

Serf keeps three independent clocks: the member clock (join/leave intents), the event clock
(user events) and the query clock (queries). Each is a plain counter; the core is
single-threaded, so no atomics are needed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class LamportClock:
    """A 64-bit Lamport counter that never goes backwards."""

    counter: int = 0

    def time(self) -> int:
        """The current value."""
        return self.counter

    def increment(self) -> int:
        """Advance by one and return the new value."""
        self.counter += 1
        return self.counter

    def witness(self, value: int) -> None:
        """Observe a remote time: move to ``value + 1`` unless we are already past it."""
        if value < self.counter:
            return
        self.counter = value + 1


@dataclass(frozen=True, slots=True)
class Clocks:
    """A read-only view of the three clocks (``serf info``: member/event/query time)."""

    member: int
    event: int
    query: int
