"""Lifeguard local health ("awareness"): how much to distrust our own timeliness.

A node that misses acks, or has to refute accusations about itself, may be the slow one (a
overloaded host, a GC stall). Its health score rises, and the probe deadlines it uses are
scaled by ``score + 1`` so it does not accuse healthy peers of its own slowness. Successful
probes lower the score again. The score lives in ``[0, max_multiplier - 1]``.
"""

from __future__ import annotations

__all__ = ["Awareness"]


class Awareness:
    """The health score; 0 is healthy (Go ``awareness``)."""

    __slots__ = ("max_multiplier", "score")

    def __init__(self, max_multiplier: int) -> None:
        self.max_multiplier = max_multiplier
        self.score = 0

    def apply_delta(self, delta: int) -> None:
        """Add ``delta`` to the score, clamped to ``[0, max_multiplier - 1]``."""
        self.score = min(max(self.score + delta, 0), self.max_multiplier - 1)

    def scale_timeout(self, timeout: float) -> float:
        """``timeout * (score + 1)`` in seconds."""
        return timeout * (self.score + 1)
