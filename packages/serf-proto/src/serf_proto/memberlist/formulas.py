"""The pure arithmetic of SWIM + Lifeguard, with Go's exact rounding.

All durations are float seconds. Where Go truncates (``time.Duration`` nanoseconds, or a scale
truncated to 1/1000), the same truncation happens here so the table tests can compare against
Go's values exactly.
"""

from __future__ import annotations

import math

from serf_proto.broadcast import retransmit_limit

__all__ = [
    "push_pull_scale",
    "remaining_suspicion_time",
    "retransmit_limit",
    "suspicion_timeout",
]

#: Above this many nodes the push/pull interval grows (Go ``pushPullScaleThreshold``).
PUSH_PULL_SCALE_THRESHOLD = 32


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def suspicion_timeout(suspicion_mult: int, n: int, interval: float) -> float:
    """Minimum suspicion timeout: ``mult * max(1, log10(max(1, n))) * interval`` (Go).

    Go truncates the node scale to thousandths before multiplying, and works in nanoseconds.
    """
    node_scale = max(1.0, math.log10(max(1.0, float(n))))
    ns = suspicion_mult * int(node_scale * 1000) * _ns(interval) // 1000
    return ns / 1e9


def remaining_suspicion_time(
    n: int, k: int, elapsed: float, minimum: float, maximum: float
) -> float:
    """Time left on a suspicion timer after ``n`` of ``k`` expected confirmations (Go).

    The timeout falls logarithmically from ``maximum`` towards ``minimum`` as confirmations
    arrive; it is floored to whole milliseconds, never below ``minimum``, and ``elapsed`` is
    subtracted (the result may be negative: the timer is overdue).
    """
    frac = math.log(n + 1.0) / math.log(k + 1.0)
    raw = maximum - frac * (maximum - minimum)
    timeout_ms = math.floor(1000.0 * raw)
    timeout = timeout_ms / 1000.0
    if timeout < minimum:
        timeout = minimum
    return timeout - elapsed


def push_pull_scale(interval: float, n: int) -> float:
    """Push/pull period for ``n`` nodes: ``interval`` up to 32 nodes, then scaled by
    ``ceil(log2(n) - log2(32)) + 1`` (Go ``pushPullScale``)."""
    if n <= PUSH_PULL_SCALE_THRESHOLD:
        return interval
    multiplier = math.ceil(math.log2(n) - math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1
    return multiplier * interval
