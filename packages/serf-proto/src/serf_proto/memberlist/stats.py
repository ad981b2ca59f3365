"""Counters the membership core keeps (read by ``Memberlist.stats``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from serf_proto.drops import DropReason

__all__ = ["MemberlistStats"]


@dataclass(slots=True)
class MemberlistStats:
    """Monotonic counters since start; ``dropped`` maps a reason to a count.

    Attributes:
        probes_sent: direct probes started.
        probes_failed: probes that ended without any ack (the target became suspect).
        indirect_probes_sent: indirect ping requests sent to helpers.
        tcp_probes_sent: TCP fallback pings started.
        acks_received, nacks_received: acks/nacks matched to a live handler.
        suspicions: nodes moved from alive to suspect by this node.
        dead_declared: nodes declared dead by our own suspicion timeout.
        refutations: accusations about ourselves we refuted.
        push_pulls: push/pull exchanges completed (both directions).
        unprobed_push_pulls: push/pulls started because nobody pinged us for long (pyserf).
        accusations_resent: stale alives answered with the accusation we hold (pyserf).
        heal_pings_sent, heal_pings_answered: pings to failed members for self-healing
            (pyserf; ``Memberlist.ping_address``) and the acks they got.
        packets_in, bytes_in, packets_out, bytes_out: UDP traffic.
        messages_in: memberlist messages handled (a compound packet holds several).
        streams_in, streams_out: TCP streams accepted / opened.
        stale_timers: deadlines that fell due after what they guarded had moved on (no-ops).
        dropped: inputs dropped, by :class:`~serf_proto.drops.DropReason` (a ``StrEnum``
            whose values are the metric labels, e.g. ``checksum_mismatch``).
    """

    probes_sent: int = 0
    probes_failed: int = 0
    indirect_probes_sent: int = 0
    tcp_probes_sent: int = 0
    acks_received: int = 0
    nacks_received: int = 0
    suspicions: int = 0
    dead_declared: int = 0
    refutations: int = 0
    push_pulls: int = 0
    accusations_resent: int = 0
    unprobed_push_pulls: int = 0
    heal_pings_sent: int = 0
    heal_pings_answered: int = 0
    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    messages_in: int = 0
    streams_in: int = 0
    streams_out: int = 0
    stale_timers: int = 0
    dropped: Counter[DropReason] = field(default_factory=Counter)

    def drop(self, reason: DropReason, count: int = 1) -> None:
        """Count ``count`` dropped inputs."""
        self.dropped[reason] += count
