"""Lifeguard suspicion: a failure timeout that shrinks as independent peers agree.

When a node is first suspected we expect ``k`` further, independent accusations. With none,
the timer runs for ``maximum``; each new accuser (not the first one, never counted twice, at
most ``k``) moves the deadline closer to ``minimum`` on a logarithmic curve
(:func:`remaining_suspicion_time`). With ``k < 1`` the timer starts at ``minimum``. The
suspicion object only computes deadlines; the core keeps the timer itself in its
:class:`~serf_proto.timers.TimerQueue` and re-arms it with :attr:`Suspicion.deadline`.
"""

from __future__ import annotations

from serf_proto.memberlist.formulas import remaining_suspicion_time

__all__ = ["Suspicion"]


class Suspicion:
    """The suspicion of one node, started at ``start`` (seconds) by accuser ``origin``."""

    __slots__ = (
        "confirmations",
        "deadline",
        "incarnation",
        "k",
        "maximum",
        "minimum",
        "n",
        "start",
    )

    def __init__(
        self,
        origin: str,
        k: int,
        minimum: float,
        maximum: float,
        start: float,
        incarnation: int = 0,
    ) -> None:
        self.k = k
        self.minimum = minimum
        self.maximum = maximum
        self.start = start
        self.incarnation = incarnation
        self.n = 0
        self.confirmations = {origin}
        self.deadline = start + (maximum if k >= 1 else minimum)

    def confirm(self, accuser: str, now: float) -> bool:
        """Count ``accuser``; returns True (and moves :attr:`deadline`) if it was new.

        A deadline at or before ``now`` means the timer should fire at once.
        """
        if self.n >= self.k or accuser in self.confirmations:
            return False
        self.confirmations.add(accuser)
        self.n += 1
        remaining = remaining_suspicion_time(
            self.n, self.k, now - self.start, self.minimum, self.maximum
        )
        self.deadline = now + remaining
        return True
