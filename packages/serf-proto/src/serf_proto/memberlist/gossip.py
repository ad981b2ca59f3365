"""Gossip: the broadcast queue, piggybacking on every packet, and the gossip ticker.

News (alive, suspect, dead) is queued in a :class:`~serf_proto.broadcast.TransmitLimitedQueue`
that sends each message ``retransmit_mult × ⌈log10(n+1)⌉`` times. It leaves two ways:

* **piggyback** (Go ``sendMsg``): every packet memberlist sends (pings, acks, indirect pings)
  is topped up with as many queued broadcasts, then the delegate's, as fit in the UDP buffer;
* **gossip** (Go ``gossip``): every ``gossip_interval`` a packet of broadcasts goes to
  ``gossip_nodes`` random peers (alive, suspect, or dead for less than
  ``gossip_to_the_dead_time``).

**Parking.** An idle cluster's gossip ticks send nothing, so while both queues are empty the
ticker parks (keeping its phase) instead of ticking. Memberlist's own queue wakes it when news
is queued. The delegate's queue is checked by asking ``pending_broadcasts(now)`` before
parking and whenever memberlist re-plans (:meth:`Gossip.replan`, called from
``Memberlist.next_timer``): a non-zero answer schedules a :class:`GossipWake` due at once, and
the ticker resumes at its next tick after that. The delegate never has to call anything.

Asking for the first packet's broadcasts before choosing targets keeps an idle cluster free of
random draws (Go picks targets first); with no eligible target at all, that first batch counts
one transmission without being sent.
"""

from __future__ import annotations

from collections.abc import Callable

from serf_proto.broadcast import Broadcast, TransmitLimitedQueue
from serf_proto.memberlist.context import Context
from serf_proto.memberlist.deadlines import GOSSIP_TICK, GOSSIP_WAKE, next_tick, tick_after
from serf_proto.memberlist.state import NodeRecord
from serf_proto.memberlist.table import NodeTable
from serf_proto.outputs import SendPacket
from serf_proto.types import Address, NodeState
from serf_proto.wire.framing import COMPOUND_HEADER_OVERHEAD, COMPOUND_OVERHEAD, make_compound
from serf_proto.wire.limits import MAX_COMPOUND_PARTS
from serf_proto.wire.messages import USER_TYPE_BYTE, Message, encode_message

__all__ = ["Gossip", "make_compounds"]

#: The type byte a delegate broadcast gets when memberlist piggybacks it.
USER_MSG_OVERHEAD = 1


def make_compounds(msgs: list[bytes]) -> list[bytes]:
    """Split ``msgs`` into compounds of at most 127 parts (what memberlist 0.2.2 can read)."""
    step = MAX_COMPOUND_PARTS
    return [make_compound(msgs[i : i + step]) for i in range(0, len(msgs), step)]


class Gossip:
    """The packet sender with piggybacked broadcasts, and the (parkable) gossip ticker."""

    __slots__ = ("_ctx", "_out", "_parked", "_table", "_tick_at", "queue", "watching")

    def __init__(self, ctx: Context, table: NodeTable) -> None:
        self._ctx = ctx
        self._table = table
        self._out = ctx.out
        self.queue = TransmitLimitedQueue(ctx.config.retransmit_mult, table.__len__)
        self._parked = False
        #: Parked while the delegate has broadcasts of its own: :meth:`replan` must look.
        self.watching = False
        self._tick_at: float | None = None

    # -- the queue -------------------------------------------------------------------------

    def broadcast(
        self,
        name: str,
        msg: Message,
        now: float,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        """Queue news about node ``name`` (replacing older news about it) and wake gossip."""
        self.queue.queue_broadcast(
            Broadcast(encode_message(msg), name=name, on_finished=on_finished)
        )
        self._wake(now)

    def piggyback(self, overhead: int, limit: int, now: float) -> list[bytes]:
        """Queued broadcasts, then the delegate's, within ``limit`` bytes."""
        msgs = self.queue.get_broadcasts(overhead, limit)
        used = 0
        for m in msgs:
            used += len(m) + overhead
        avail = limit - used
        ctx = self._ctx
        if avail > overhead + USER_MSG_OVERHEAD and ctx.hooks.broadcasts:
            delegate = ctx.delegate
            for payload in delegate.get_broadcasts(overhead + USER_MSG_OVERHEAD, avail, now):
                msgs.append(USER_TYPE_BYTE + payload)
        return msgs

    # -- sending ---------------------------------------------------------------------------

    def send(self, addr: Address, msg: bytes, rec: NodeRecord | None, now: float) -> None:
        """Send ``msg`` with as many piggybacked broadcasts as fit (Go ``sendMsg``)."""
        ctx = self._ctx
        avail = (
            ctx.config.udp_buffer_size
            - len(msg)
            - COMPOUND_HEADER_OVERHEAD
            - ctx.wire.packet_overhead(False)
        )
        extra = self.piggyback(COMPOUND_OVERHEAD, avail, now)
        if not extra:
            self.send_raw(addr, msg, rec)
            return
        extra.insert(0, msg)
        for compound in make_compounds(extra):
            self.send_raw(addr, compound, rec)

    def send_raw(self, addr: Address, msg: bytes, rec: NodeRecord | None) -> None:
        """Wrap ``msg`` (CRC toward protocol ≥ 5 peers) and send it as one packet."""
        ctx = self._ctx
        data = ctx.wire.wrap_packet(msg, rec is not None and rec.vsn[1] >= 5)
        stats = ctx.stats
        stats.packets_out += 1
        stats.bytes_out += len(data)
        self._out.append(SendPacket(addr, data))

    # -- the ticker ------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Arm the first tick at a random point of the interval (unless gossip is off)."""
        ctx = self._ctx
        cfg = ctx.config
        if cfg.gossip_interval <= 0 or cfg.gossip_nodes <= 0:
            return
        self._tick_at = now + ctx.rng.random() * cfg.gossip_interval
        ctx.timers.schedule(GOSSIP_TICK, self._tick_at)

    def tick(self, now: float) -> None:
        """Gossip once, then re-arm on the ticker's phase, or park when nothing is queued."""
        self._gossip(now)
        ctx = self._ctx
        hooks = ctx.hooks
        if (
            hooks.quiet
            and not self.queue
            and not (hooks.broadcasts and ctx.delegate.pending_broadcasts(now))
        ):
            self._parked = True
            self.watching = hooks.broadcasts
            return
        prev = now if self._tick_at is None else self._tick_at
        self._tick_at = next_tick(prev, now, ctx.config.gossip_interval)
        ctx.timers.schedule(GOSSIP_TICK, self._tick_at)

    def replan(self, now: float) -> None:
        """The wake contract: a parked ticker whose delegate now holds broadcasts gets a
        :class:`GossipWake` due at ``now`` (the last ``now`` memberlist saw)."""
        ctx = self._ctx
        if (
            self.watching
            and not ctx.shutdown
            and GOSSIP_WAKE not in ctx.timers
            and ctx.delegate.pending_broadcasts(now)
        ):
            ctx.timers.schedule(GOSSIP_WAKE, now)

    def wake(self, now: float) -> None:
        """A :class:`GossipWake` fell due: resume the ticker (a no-op if it already runs)."""
        if not self._parked:
            self._ctx.stale(GOSSIP_WAKE)
            return
        self._wake(now)

    def _wake(self, now: float) -> None:
        """Restart the parked ticker at its next tick after ``now``."""
        if not self._parked:
            return
        self._parked = False
        self.watching = False
        ctx = self._ctx
        ctx.timers.cancel(GOSSIP_WAKE)
        if ctx.shutdown:
            return
        prev = now if self._tick_at is None else self._tick_at
        self._tick_at = tick_after(prev, now, ctx.config.gossip_interval)
        ctx.timers.schedule(GOSSIP_TICK, self._tick_at)

    def _gossip(self, now: float) -> None:
        ctx = self._ctx
        cfg = ctx.config
        avail = cfg.udp_buffer_size - COMPOUND_HEADER_OVERHEAD - ctx.wire.packet_overhead(True)
        msgs = self.piggyback(COMPOUND_OVERHEAD, avail, now)
        if not msgs:
            return
        me = ctx.name
        dead_time = cfg.gossip_to_the_dead_time

        def exclude(rec: NodeRecord) -> bool:
            if rec.name == me:
                return True
            state = rec.state
            if state <= NodeState.SUSPECT:
                return False
            if state == NodeState.DEAD:
                return now - rec.state_change > dead_time
            return True

        for rec in self._table.k_random(cfg.gossip_nodes, exclude, ctx.rng):
            if not msgs:
                msgs = self.piggyback(COMPOUND_OVERHEAD, avail, now)
                if not msgs:
                    return
            if len(msgs) == 1:
                self.send_raw(rec.addr, msgs[0], rec)
            else:
                for compound in make_compounds(msgs):
                    self.send_raw(rec.addr, compound, rec)
            msgs = []
