"""Arrival curves: when each node reached a state, and how long until a share of nodes did."""

from __future__ import annotations

import math

__all__ = ["ArrivalCurve", "share_time"]


def share_time(times: list[float], population: int, share: float) -> float | None:
    """Seconds until ``share`` of ``population`` nodes arrived, given the sorted arrival
    ``times`` (seconds after the trigger); None if too few ever arrived."""
    if population <= 0:
        return None
    need = max(1, math.ceil(share * population - 1e-9))
    if need > len(times):
        return None
    return times[need - 1]


class ArrivalCurve:
    """First arrival time per node, relative to a trigger time (seconds)."""

    __slots__ = ("_first", "trigger")

    def __init__(self, trigger: float) -> None:
        self.trigger = trigger
        self._first: dict[str, float] = {}

    def arrive(self, node: str, at: float) -> None:
        """Record that ``node`` arrived at absolute time ``at`` (later arrivals are ignored)."""
        if node not in self._first:
            self._first[node] = max(0.0, at - self.trigger)

    def forget(self, node: str) -> None:
        """``node`` left the state again: its next arrival counts instead."""
        self._first.pop(node, None)

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, node: object) -> bool:
        return node in self._first

    def times(self, among: set[str] | None = None) -> list[float]:
        """Sorted arrival times (seconds after the trigger), of ``among`` only if given."""
        if among is None:
            return sorted(self._first.values())
        return sorted(t for n, t in self._first.items() if n in among)

    def at_share(
        self, population: int, share: float, among: set[str] | None = None
    ) -> float | None:
        """Seconds until ``share`` of ``population`` nodes arrived, or None."""
        return share_time(self.times(among), population, share)
