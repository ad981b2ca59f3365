"""``Memberlist``: SWIM + Lifeguard membership as a sans-IO state machine.

Theory of operation
-------------------
A node keeps a table of every node it has heard of, each with a state (alive, suspect, dead,
left) and an incarnation number that only the node itself may raise. Three periodic tasks run
off one :class:`~serf_proto.timers.TimerQueue`:

* **Probe** (every ``probe_interval``): walk the node list in random order and ping the next
  node; no ack → indirect pings through peers and a TCP ping; still no ack → *suspect* it. A
  suspicion turns into *dead* when its Lifeguard timer runs out; every new independent accuser
  shortens that timer. A node that hears it is suspected or dead refutes by gossiping an alive
  message with a higher incarnation.
* **Gossip** (every ``gossip_interval``): send queued broadcasts (alive/suspect/dead news and the
  delegate's messages) to ``gossip_nodes`` random peers, each a limited number of times.
* **Push/pull** (every ``push_pull_interval``, scaled above 32 nodes): exchange the full node
  table with one random peer over a stream; joining is a push/pull with ``join=True``.

The Go implementation blocks in goroutines (``probeNode`` waits on channels). Here every wait is
a record plus a deadline that is data (:mod:`~serf_proto.memberlist.deadlines`). The work is
split into sub-machines that share one :class:`~serf_proto.memberlist.context.Context`
(configuration, random source, stats, timer queue, outbox, logger):

==============================  ==========================================================
:class:`NodeTable`              the records, in probe order; the only place a record changes
:class:`Gossip`                 broadcast queue, piggybacking, the (parkable) gossip ticker
:class:`Membership`             alive / suspect / dead news by the verdicts of ``rules``
:class:`Prober`                 the probe round, indirect and TCP probes, relays, awareness
:class:`Streams`                push/pull, join, TCP ping and user streams; push/pull ticker
==============================  ==========================================================

``Memberlist`` itself only routes: it decodes packets and hands each message to its machine,
dispatches deadlines by type, and offers the public API. Inputs carry ``now`` (float seconds,
monotonic); randomness comes from the injected ``random.Random``; all effects leave through
``take_outputs()`` as I/O commands (``SendPacket``, ``OpenStream``, ``SendStream``,
``CloseStream``) and results (``JoinCompleted``, ``LeaveCompleted``). Node events go to the
delegate (``notify_join`` / ``notify_leave`` / ``notify_update``).

Remote garbage never raises: it is dropped and counted in ``stats.dropped``.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterable
from typing import assert_never

from serf_proto.config import MemberlistConfig
from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError, InvalidState
from serf_proto.memberlist.awareness import Awareness
from serf_proto.memberlist.context import Context, Output
from serf_proto.memberlist.deadlines import (
    Deadline,
    GossipTick,
    GossipWake,
    LeaveDeadline,
    PingExpiry,
    ProbeEnd,
    ProbeTick,
    ProbeTimeout,
    PushPullTick,
    RelayExpiry,
    StreamDeadline,
    SuspicionExpiry,
)
from serf_proto.memberlist.delegate import MemberlistDelegate, NullDelegate
from serf_proto.memberlist.gossip import Gossip
from serf_proto.memberlist.membership import Membership
from serf_proto.memberlist.probe import Prober
from serf_proto.memberlist.shared import TableShare
from serf_proto.memberlist.state import Node
from serf_proto.memberlist.stats import MemberlistStats
from serf_proto.memberlist.streams import Streams
from serf_proto.memberlist.table import NodeTable
from serf_proto.memberlist.wireio import WireIO, decode_packet_message
from serf_proto.types import Address, NodeState
from serf_proto.wire.keyring import Keyring
from serf_proto.wire.messages import (
    USER_TYPE_BYTE,
    Ack,
    Alive,
    Dead,
    IndirectPing,
    Message,
    Nack,
    Ping,
    Suspect,
    UserMsg,
)

__all__ = ["Memberlist", "Output"]


class Memberlist:
    """SWIM + Lifeguard membership for one node; see the module docstring.

    Args:
        config: the node's configuration (``MemberlistConfig.lan(name)`` etc.).
        delegate: hooks for the layer above (``None``: a :class:`NullDelegate`).
        now: current monotonic time in seconds.
        rng: the only source of random choices.
        entropy: ``entropy(n)`` returns ``n`` unpredictable bytes (AES-GCM nonces).
        keyring: the wire keyring when gossip is encrypted (``serf_proto.wire.Keyring``).
    """

    def __init__(
        self,
        config: MemberlistConfig,
        delegate: MemberlistDelegate | None = None,
        *,
        now: float,
        rng: random.Random,
        entropy: Callable[[int], bytes] = os.urandom,
        keyring: Keyring | None = None,
    ) -> None:
        ctx = Context(
            config, delegate if delegate is not None else NullDelegate(), rng, entropy, keyring
        )
        self._ctx = ctx
        self._now = now
        self._awareness = Awareness(config.awareness_max_multiplier)
        self._table = NodeTable(config.name)
        self._gossip = Gossip(ctx, self._table)
        self._membership = Membership(ctx, self._table, self._gossip, self._awareness)
        self._streams = Streams(ctx, self._table, self._membership)
        self._prober = Prober(
            ctx, self._table, self._gossip, self._membership, self._streams, self._awareness
        )
        self._next_op = 0
        self._membership.set_alive(now)
        # The tickers start at random points of their intervals, drawn in this order.
        self._prober.start(now)
        self._streams.start(now)
        self._gossip.start(now)

    # ------------------------------------------------------------------------------------------
    # reads

    @property
    def config(self) -> MemberlistConfig:
        """The node's configuration."""
        return self._ctx.config

    @property
    def delegate(self) -> MemberlistDelegate:
        """The hooks of the layer above."""
        return self._ctx.delegate

    @property
    def rng(self) -> random.Random:
        """The node's random source."""
        return self._ctx.rng

    @property
    def stats(self) -> MemberlistStats:
        """Cumulative counters (probes, acks, traffic, drops by reason, stale deadlines)."""
        return self._ctx.stats

    @property
    def wire(self) -> WireIO:
        """The packet and stream pipeline (compression, CRC, encryption, labels)."""
        return self._ctx.wire

    @property
    def local_node(self) -> Node:
        """Our own entry."""
        return self._table.local.snapshot()

    def members(self) -> list[Node]:
        """Every node that is alive or suspect (Go ``Members``), ourselves included."""
        return [n.snapshot() for n in self._table.order if n.state < NodeState.DEAD]

    def all_nodes(self) -> list[Node]:
        """Every node in the table, dead and left ones not yet reaped included."""
        return [n.snapshot() for n in self._table.order]

    def node(self, name: str) -> Node | None:
        """The entry for ``name``, or None when unknown."""
        rec = self._table.get(name)
        return None if rec is None else rec.snapshot()

    def node_state(self, name: str) -> NodeState | None:
        """The state of ``name`` without building a snapshot, or None when unknown."""
        rec = self._table.get(name)
        return None if rec is None else rec.state

    def num_members(self) -> int:
        """How many nodes are alive or suspect (Go ``NumMembers``)."""
        return sum(1 for n in self._table.order if n.state < NodeState.DEAD)

    def estimated_num_nodes(self) -> int:
        """Size of the node table, dead and left included (Go ``estNumNodes``)."""
        return len(self._table)

    def health_score(self) -> int:
        """Lifeguard local health score; 0 is healthy (Go ``GetHealthScore``)."""
        return self._awareness.score

    def queue_depth(self) -> int:
        """Broadcasts waiting in memberlist's own queue."""
        return len(self._gossip.queue)

    @property
    def has_left(self) -> bool:
        """Whether ``leave`` was called."""
        return self._membership.left

    @property
    def is_shutdown(self) -> bool:
        """Whether ``shutdown`` was called."""
        return self._ctx.shutdown

    def shared_start(self) -> TableShare:
        """The simulator's converged start for this node (``SharedStart[SharedNodes]``, see
        :mod:`serf_proto.memberlist.shared`); a live node never needs it."""
        return TableShare(self._table, self._gossip, self._streams)

    # ------------------------------------------------------------------------------------------
    # driving API

    def take_outputs(self) -> list[Output]:
        """Every output produced since the last call, in order; the outbox is then empty."""
        out = self._ctx.out
        taken = out[:]
        out.clear()
        return taken

    def next_timer(self) -> float | None:
        """The next absolute time (seconds) ``handle_timer`` must be called, or None.

        This is where memberlist re-plans: a parked gossip ticker whose delegate now holds
        broadcasts gets a wake-up due at once (the wake contract, see ``delegate``)."""
        if self._gossip.watching:
            self._gossip.replan(self._now)
        return self._ctx.timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        """Run every deadline due at ``now``, in order (deadlines it creates at ≤ now too)."""
        self._now = now
        timers = self._ctx.timers
        while True:
            due = timers.pop_due(now)
            if not due:
                return
            for deadline in due:
                self._fire(deadline, now)

    def receive_packet(self, addr: Address, data: bytes, now: float) -> None:
        """Handle one UDP datagram from ``addr``."""
        self._now = now
        ctx = self._ctx
        stats = ctx.stats
        stats.packets_in += 1
        stats.bytes_in += len(data)
        if ctx.shutdown:
            return
        if not ctx.config.ip_allowed(addr.host):
            stats.drop(DropReason.CIDR_DENIED)
            return
        wire = ctx.wire
        try:
            parts = wire.explode(wire.unwrap_packet(data))
        except DecodeError as exc:
            self._drop(exc, addr)
            return
        stats.messages_in += len(parts)
        for part in parts:
            try:
                msg = decode_packet_message(part)
            except DecodeError as exc:
                self._drop(exc, addr)
                continue
            self._dispatch(msg, addr, now)

    def accept_stream(self, addr: Address, now: float) -> int:
        """Register an inbound stream from ``addr``; returns its stream id."""
        self._now = now
        if not self._ctx.config.ip_allowed(addr.host):
            return self._streams.refuse(DropReason.CIDR_DENIED)
        return self._streams.accept(addr, now)

    def stream_connected(self, sid: int, now: float) -> None:
        """Our ``OpenStream(sid)`` connected: send the request."""
        self._now = now
        self._streams.connected(sid, now)

    def stream_failed(self, sid: int, reason: str, now: float) -> None:
        """Stream ``sid`` could not connect, or broke."""
        self._now = now
        self._streams.failed(sid, reason, now)

    def receive_stream_data(self, sid: int, data: bytes, now: float) -> None:
        """Bytes arrived on stream ``sid``; ``b""`` means the peer closed it (EOF)."""
        self._now = now
        self._streams.data(sid, data, now)

    # ------------------------------------------------------------------------------------------
    # commands

    def join(self, addrs: Iterable[Address], now: float) -> int:
        """Push/pull with ``join=True`` to every address; returns the op id.

        Emits ``JoinCompleted(op, joined, errors)`` once every exchange finished.
        """
        self._now = now
        if self._ctx.shutdown:
            raise InvalidState("memberlist is shut down")
        op = self._new_op()
        self._streams.join(op, addrs, now)
        return op

    def leave(self, timeout: float, now: float) -> int:
        """Announce that we leave; returns the op id.

        Broadcasts a dead message about ourselves (peers record us as LEFT) and emits
        ``LeaveCompleted(op)`` once it was gossiped ``retransmit_limit`` times, or with an error
        after ``timeout`` seconds. Probing and gossip continue until ``shutdown``.
        """
        self._now = now
        if self._ctx.shutdown:
            raise InvalidState("memberlist is shut down")
        op = self._new_op()
        self._membership.leave(op, timeout, now)
        return op

    def shutdown(self, now: float) -> None:
        """Stop every task and close every stream; later inputs are ignored."""
        self._now = now
        ctx = self._ctx
        if ctx.shutdown:
            return
        ctx.shutdown = True
        self._streams.shutdown()
        ctx.timers.clear()
        self._prober.shutdown()

    def update_node(self, now: float) -> None:
        """Re-read our metadata from the delegate and gossip it with a new incarnation."""
        self._now = now
        if self._ctx.shutdown:
            raise InvalidState("memberlist is shut down")
        self._membership.set_alive(now)

    def ping_address(
        self, addr: Address, name: str, now: float, done: Callable[[bool, float], None]
    ) -> None:
        """Ping node ``name`` at ``addr`` outside the probe round; ``done(acked, now)`` runs
        when its ack arrives or ``probe_timeout`` passed. Nothing else changes: the layer
        above decides what an answer means (Serf's self-healing pushes/pulls with it)."""
        self._now = now
        if self._ctx.shutdown:
            raise InvalidState("memberlist is shut down")
        self._prober.ping_address(addr, name, now, done)

    def send_best_effort(self, addr: Address, payload: bytes, now: float) -> None:
        """Send a user message to ``addr`` in one datagram (Go ``SendToAddress``)."""
        self._now = now
        self._gossip.send_raw(addr, USER_TYPE_BYTE + payload, None)

    def send_reliable(self, addr: Address, payload: bytes, now: float) -> int:
        """Send a user message to ``addr`` over a stream (Go ``SendReliable``); returns the
        stream id."""
        self._now = now
        return self._streams.send_user(addr, payload, now)

    # ------------------------------------------------------------------------------------------
    # routing

    def _fire(self, deadline: Deadline, now: float) -> None:
        match deadline:
            case ProbeTick():
                self._prober.tick(now)
            case GossipTick():
                self._gossip.tick(now)
            case GossipWake():
                self._gossip.wake(now)
            case PushPullTick():
                self._streams.tick(now)
            case ProbeTimeout():
                self._prober.direct_timeout(deadline, now)
            case ProbeEnd():
                self._prober.probe_end(deadline, now)
            case RelayExpiry():
                self._prober.relay_expired(deadline, now)
            case PingExpiry():
                self._prober.ping_expired(deadline, now)
            case SuspicionExpiry():
                self._membership.suspicion_expired(deadline, now)
            case StreamDeadline():
                self._streams.deadline(deadline, now)
            case LeaveDeadline():
                self._membership.leave_timed_out()
            case _:
                assert_never(deadline)

    def _dispatch(self, msg: Message, addr: Address, now: float) -> None:
        # Most frequent first: gossip is mostly alive news.
        match msg:
            case Alive():
                self._membership.alive(msg, now)
            case Ping():
                self._prober.on_ping(msg, addr, now)
            case Ack():
                self._prober.on_ack(msg, now)
            case Suspect():
                self._membership.suspect(msg, now)
            case Dead():
                self._membership.dead(msg, now)
            case UserMsg():
                self._ctx.delegate.notify_msg(msg.payload, now)
            case IndirectPing():
                self._prober.on_indirect_ping(msg, addr, now)
            case Nack():
                self._prober.on_nack(msg)
            case _:
                self._ctx.stats.drop(DropReason.UNEXPECTED_TYPE)

    def _drop(self, exc: DecodeError, addr: Address) -> None:
        ctx = self._ctx
        ctx.stats.drop(DropReason.of(exc))
        if ctx.log.isEnabledFor(logging.DEBUG):
            ctx.log.debug("dropped packet from %s: %s", addr, exc)

    def _new_op(self) -> int:
        self._next_op += 1
        return self._next_op
