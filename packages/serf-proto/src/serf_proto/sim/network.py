"""The simulated network: loss, latency with jitter, duplication, per-link overrides, partitions.

Every datagram asks :meth:`Network.delays` for its fate: an empty list means it was lost, one
delay per copy otherwise (duplication yields two). Jitter is drawn per copy, so packets on the
same link overtake each other as on a real network. Links can be overridden one direction at a
time (asymmetric loss or latency). A partition splits nodes into groups that cannot reach each
other until :meth:`heal`. Streams use the same latency and fail across a partition. By default
they lose nothing; with ``tcp_loss=True`` the link loss shows up as TCP retransmission delays
(SYNs after 1, 2, 4 ... s; data after 0.2 s, doubling), which matters when the TCP fallback
ping competes with the probe deadline.

All randomness comes from the network's own ``random.Random``, so adding nodes or changing what
nodes do never shifts the loss pattern seen by unrelated traffic in a different way than the
order of sends does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["LinkSpec", "Network"]

#: TCP's minimum retransmission timeout, its first SYN timeout and SYN retries (Linux).
TCP_MIN_RTO = 0.2
TCP_SYN_RTO = 1.0
TCP_SYN_RETRIES = 6
#: Stop adding retransmissions to a stream chunk after this long (the peer gives up anyway).
TCP_GIVE_UP = 120.0


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """How one direction of a link behaves.

    Attributes:
        loss: probability in [0, 1] that a datagram is dropped.
        latency: one-way base delay in seconds.
        jitter: extra delay drawn uniformly from [0, jitter) seconds per datagram.
        duplicate: probability that a datagram is delivered twice.
    """

    loss: float = 0.0
    latency: float = 0.001
    jitter: float = 0.0
    duplicate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss <= 1.0 or not 0.0 <= self.duplicate <= 1.0:
            raise ValueError("loss and duplicate are probabilities in [0, 1]")
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must not be negative")


class Network:
    """Link behaviour between named nodes (see the module docstring)."""

    __slots__ = ("_group", "_links", "default", "rng", "tcp_loss")

    def __init__(
        self, rng: random.Random, default: LinkSpec | None = None, *, tcp_loss: bool = False
    ) -> None:
        self.rng = rng
        self.default = default if default is not None else LinkSpec()
        self.tcp_loss = tcp_loss
        self._links: dict[tuple[str, str], LinkSpec] = {}
        self._group: dict[str, int] = {}

    def set_default(self, spec: LinkSpec) -> None:
        """Use ``spec`` for every link without an override."""
        self.default = spec

    def set_link(self, src: str, dst: str, spec: LinkSpec, *, symmetric: bool = True) -> None:
        """Override the link ``src → dst`` (and ``dst → src`` when ``symmetric``)."""
        self._links[(src, dst)] = spec
        if symmetric:
            self._links[(dst, src)] = spec

    def clear_link(self, src: str, dst: str, *, symmetric: bool = True) -> None:
        """Drop the override of ``src → dst`` (and the reverse when ``symmetric``)."""
        self._links.pop((src, dst), None)
        if symmetric:
            self._links.pop((dst, src), None)

    def link(self, src: str, dst: str) -> LinkSpec:
        """The behaviour of ``src → dst``."""
        if self._links:
            return self._links.get((src, dst), self.default)
        return self.default

    def partition(self, *groups: list[str] | set[str] | tuple[str, ...]) -> None:
        """Split the network: nodes in different groups cannot reach each other.

        Nodes named in no group form one more group together.
        """
        self._group = {}
        for i, group in enumerate(groups, start=1):
            for name in group:
                self._group[name] = i

    def heal(self) -> None:
        """Remove the partition."""
        self._group = {}

    def reachable(self, src: str, dst: str) -> bool:
        """Whether ``src`` and ``dst`` are on the same side of the partition."""
        group = self._group
        if not group:
            return True
        return group.get(src, 0) == group.get(dst, 0)

    def delays(self, src: str, dst: str) -> list[float]:
        """One delay (seconds) per delivered copy of a datagram; empty when it is lost."""
        if self._group and not self.reachable(src, dst):
            return []
        spec = self._links.get((src, dst), self.default) if self._links else self.default
        rand = self.rng.random
        if spec.loss and rand() < spec.loss:
            return []
        first = spec.latency + (rand() * spec.jitter if spec.jitter else 0.0)
        if spec.duplicate and rand() < spec.duplicate:
            return [first, spec.latency + (rand() * spec.jitter if spec.jitter else 0.0)]
        return [first]

    def stream_delay(self, src: str, dst: str) -> float | None:
        """One-way delay of a chunk of stream bytes, or None when ``dst`` is unreachable.

        With ``tcp_loss``, loss costs retransmissions as in TCP: each lost copy adds the
        retransmission timeout (0.2 s, doubling up to 60 s).
        """
        if self._group and not self.reachable(src, dst):
            return None
        spec = self.link(src, dst)
        rand = self.rng.random
        delay = spec.latency + (rand() * spec.jitter if spec.jitter else 0.0)
        rto = TCP_MIN_RTO
        while self.tcp_loss and spec.loss and rand() < spec.loss and delay < TCP_GIVE_UP:
            delay += rto
            rto = min(rto * 2, 60.0)
        return delay

    def connect_delay(self, src: str, dst: str) -> float | None:
        """Seconds until a connection from ``src`` reaches ``dst``, or None when it never can.

        With ``tcp_loss``, a lost SYN or SYN-ACK is retried after 1, 2, 4 ... s, as Linux does.
        """
        if self._group and not self.reachable(src, dst):
            return None
        forward = self.link(src, dst)
        backward = self.link(dst, src)
        rand = self.rng.random
        waited = 0.0
        rto = TCP_SYN_RTO
        for _ in range(TCP_SYN_RETRIES + 1):
            lost = self.tcp_loss and (
                (forward.loss and rand() < forward.loss)
                or (backward.loss and rand() < backward.loss)
            )
            if not lost:
                jitter = rand() * forward.jitter if forward.jitter else 0.0
                return waited + forward.latency + jitter
            waited += rto
            rto *= 2
        return None
