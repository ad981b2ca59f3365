"""Serf's three broadcast queues: intents, queries, user events.

Each is a :class:`~serf_proto.broadcast.TransmitLimitedQueue` sized by the member count.
Whenever memberlist builds a packet it asks for Serf broadcasts (:meth:`Broadcasts.take`):
intents first, then queries, then events, within the room left. Queueing wakes memberlist's
gossip ticker, which parks while nothing is pending anywhere.

A broadcast may carry ``on_sent(now)``: it runs once the message was sent often enough (or
was pruned), after the packet that finished it was built: the leave machine waits on it.

The ``QueueCheck`` timer warns about deep queues and prunes one past its limit
(``max_queue_depth``, or ``min_queue_depth`` scaled by the member count), counting the drop.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from serf_proto.broadcast import Broadcast, TransmitLimitedQueue
from serf_proto.drops import DropReason
from serf_proto.serf.context import NodeContext
from serf_proto.serf.timers import QueueCheck

__all__ = ["Broadcasts", "Lane"]


class Lane(Enum):
    """Which queue a Serf broadcast waits in (the order they fill a packet)."""

    INTENT = "Intent"
    QUERY = "Query"
    EVENT = "Event"


_PRUNED = {
    Lane.INTENT: DropReason.INTENT_QUEUE_PRUNED,
    Lane.QUERY: DropReason.QUERY_QUEUE_PRUNED,
    Lane.EVENT: DropReason.EVENT_QUEUE_PRUNED,
}


def queue_limit(min_depth: int, max_depth: int, members: int) -> int:
    """How many broadcasts a queue may hold (Go ``getQueueMax``)."""
    if min_depth > 0:
        return max(min_depth, 2 * members)
    return max_depth


class Broadcasts:
    """One node's Serf broadcast queues; see the module docstring."""

    __slots__ = ("_ctx", "_event", "_intent", "_num_members", "_query", "_queues", "_sent")

    def __init__(self, ctx: NodeContext, num_members: Callable[[], int]) -> None:
        retransmit = ctx.config.memberlist.retransmit_mult
        self._ctx = ctx
        self._num_members = num_members
        self._queues = {lane: TransmitLimitedQueue(retransmit, num_members) for lane in Lane}
        # The lanes once more as attributes: memberlist asks for them on every packet.
        self._intent = self._queues[Lane.INTENT]
        self._query = self._queues[Lane.QUERY]
        self._event = self._queues[Lane.EVENT]
        self._sent: list[Callable[[float], None]] = []

    def queue(
        self, lane: Lane, raw: bytes, now: float, on_sent: Callable[[float], None] | None = None
    ) -> None:
        """Queue ``raw`` on ``lane`` (memberlist sees it through :meth:`pending`)."""
        hook = None if on_sent is None else (lambda: self._sent.append(on_sent))
        self._queues[lane].queue_broadcast(Broadcast(raw, unique=True, on_finished=hook))

    def pending(self) -> int:
        """How many broadcasts wait in all three queues."""
        return len(self._intent) + len(self._query) + len(self._event)

    def depth(self, lane: Lane) -> int:
        """How many broadcasts wait on ``lane``."""
        return self._queues[lane].num_queued()

    def take(self, overhead: int, limit: int, now: float) -> list[bytes]:
        """Intent, then query, then event broadcasts within ``limit`` bytes."""
        msgs = self._intent.get_broadcasts(overhead, limit)
        used = sum(len(m) + overhead for m in msgs)
        more = self._query.get_broadcasts(overhead, limit - used)
        used += sum(len(m) + overhead for m in more)
        msgs += more
        msgs += self._event.get_broadcasts(overhead, limit - used)
        if self._sent:
            self._run_sent(now)
        return msgs

    def on_queue_check(self, now: float) -> None:
        """``QueueCheck`` fired: warn, prune, schedule the next check."""
        ctx = self._ctx
        config = ctx.config
        for lane in (Lane.INTENT, Lane.EVENT, Lane.QUERY):
            queue = self._queues[lane]
            depth = queue.num_queued()
            if depth >= config.queue_depth_warning:
                ctx.log.warning("%s queue depth: %d", lane.value, depth)
            limit = queue_limit(config.min_queue_depth, config.max_queue_depth, self._num_members())
            if depth > limit:
                ctx.log.warning(
                    "%s queue depth (%d) exceeds limit (%d), dropping messages!",
                    lane.value,
                    depth,
                    limit,
                )
                ctx.stats.drop(_PRUNED[lane])
                queue.prune(limit)
                if self._sent:
                    self._run_sent(now)
        ctx.timers.schedule(QueueCheck(), now + config.queue_check_interval)

    def _run_sent(self, now: float) -> None:
        hooks, self._sent = self._sent, []
        for hook in hooks:
            hook(now)
