"""``Memberlist``: SWIM + Lifeguard membership as a sans-IO state machine.

Theory of operation
-------------------
A node keeps a table of every node it has heard of, each with a state (alive, suspect, dead,
left) and an incarnation number that only the node itself may raise. Three periodic tasks run
off one :class:`~serf_proto.timers.TimerQueue`:

* **Probe** (every ``probe_interval``): walk the node list in random order (drawn one step
  at a time) and ping the next node. No ack within ``probe_timeout`` → ask
  ``indirect_checks`` random peers to ping it for us (and try a TCP ping in parallel). No
  ack by the end of the (awareness-scaled) probe interval → *suspect* it. A suspicion turns
  into *dead* when its Lifeguard timer runs out; every new independent accuser shortens that
  timer. A node that hears it is suspected or dead refutes by gossiping an alive message
  with a higher incarnation.
* **Gossip** (every ``gossip_interval``): send queued broadcasts (alive/suspect/dead news and the
  delegate's messages) to ``gossip_nodes`` random peers. Each broadcast is sent a limited number
  of times, scaled by ``log10`` of the cluster size.
* **Push/pull** (every ``push_pull_interval``, scaled above 32 nodes): exchange the full node
  table with one random peer over a stream; joining is a push/pull with ``join=True``.

The Go implementation blocks in goroutines (``probeNode`` waits on channels). Here every wait is
a phase with a deadline: a probe is a :class:`Probe` record plus timer keys, a stream exchange
is a :class:`Stream` record plus a ``("stream", sid)`` deadline. Inputs carry ``now`` (float
seconds, monotonic); randomness comes from the injected ``random.Random``; all effects leave
through ``take_outputs()`` as I/O commands (``SendPacket``, ``OpenStream``, ``SendStream``,
``CloseStream``) and results (``JoinCompleted``, ``LeaveCompleted``). Node events go to the
delegate (``notify_join`` / ``notify_leave`` / ``notify_update``).

Remote garbage never raises: it is dropped and counted in ``stats.dropped``.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Hashable, Iterable

from serf_proto.broadcast import Broadcast, TransmitLimitedQueue
from serf_proto.config import (
    META_MAX_SIZE,
    PROTOCOL_VERSION_MAX,
    PROTOCOL_VERSION_MIN,
    MemberlistConfig,
)
from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError, InvalidState
from serf_proto.events import JoinCompleted, LeaveCompleted
from serf_proto.memberlist.awareness import Awareness
from serf_proto.memberlist.delegate import MemberlistDelegate, NullDelegate
from serf_proto.memberlist.formulas import push_pull_scale, suspicion_timeout
from serf_proto.memberlist.pushpull import encode_local_state, merge_news, remote_nodes
from serf_proto.memberlist.rules import Verdict, alive_verdict, dead_verdict, suspect_verdict
from serf_proto.memberlist.selection import k_random_nodes
from serf_proto.memberlist.sessions import JoinOp, Phase, Probe, Relay, Stream, StreamKind
from serf_proto.memberlist.state import Node, NodeRecord, SharedNodes, ip_bytes, ip_text
from serf_proto.memberlist.stats import MemberlistStats
from serf_proto.memberlist.suspicion import Suspicion
from serf_proto.memberlist.versions import NO_VSN, Vsn, valid_alive_vsn, verify_protocol, vsn_tuple
from serf_proto.memberlist.wireio import WireIO, decode_packet_message
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.shared_table import SharedTable
from serf_proto.timers import TimerQueue
from serf_proto.types import Address, NodeState
from serf_proto.wire.framing import (
    COMPOUND_HEADER_OVERHEAD,
    COMPOUND_OVERHEAD,
    MAX_COMPOUND_PARTS,
    make_compound,
)
from serf_proto.wire.keyring import Keyring
from serf_proto.wire.limits import MAX_STREAM_BYTES
from serf_proto.wire.messages import (
    USER_TYPE_BYTE,
    Ack,
    Alive,
    Dead,
    ErrResp,
    IndirectPing,
    Message,
    MessageType,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    UserMsg,
    encode_message,
    encode_stream_message,
)

__all__ = ["Memberlist", "Output"]

log = logging.getLogger("serf_proto.memberlist")

Output = SendPacket | OpenStream | SendStream | CloseStream | JoinCompleted | LeaveCompleted

#: Most inbound streams open at once; more are closed at once (Go refuses the 128th
#: concurrent push/pull, ``maxPushPullRequests``).
MAX_INBOUND_STREAMS = 128
#: The type byte a delegate broadcast gets when memberlist piggybacks it.
USER_MSG_OVERHEAD = 1


def make_compounds(msgs: list[bytes]) -> list[bytes]:
    """Split ``msgs`` into compounds of at most 127 parts (what memberlist 0.2.2 can read)."""
    step = MAX_COMPOUND_PARTS
    return [make_compound(msgs[i : i + step]) for i in range(0, len(msgs), step)]


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
        self.config = config
        self.delegate: MemberlistDelegate = delegate if delegate is not None else NullDelegate()
        # What a hook would receive is not built when the delegate keeps NullDelegate's hook.
        kind = type(self.delegate)
        self._merge_hook = kind.notify_merge is not NullDelegate.notify_merge
        self._ping_hook = kind.notify_ping_complete is not NullDelegate.notify_ping_complete
        self._alive_hook = kind.notify_alive is not NullDelegate.notify_alive
        # An empty queue lets the gossip ticker park: the outcome is the same as Go's idle
        # ticks, at no cost. A delegate without broadcasts of its own never needs asking; one
        # that counts them (``pending_broadcasts``) is asked before parking and at every
        # ``next_timer``; one that has broadcasts but cannot count them keeps the ticker going.
        self._delegate_broadcasts = kind.get_broadcasts is not NullDelegate.get_broadcasts
        self._quiet_gossip = (
            not self._delegate_broadcasts
            or kind.pending_broadcasts is not NullDelegate.pending_broadcasts
        )
        self._gossip_parked = False
        self._now = now
        self.rng = rng
        self.stats = MemberlistStats()
        self.wire = WireIO(config, entropy, keyring, self.stats)
        self._timers = TimerQueue()
        self._tick_at: dict[Hashable, float] = {}
        self._out: list[Output] = []
        self._nodes: list[NodeRecord] = []
        self._node_map: SharedTable[NodeRecord] = SharedTable()
        self._probe_index = 0
        self._seq_no = 0
        self._incarnation = 0
        self._awareness = Awareness(config.awareness_max_multiplier)
        self._suspicions: dict[str, Suspicion] = {}
        self._broadcasts = TransmitLimitedQueue(config.retransmit_mult, self.estimated_num_nodes)
        self._probe: Probe | None = None
        self._relays: dict[int, Relay] = {}
        self._streams: dict[int, Stream] = {}
        self._next_sid = 0
        self._next_op = 0
        self._joins: dict[int, JoinOp] = {}
        self._inbound = 0
        self._left = False
        self._leave_op: int | None = None
        self._shutdown = False
        adv = config.advertise
        self._ip = ip_bytes(adv.host)
        self._port = adv.port
        self._vsn: Vsn = (
            PROTOCOL_VERSION_MIN,
            PROTOCOL_VERSION_MAX,
            config.protocol_version,
            config.delegate_protocol_min,
            config.delegate_protocol_max,
            config.delegate_protocol_version,
        )
        self._vsn_bytes = bytes(self._vsn)
        self._set_alive(now)
        self._schedule_tasks(now)

    # ------------------------------------------------------------------------------------------
    # reads

    @property
    def local_node(self) -> Node:
        """Our own entry."""
        return self._node_map[self.config.name].snapshot()

    def members(self) -> list[Node]:
        """Every node that is alive or suspect (Go ``Members``), ourselves included."""
        return [n.snapshot() for n in self._nodes if n.state < NodeState.DEAD]

    def all_nodes(self) -> list[Node]:
        """Every node in the table, dead and left ones not yet reaped included."""
        return [n.snapshot() for n in self._nodes]

    def node(self, name: str) -> Node | None:
        """The entry for ``name``, or None when unknown."""
        rec = self._node_map.get(name)
        return None if rec is None else rec.snapshot()

    def node_state(self, name: str) -> NodeState | None:
        """The state of ``name`` without building a snapshot, or None when unknown."""
        rec = self._node_map.get(name)
        return None if rec is None else rec.state

    def num_members(self) -> int:
        """How many nodes are alive or suspect (Go ``NumMembers``)."""
        return sum(1 for n in self._nodes if n.state < NodeState.DEAD)

    def estimated_num_nodes(self) -> int:
        """Size of the node table, dead and left included (Go ``estNumNodes``)."""
        return len(self._nodes)

    def health_score(self) -> int:
        """Lifeguard local health score; 0 is healthy (Go ``GetHealthScore``)."""
        return self._awareness.score

    def queue_depth(self) -> int:
        """Broadcasts waiting in memberlist's own queue."""
        return len(self._broadcasts)

    def drop_pending_broadcasts(self) -> int:
        """Discard every queued membership broadcast (finished hooks do not run); return how
        many there were. For building an already-converged cluster in the simulator, where the
        joins' gossip is long over; a live node never needs it."""
        count = len(self._broadcasts)
        self._broadcasts.reset()
        return count

    @property
    def owned_records(self) -> int:
        """How many node records this node holds itself: all of them, unless it adopted a
        shared table (then only those it changed since, and its own)."""
        return self._node_map.own_count

    def share_table(self, now: float) -> SharedNodes:
        """Freeze our node table into a base that fresh nodes can adopt (``adopt_table``) and
        keep using it copy-on-write ourselves; our own record stays private. For the
        simulator's converged start: N nodes then hold one table, not N. As in a cluster
        that has long been running, the next push/pull falls at a random point of the
        (size-scaled) interval."""
        base = SharedNodes(dict(self._node_map.items()), tuple(self._nodes))
        self._node_map = SharedTable(base.records)
        self._nodes = list(base.order)
        self._writable(self._node_map[self.config.name])
        self._rephase_push_pull(now)
        return base

    def adopt_table(self, base: SharedNodes, now: float) -> None:
        """Start from ``base`` (another node's ``share_table``) instead of learning every node
        through gossip: the table becomes ``base`` copy-on-write with our own record kept
        (the probe walk draws its order from our random source), and the next push/pull falls at a
        random point of the scaled interval. The delegate is not told about the nodes (the
        layer above adopts its own table). Only a fresh node (that knows nothing but itself)
        can adopt a table."""
        me = self.config.name
        if len(self._node_map) != 1:
            raise InvalidState("only a node that knows nothing but itself can adopt a table")
        mine = self._node_map[me]
        table: SharedTable[NodeRecord] = SharedTable(base.records)
        table[me] = mine
        nodes = list(base.order)
        shared_me = base.records.get(me)
        if shared_me is None:
            nodes.append(mine)
        else:
            nodes[nodes.index(shared_me)] = mine
        self._node_map = table
        self._nodes = nodes
        self._probe_index = 0
        self._rephase_push_pull(now)

    def _rephase_push_pull(self, now: float) -> None:
        """Move the next push/pull to a random point of the interval scaled to today's table
        (a fresh node's first one falls within the unscaled interval, like Go's)."""
        if self.config.push_pull_interval > 0 and not self._shutdown:
            interval = push_pull_scale(self.config.push_pull_interval, len(self._nodes))
            self._timers.schedule(("pushpull",), now + self.rng.random() * interval)

    @property
    def has_left(self) -> bool:
        """Whether ``leave`` was called."""
        return self._left

    @property
    def is_shutdown(self) -> bool:
        """Whether ``shutdown`` was called."""
        return self._shutdown

    # ------------------------------------------------------------------------------------------
    # driving API

    def take_outputs(self) -> list[Output]:
        """Every output produced since the last call, in order; the outbox is then empty."""
        out = self._out
        self._out = []
        return out

    def next_timer(self) -> float | None:
        """The next absolute time (seconds) ``handle_timer`` must be called, or None.

        This is where memberlist re-plans: a parked gossip ticker whose delegate now holds
        broadcasts gets a wake-up due at once (see the wake contract in ``delegate``)."""
        if (
            self._gossip_parked
            and not self._shutdown
            and ("gossip_wake",) not in self._timers
            and self.delegate.pending_broadcasts(self._now)
        ):
            self._timers.schedule(("gossip_wake",), self._now)
        return self._timers.next_deadline()

    def handle_timer(self, now: float) -> None:
        """Run every deadline due at ``now``, in order (deadlines it creates at ≤ now too)."""
        self._now = now
        timers = self._timers
        while True:
            due = timers.pop_due(now)
            if not due:
                return
            for key in due:
                self._fire(key, now)

    def receive_packet(self, addr: Address, data: bytes, now: float) -> None:
        """Handle one UDP datagram from ``addr``."""
        self._now = now
        stats = self.stats
        stats.packets_in += 1
        stats.bytes_in += len(data)
        if self._shutdown:
            return
        try:
            msg = self.wire.unwrap_packet(data)
        except DecodeError as exc:
            self._drop(exc, addr)
            return
        self._handle_command(msg, addr, now)

    def accept_stream(self, addr: Address, now: float) -> int:
        """Register an inbound stream from ``addr``; returns its stream id."""
        self._now = now
        sid = self._new_sid()
        self.stats.streams_in += 1
        if self._shutdown or self._inbound >= MAX_INBOUND_STREAMS:
            self.stats.drop(DropReason.TOO_MANY_STREAMS)
            self._out.append(CloseStream(sid))
            return sid
        self._inbound += 1
        self._streams[sid] = Stream(sid, StreamKind.INBOUND, addr)
        self._timers.schedule(("stream", sid), now + self.config.tcp_timeout)
        return sid

    def stream_connected(self, sid: int, now: float) -> None:
        """Our ``OpenStream(sid)`` connected: send the request."""
        self._now = now
        st = self._streams.get(sid)
        if st is None or self._shutdown:
            return
        preamble = self.wire.stream_preamble()
        if st.kind is StreamKind.PUSH_PULL:
            self._send_stream(sid, self._local_state_message(st.join, now), preamble)
        elif st.kind is StreamKind.TCP_PING:
            ping = Ping(st.seq, st.payload.decode(), self._ip, self._port, self.config.name)
            self._send_stream(sid, encode_message(ping), preamble)
        elif st.kind is StreamKind.USER:
            self._send_stream(sid, encode_stream_message(UserMsg(st.payload)), preamble)
            self._close_stream(st)

    def stream_failed(self, sid: int, reason: str, now: float) -> None:
        """Stream ``sid`` could not connect, or broke."""
        self._now = now
        st = self._streams.get(sid)
        if st is None:
            return
        self._end_stream(st, reason, now, close=False)

    def receive_stream_data(self, sid: int, data: bytes, now: float) -> None:
        """Bytes arrived on stream ``sid``; ``b""`` means the peer closed it (EOF)."""
        self._now = now
        st = self._streams.get(sid)
        if st is None or self._shutdown:
            return
        if not data:
            self._end_stream(st, "EOF", now, close=True)
            return
        st.received += len(data)
        if st.received > MAX_STREAM_BYTES:
            self.stats.drop(DropReason.STREAM_TOO_LARGE)
            self._end_stream(st, "stream message too large", now, close=True)
            return
        if st.decoder is None:
            st.decoder = self.wire.stream_decoder(st.kind is StreamKind.INBOUND)
        try:
            msgs = st.decoder.feed(data)
        except DecodeError as exc:
            self.stats.drop(DropReason.of(exc))
            if st.kind is StreamKind.INBOUND and self.wire.is_outer_layer_error(exc):
                self._send_stream(sid, encode_message(ErrResp(str(exc))))
            self._end_stream(st, f"bad stream message: {exc}", now, close=True)
            return
        if not msgs:
            return
        msg = msgs[0]
        self._timers.cancel(("stream", sid))
        if st.kind is StreamKind.INBOUND:
            self._handle_inbound(st, msg, now)
        else:
            self._handle_reply(st, msg, now)

    # ------------------------------------------------------------------------------------------
    # commands

    def join(self, addrs: Iterable[Address], now: float) -> int:
        """Push/pull with ``join=True`` to every address; returns the op id.

        Emits ``JoinCompleted(op, joined, errors)`` once every exchange finished.
        """
        self._now = now
        if self._shutdown:
            raise InvalidState("memberlist is shut down")
        op = self._new_op()
        job = JoinOp()
        for addr in addrs:
            job.pending.add(self._open_push_pull(addr, True, now, op))
        self._joins[op] = job
        if not job.pending:
            self._finish_join(op)
        return op

    def leave(self, timeout: float, now: float) -> int:
        """Announce that we leave; returns the op id.

        Broadcasts a dead message about ourselves (peers record us as LEFT) and emits
        ``LeaveCompleted(op)`` once it was gossiped ``retransmit_limit`` times, or with an error
        after ``timeout`` seconds. Probing and gossip continue until ``shutdown``.
        """
        self._now = now
        if self._shutdown:
            raise InvalidState("memberlist is shut down")
        op = self._new_op()
        if self._left:
            self._out.append(LeaveCompleted(op))
            return op
        self._left = True
        self._leave_op = op
        me = self._node_map[self.config.name]
        self._dead_node(Dead(me.incarnation, me.name, me.name), now)
        if not self._any_alive():
            self._finish_leave(None)
        elif self._leave_op is not None:
            self._timers.schedule(("leave",), now + timeout)
        return op

    def shutdown(self, now: float) -> None:
        """Stop every task and close every stream; later inputs are ignored."""
        self._now = now
        if self._shutdown:
            return
        self._shutdown = True
        for st in list(self._streams.values()):
            self._out.append(CloseStream(st.sid))
        self._streams.clear()
        self._inbound = 0
        self._timers.clear()
        self._relays.clear()
        self._probe = None

    def update_node(self, now: float) -> None:
        """Re-read our metadata from the delegate and gossip it with a new incarnation."""
        self._now = now
        if self._shutdown:
            raise InvalidState("memberlist is shut down")
        self._set_alive(now)

    def send_best_effort(self, addr: Address, payload: bytes, now: float) -> None:
        """Send a user message to ``addr`` in one datagram (Go ``SendToAddress``)."""
        self._now = now
        self._raw_send(addr, USER_TYPE_BYTE + payload, None)

    def send_reliable(self, addr: Address, payload: bytes, now: float) -> int:
        """Send a user message to ``addr`` over a stream (Go ``SendReliable``); returns the sid."""
        self._now = now
        sid = self._new_sid()
        st = Stream(sid, StreamKind.USER, addr)
        st.payload = payload
        self._open(st, now, self.config.tcp_timeout)
        return sid

    # ------------------------------------------------------------------------------------------
    # timers

    def _schedule_tasks(self, now: float) -> None:
        cfg = self.config
        rng = self.rng
        starts: list[tuple[tuple[str], float]] = []
        if cfg.probe_interval > 0:
            starts.append((("probe",), now + rng.random() * cfg.probe_interval))
        if cfg.push_pull_interval > 0:
            starts.append((("pushpull",), now + rng.random() * cfg.push_pull_interval))
        if cfg.gossip_interval > 0 and cfg.gossip_nodes > 0:
            starts.append((("gossip",), now + rng.random() * cfg.gossip_interval))
        for key, at in starts:
            self._tick_at[key] = at
            self._timers.schedule(key, at)

    def _fire(self, key: Hashable, now: float) -> None:
        assert isinstance(key, tuple)
        kind = key[0]
        if kind == "gossip":
            self._gossip(now)
            if (
                self._quiet_gossip
                and not self._broadcasts
                and not (self._delegate_broadcasts and self.delegate.pending_broadcasts(now))
            ):
                # Nothing to send and nobody else can add anything without telling us: park
                # the ticker (keeping its phase) until the next broadcast is queued.
                self._gossip_parked = True
            else:
                self._rearm(key, now, self.config.gossip_interval)
        elif kind == "probe":
            self._rearm(key, now, self.config.probe_interval)
            self._probe_tick(now)
        elif kind == "probe_timeout":
            self._probe_direct_timeout(key[1], now)
        elif kind == "probe_end":
            self._probe_deadline(key[1], now)
        elif kind == "relay":
            self._relay_expired(key[1], now)
        elif kind == "suspect":
            self._suspicion_expired(key[1], now)
        elif kind == "pushpull":
            interval = push_pull_scale(self.config.push_pull_interval, len(self._nodes))
            self._timers.schedule(key, now + interval)
            self._periodic_push_pull(now)
        elif kind == "stream":
            st = self._streams.get(key[1])
            if st is not None:
                self._end_stream(st, "i/o timeout", now, close=True)
        elif kind == "leave":
            self._finish_leave("timeout waiting for leave broadcast")
        elif kind == "gossip_wake":
            self._wake_gossip(now)

    def _wake_gossip(self, now: float) -> None:
        """Restart the parked gossip ticker at its next tick after ``now``."""
        if not self._gossip_parked:
            return
        self._gossip_parked = False
        self._timers.cancel(("gossip_wake",))
        if self._shutdown:
            return
        key = ("gossip",)
        interval = self.config.gossip_interval
        prev = self._tick_at.get(key, now)
        nxt = prev + interval * (int((now - prev) / interval) + 1)
        self._tick_at[key] = nxt
        self._timers.schedule(key, nxt)

    def _rearm(self, key: Hashable, now: float, interval: float) -> None:
        # Ticker semantics: keep the phase and skip ticks that were missed.
        prev = self._tick_at.get(key, now)
        nxt = prev + interval
        if nxt <= now:
            nxt = prev + interval * (int((now - prev) / interval) + 1)
        self._tick_at[key] = nxt
        self._timers.schedule(key, nxt)

    # ------------------------------------------------------------------------------------------
    # probing (Go probe / probeNode)

    def _probe_tick(self, now: float) -> None:
        if self._probe is not None:
            return  # the previous probe still runs; Go's ticker drops this tick
        nodes = self._nodes
        checked = 0
        while True:
            if checked >= len(nodes):
                return
            if self._probe_index >= len(nodes):
                self._reset_nodes(now)
                nodes = self._nodes
                self._probe_index = 0
                checked += 1
                continue
            # Fisher–Yates, one step per probe: swap a random entry not yet probed this round
            # into place. The round visits the nodes in the uniform random order Go gets by
            # shuffling the list at the start of each round, at O(1) per probe.
            i = self._probe_index
            j = self.rng.randrange(i, len(nodes))
            rec = nodes[j]
            nodes[j] = nodes[i]
            nodes[i] = rec
            self._probe_index = i + 1
            if rec.name == self.config.name or rec.state >= NodeState.DEAD:
                checked += 1
                continue
            self._probe_node(rec, now)
            return

    def _reset_nodes(self, now: float) -> None:
        """Reap nodes dead or left for longer than gossip_to_the_dead_time (the next round's
        order is drawn as it goes, see ``_probe_tick``)."""
        limit = self.config.gossip_to_the_dead_time
        keep: list[NodeRecord] = []
        for rec in self._nodes:
            if rec.state >= NodeState.DEAD and now - rec.state_change > limit:
                del self._node_map[rec.name]
                self._suspicions.pop(rec.name, None)
            else:
                keep.append(rec)
        self._nodes = keep

    def _probe_node(self, rec: NodeRecord, now: float) -> None:
        cfg = self.config
        target = rec.snapshot()
        seq = self._next_seq()
        interval = self._awareness.scale_timeout(cfg.probe_interval)
        probe = Probe(target, seq, now, now + interval)
        self._probe = probe
        self.stats.probes_sent += 1
        ping = encode_message(Ping(seq, rec.name, self._ip, self._port, cfg.name))
        if rec.state == NodeState.ALIVE:
            self._send_msg(rec.addr, ping, rec, now)
        else:
            suspect = encode_message(Suspect(rec.incarnation, rec.name, cfg.name))
            self._raw_send(rec.addr, make_compound([ping, suspect]), rec)
        # The end of the probe is armed when the direct ping times out: most probes are acked
        # before that, and then there is one timer to cancel, not two.
        self._timers.schedule(("probe_timeout", seq), now + cfg.probe_timeout)

    def _probe_direct_timeout(self, seq: int, now: float) -> None:
        probe = self._probe
        if probe is None or probe.seq != seq or probe.phase is not Phase.DIRECT:
            return
        self._timers.schedule(("probe_end", seq), probe.deadline)
        probe.phase = Phase.INDIRECT
        cfg = self.config
        target = probe.target
        me = cfg.name

        def exclude(rec: NodeRecord) -> bool:
            return rec.name == me or rec.name == target.name or rec.state != NodeState.ALIVE

        helpers = self._k_random_nodes(cfg.indirect_checks, exclude)
        for peer in helpers:
            nack = peer.vsn[1] >= 4
            if nack:
                probe.expected_nacks += 1
            req = IndirectPing(
                seq,
                ip_bytes(target.addr.host),
                target.addr.port,
                target.name,
                nack,
                self._ip,
                self._port,
                me,
            )
            self.stats.indirect_probes_sent += 1
            self._send_msg(peer.addr, encode_message(req), peer, now)
        if not cfg.disable_tcp_pings and target.vsn[1] >= 3:
            sid = self._new_sid()
            st = Stream(sid, StreamKind.TCP_PING, target.addr)
            st.seq = seq
            st.payload = target.name.encode()
            probe.tcp_sid = sid
            self.stats.tcp_probes_sent += 1
            self._open(st, now, max(probe.deadline - now, 0.0))

    def _probe_deadline(self, seq: int, now: float) -> None:
        probe = self._probe
        if probe is None or probe.seq != seq:
            return
        if probe.tcp_sid is not None and probe.tcp_sid in self._streams:
            probe.phase = Phase.WAIT_TCP  # Go waits for the fallback goroutine's verdict
            return
        self._probe_failed(probe, now)

    def _probe_succeeded(self, probe: Probe) -> None:
        self._probe = None
        self._timers.cancel(("probe_timeout", probe.seq))
        self._timers.cancel(("probe_end", probe.seq))
        self._awareness.apply_delta(-1)

    def _probe_failed(self, probe: Probe, now: float) -> None:
        self._probe = None
        self._timers.cancel(("probe_timeout", probe.seq))
        self._timers.cancel(("probe_end", probe.seq))
        if probe.tcp_ok:
            log.warning(
                "Was able to connect to %s but other probes failed, network may be misconfigured",
                probe.target.name,
            )
            self._awareness.apply_delta(-1)
            return
        if probe.expected_nacks > 0:
            delta = max(probe.expected_nacks - probe.nacks, 0)
        else:
            delta = 1
        self._awareness.apply_delta(delta)
        self.stats.probes_failed += 1
        log.info("Suspect %s has failed, no acks received", probe.target.name)
        target = probe.target
        self._suspect_node(Suspect(target.incarnation, target.name, self.config.name), now)

    def _tcp_ping_done(self, st: Stream, ok: bool, now: float) -> None:
        probe = self._probe
        if probe is None or probe.tcp_sid != st.sid:
            return
        probe.tcp_ok = ok
        probe.tcp_sid = None
        if probe.phase is Phase.WAIT_TCP:
            self._probe_failed(probe, now)

    def _relay_expired(self, seq: int, now: float) -> None:
        relay = self._relays.pop(seq, None)
        if relay is not None and relay.nack:
            self._send_msg(relay.requester, encode_message(Nack(relay.orig_seq)), None, now)

    # ------------------------------------------------------------------------------------------
    # gossip and push/pull schedules

    def _gossip(self, now: float) -> None:
        cfg = self.config
        avail = cfg.udp_buffer_size - COMPOUND_HEADER_OVERHEAD - self.wire.packet_overhead(True)
        # Ask for the first packet's broadcasts before choosing targets, so an idle cluster
        # costs no random draws (Go picks targets first). With no eligible target at all, that
        # first batch counts one transmission without being sent.
        msgs = self._get_broadcasts(COMPOUND_OVERHEAD, avail, now)
        if not msgs:
            return
        me = cfg.name
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

        for rec in self._k_random_nodes(cfg.gossip_nodes, exclude):
            if not msgs:
                msgs = self._get_broadcasts(COMPOUND_OVERHEAD, avail, now)
                if not msgs:
                    return
            if len(msgs) == 1:
                self._raw_send(rec.addr, msgs[0], rec)
            else:
                for compound in make_compounds(msgs):
                    self._raw_send(rec.addr, compound, rec)
            msgs = []

    def _periodic_push_pull(self, now: float) -> None:
        me = self.config.name
        peers = self._k_random_nodes(1, lambda rec: rec.name == me or rec.state != NodeState.ALIVE)
        if peers:
            self._open_push_pull(peers[0].addr, False, now, None)

    def _k_random_nodes(self, k: int, exclude: Callable[[NodeRecord], bool]) -> list[NodeRecord]:
        return k_random_nodes(self._nodes, k, exclude, self.rng)

    # ------------------------------------------------------------------------------------------
    # sending

    def _next_seq(self) -> int:
        self._seq_no = (self._seq_no + 1) & 0xFFFFFFFF
        return self._seq_no

    def _get_broadcasts(self, overhead: int, limit: int, now: float) -> list[bytes]:
        msgs = self._broadcasts.get_broadcasts(overhead, limit)
        used = 0
        for m in msgs:
            used += len(m) + overhead
        avail = limit - used
        if avail > overhead + USER_MSG_OVERHEAD:
            for payload in self.delegate.get_broadcasts(overhead + USER_MSG_OVERHEAD, avail, now):
                msgs.append(USER_TYPE_BYTE + payload)
        return msgs

    def _send_msg(self, addr: Address, msg: bytes, rec: NodeRecord | None, now: float) -> None:
        """Send ``msg`` with as many piggybacked broadcasts as fit (Go ``sendMsg``)."""
        avail = (
            self.config.udp_buffer_size
            - len(msg)
            - COMPOUND_HEADER_OVERHEAD
            - self.wire.packet_overhead(False)
        )
        extra = self._get_broadcasts(COMPOUND_OVERHEAD, avail, now)
        if not extra:
            self._raw_send(addr, msg, rec)
            return
        extra.insert(0, msg)
        for compound in make_compounds(extra):
            self._raw_send(addr, compound, rec)

    def _raw_send(self, addr: Address, msg: bytes, rec: NodeRecord | None) -> None:
        data = self.wire.wrap_packet(msg, rec is not None and rec.vsn[1] >= 5)
        self.stats.packets_out += 1
        self.stats.bytes_out += len(data)
        self._out.append(SendPacket(addr, data))

    # ------------------------------------------------------------------------------------------
    # inbound packets

    def _drop(self, exc: DecodeError, addr: Address) -> None:
        self.stats.drop(DropReason.of(exc))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("dropped packet from %s: %s", addr, exc)

    def _handle_command(self, data: bytes, addr: Address, now: float) -> None:
        try:
            parts = self.wire.explode(data)
        except DecodeError as exc:
            self._drop(exc, addr)
            return
        self.stats.messages_in += len(parts)
        for part in parts:
            try:
                msg = decode_packet_message(part)
            except DecodeError as exc:
                self._drop(exc, addr)
                continue
            self._dispatch(msg, addr, now)

    def _dispatch(self, msg: Message, addr: Address, now: float) -> None:
        # Most frequent first: gossip is mostly alive news.
        match msg:
            case Alive():
                self._alive_node(msg, now)
            case Ping():
                self._handle_ping(msg, addr, now)
            case Ack():
                self._handle_ack(msg, now)
            case Suspect():
                self._suspect_node(msg, now)
            case Dead():
                self._dead_node(msg, now)
            case UserMsg():
                self.delegate.notify_msg(msg.payload, now)
            case IndirectPing():
                self._handle_indirect_ping(msg, addr, now)
            case Nack():
                self._handle_nack(msg)
            case _:
                self.stats.drop(DropReason.UNEXPECTED_TYPE)

    def _reply_addr(self, source_addr: bytes, source_port: int, fallback: Address) -> Address:
        if source_addr and source_port:
            host = Address(ip_text_or(source_addr, fallback.host), source_port)
            return host
        return fallback

    def _handle_ping(self, ping: Ping, addr: Address, now: float) -> None:
        if ping.node and ping.node != self.config.name:
            log.warning("Got ping for unexpected node '%s' from=%s", ping.node, addr)
            self.stats.drop(DropReason.PING_WRONG_NODE)
            return
        ack = Ack(ping.seq_no, self.delegate.ack_payload(now))
        dest = self._reply_addr(ping.source_addr, ping.source_port, addr)
        self._send_msg(dest, encode_message(ack), None, now)

    def _handle_indirect_ping(self, req: IndirectPing, addr: Address, now: float) -> None:
        port = req.port
        if self.config.protocol_version < 2 or port == 0:
            port = self.config.bind_port
        target = Address(ip_text_or(req.target, ""), port)
        if not target.host:
            self.stats.drop(DropReason.BAD_INDIRECT_TARGET)
            return
        seq = self._next_seq()
        requester = self._reply_addr(req.source_addr, req.source_port, addr)
        self._relays[seq] = Relay(req.seq_no, requester, req.nack)
        self._timers.schedule(("relay", seq), now + self.config.probe_timeout)
        ping = Ping(seq, req.node, self._ip, self._port, self.config.name)
        self._send_msg(target, encode_message(ping), None, now)

    def _handle_ack(self, ack: Ack, now: float) -> None:
        seq = ack.seq_no
        probe = self._probe
        if probe is not None and probe.seq == seq:
            self.stats.acks_received += 1
            if probe.phase is Phase.DIRECT and self._ping_hook:
                rec = self._node_map.get(probe.target.name)
                node = rec.snapshot() if rec is not None else probe.target
                self.delegate.notify_ping_complete(node, now - probe.sent, ack.payload, now)
            self._probe_succeeded(probe)
            return
        relay = self._relays.pop(seq, None)
        if relay is not None:
            self.stats.acks_received += 1
            self._timers.cancel(("relay", seq))
            self._send_msg(relay.requester, encode_message(Ack(relay.orig_seq)), None, now)
            return
        self.stats.drop(DropReason.UNKNOWN_ACK)

    def _handle_nack(self, nack: Nack) -> None:
        probe = self._probe
        if probe is not None and probe.seq == nack.seq_no:
            self.stats.nacks_received += 1
            probe.nacks += 1
        else:
            self.stats.drop(DropReason.UNKNOWN_NACK)

    # ------------------------------------------------------------------------------------------
    # state changes (Go aliveNode / suspectNode / deadNode / refute)

    def _set_alive(self, now: float) -> None:
        meta = self.delegate.node_meta(META_MAX_SIZE, now)
        if len(meta) > META_MAX_SIZE:
            raise InvalidState(f"node meta of {len(meta)} bytes exceeds {META_MAX_SIZE}")
        self._incarnation += 1
        alive = Alive(
            self._incarnation, self.config.name, self._ip, self._port, meta, self._vsn_bytes
        )
        self._alive_node(alive, now, bootstrap=True)

    def _encode_and_broadcast(
        self,
        name: str,
        msg: Message,
        now: float,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self._broadcasts.queue_broadcast(
            Broadcast(encode_message(msg), name=name, on_finished=on_finished)
        )
        self._wake_gossip(now)

    def _alive_node(self, a: Alive, now: float, bootstrap: bool = False) -> None:
        cfg = self.config
        rec = self._node_map.get(a.node)
        port = a.port if (cfg.protocol_version >= 2 and a.port) else cfg.bind_port
        is_local = a.node == cfg.name
        if (
            rec is not None
            and a.incarnation <= rec.incarnation
            and not is_local
            and rec.ip == a.addr
            and rec.addr.port == port
        ):
            return  # old news (the common case in gossip); the rules below would ignore it
        if self._left and is_local:
            return
        vsn = a.vsn
        if not valid_alive_vsn(vsn):
            log.warning(
                "Ignoring an alive message for '%s' (%s:%d) with invalid protocol versions: %s",
                a.node,
                ip_text_or(a.addr, "?"),
                a.port,
                list(vsn),
            )
            self.stats.drop(DropReason.BAD_VSN)
            return
        if self._alive_hook and (not bootstrap or not is_local):
            err = self.delegate.notify_alive(self._node_from_alive(a, port, rec), now)
            if err is not None:
                log.warning("ignoring alive message for '%s': %s", a.node, err)
                self.stats.drop(DropReason.ALIVE_VETOED)
                return
        address_changed = rec is not None and (rec.ip != a.addr or rec.addr.port != port)
        can_reclaim = (
            rec is not None
            and cfg.dead_node_reclaim_time > 0
            and now - rec.state_change > cfg.dead_node_reclaim_time
        )
        verdict = alive_verdict(
            known_state=None if rec is None else rec.state,
            known_incarnation=0 if rec is None else rec.incarnation,
            incarnation=a.incarnation,
            is_local=is_local,
            address_changed=address_changed,
            can_reclaim=can_reclaim,
            bootstrap=bootstrap,
            identical_to_local=rec is not None and a.meta == rec.meta and vsn == self._vsn_bytes,
        )
        if verdict is Verdict.IGNORE:
            return
        if verdict is Verdict.CONFLICT:
            assert rec is not None
            log.error(
                "Conflicting address for %s. Mine: %s Theirs: %s:%d Old state: %d",
                a.node,
                rec.addr,
                ip_text_or(a.addr, "?"),
                port,
                int(rec.state),
            )
            self.delegate.notify_conflict(rec.snapshot(), self._node_from_alive(a, port, rec), now)
            return
        if rec is None:
            rec = NodeRecord(
                a.node,
                a.addr,
                port,
                a.meta,
                0,
                NodeState.DEAD,
                vsn_tuple(vsn) if vsn else NO_VSN,
                now,
            )
            self._node_map[a.node] = rec
            self._insert_random(rec)
        else:
            if address_changed:
                log.info(
                    "Updating address for left or failed node %s from %s to %s:%d",
                    a.node,
                    rec.addr,
                    ip_text_or(a.addr, "?"),
                    port,
                )
            rec = self._writable(rec)
        # Any suspicion is over.
        if self._suspicions.pop(a.node, None) is not None:
            self._timers.cancel(("suspect", a.node))
        old_state = rec.state
        old_meta = rec.meta
        if verdict is Verdict.REFUTE:
            self._refute(rec, a.incarnation, now)
            log.warning(
                "Refuting an alive message for '%s' (%s:%d)",
                a.node,
                ip_text_or(a.addr, "?"),
                port,
            )
        else:
            self._encode_and_broadcast(a.node, a, now)
            if vsn:
                rec.vsn = vsn_tuple(vsn)
            rec.incarnation = a.incarnation
            rec.meta = a.meta
            rec.set_address(a.addr, port)
            rec.wire_cache = None
            if rec.state != NodeState.ALIVE:
                rec.state = NodeState.ALIVE
                rec.state_change = now
        if old_state >= NodeState.DEAD:
            self.delegate.notify_join(rec.snapshot(), now)
        elif old_meta != rec.meta:
            self.delegate.notify_update(rec.snapshot(), now)

    def _suspect_node(self, s: Suspect, now: float) -> None:
        rec = self._node_map.get(s.node)
        susp = self._suspicions.get(s.node)
        verdict = suspect_verdict(
            known_state=None if rec is None else rec.state,
            known_incarnation=0 if rec is None else rec.incarnation,
            incarnation=s.incarnation,
            is_local=s.node == self.config.name,
            suspected=susp is not None,
        )
        if verdict is Verdict.IGNORE:
            return
        assert rec is not None
        if verdict is Verdict.CONFIRM:
            assert susp is not None
            if susp.confirm(s.from_node, now):
                self._encode_and_broadcast(s.node, s, now)
                self._timers.schedule(("suspect", s.node), max(susp.deadline, now))
            return
        if verdict is Verdict.REFUTE:
            self._refute(rec, s.incarnation, now)
            log.warning("Refuting a suspect message (from: %s)", s.from_node)
            return
        self._encode_and_broadcast(s.node, s, now)
        self.stats.suspicions += 1
        rec = self._writable(rec)
        rec.incarnation = s.incarnation
        rec.state = NodeState.SUSPECT
        rec.wire_cache = None
        rec.state_change = now
        cfg = self.config
        k = cfg.suspicion_mult - 2
        n = len(self._nodes)
        if n - 2 < k:
            k = 0
        minimum = suspicion_timeout(cfg.suspicion_mult, n, cfg.probe_interval)
        maximum = cfg.suspicion_max_timeout_mult * minimum
        susp = Suspicion(s.from_node, k, minimum, maximum, now, s.incarnation)
        self._suspicions[s.node] = susp
        self._timers.schedule(("suspect", s.node), susp.deadline)

    def _suspicion_expired(self, name: str, now: float) -> None:
        susp = self._suspicions.pop(name, None)
        rec = self._node_map.get(name)
        if susp is None or rec is None:
            return
        if rec.state != NodeState.SUSPECT or rec.state_change != susp.start:
            return
        log.info(
            "Marking %s as failed, suspect timeout reached (%d peer confirmations)",
            name,
            susp.n,
        )
        self.stats.dead_declared += 1
        self._dead_node(Dead(rec.incarnation, name, self.config.name), now)

    def _dead_node(self, d: Dead, now: float) -> None:
        rec = self._node_map.get(d.node)
        if rec is None or d.incarnation < rec.incarnation:
            return
        if self._suspicions.pop(d.node, None) is not None:
            self._timers.cancel(("suspect", d.node))
        is_local = d.node == self.config.name
        verdict = dead_verdict(
            known_state=rec.state,
            known_incarnation=rec.incarnation,
            incarnation=d.incarnation,
            is_local=is_local,
            leaving=self._left,
        )
        if verdict is Verdict.IGNORE:
            return
        if verdict is Verdict.REFUTE:
            self._refute(rec, d.incarnation, now)
            log.warning("Refuting a dead message (from: %s)", d.from_node)
            return
        if is_local:
            self._encode_and_broadcast(d.node, d, now, self._leave_broadcast_done)
        else:
            self._encode_and_broadcast(d.node, d, now)
        rec = self._writable(rec)
        rec.incarnation = d.incarnation
        rec.state = NodeState.LEFT if d.node == d.from_node else NodeState.DEAD
        rec.wire_cache = None
        rec.state_change = now
        self.delegate.notify_leave(rec.snapshot(), now)

    def _refute(self, me: NodeRecord, accused: int, now: float) -> None:
        self._incarnation += 1
        if accused >= self._incarnation:
            self._incarnation = accused + 1
        me = self._writable(me)
        me.incarnation = self._incarnation
        me.wire_cache = None
        self.stats.refutations += 1
        self._awareness.apply_delta(1)
        alive = Alive(me.incarnation, me.name, me.ip, me.addr.port, me.meta, self._vsn_bytes)
        self._encode_and_broadcast(me.name, alive, now)

    def _is_old_news(self, s: PushNodeState) -> bool:
        """Whether a peer's *alive* entry changes nothing here: a known node, same address,
        no newer incarnation (what ``_alive_node`` would return on at once)."""
        rec = self._node_map.get(s.name)
        if rec is None or s.incarnation > rec.incarnation or s.name == self.config.name:
            return False
        port = s.port if (self.config.protocol_version >= 2 and s.port) else self.config.bind_port
        return rec.ip == s.addr and rec.addr.port == port

    def _writable(self, rec: NodeRecord) -> NodeRecord:
        """``rec`` if it is ours, else our private copy of the shared record, which replaces it
        in the table and in the probe list (see :mod:`serf_proto.shared_table`)."""
        mine = self._node_map.own(rec.name, NodeRecord.copy)
        if mine is not rec:
            nodes = self._nodes
            nodes[nodes.index(rec)] = mine
        return mine

    def _insert_random(self, rec: NodeRecord) -> None:
        nodes = self._nodes
        n = len(nodes)
        offset = self.rng.randrange(n) if n > 0 else 0
        nodes.append(rec)
        nodes[offset], nodes[n] = nodes[n], nodes[offset]

    def _node_from_alive(self, a: Alive, port: int, rec: NodeRecord | None) -> Node:
        vsn = vsn_tuple(a.vsn) if len(a.vsn) == 6 else (rec.vsn if rec else NO_VSN)
        return Node(
            a.node,
            Address(ip_text_or(a.addr, ""), port),
            a.meta,
            NodeState.ALIVE,
            a.incarnation,
            vsn,
        )

    def _any_alive(self) -> bool:
        me = self.config.name
        return any(rec.state < NodeState.DEAD and rec.name != me for rec in self._nodes)

    # ------------------------------------------------------------------------------------------
    # join / leave completion

    def _new_op(self) -> int:
        self._next_op += 1
        return self._next_op

    def _finish_join(self, op: int) -> None:
        job = self._joins.pop(op, None)
        if job is not None:
            self._out.append(JoinCompleted(op, job.joined, tuple(job.errors)))

    def _leave_broadcast_done(self) -> None:
        if self._left:
            self._finish_leave(None)

    def _finish_leave(self, error: str | None) -> None:
        op = self._leave_op
        if op is None:
            return
        self._leave_op = None
        self._timers.cancel(("leave",))
        self._out.append(LeaveCompleted(op, error))

    # ------------------------------------------------------------------------------------------
    # streams

    def _new_sid(self) -> int:
        self._next_sid += 1
        return self._next_sid

    def _open(self, st: Stream, now: float, timeout: float) -> None:
        self._streams[st.sid] = st
        self.stats.streams_out += 1
        self._out.append(OpenStream(st.sid, st.addr, timeout))
        self._timers.schedule(("stream", st.sid), now + timeout)

    def _open_push_pull(self, addr: Address, join: bool, now: float, op: int | None) -> int:
        sid = self._new_sid()
        st = Stream(sid, StreamKind.PUSH_PULL, addr)
        st.join = join
        st.op = op
        self._open(st, now, self.config.tcp_timeout)
        return sid

    def _send_stream(self, sid: int, msg: bytes, preamble: bytes = b"") -> None:
        self._out.append(SendStream(sid, preamble + self.wire.wrap_stream(msg)))

    def _forget_stream(self, st: Stream) -> None:
        if self._streams.pop(st.sid, None) is not None and st.kind is StreamKind.INBOUND:
            self._inbound -= 1

    def _close_stream(self, st: Stream) -> None:
        self._forget_stream(st)
        self._timers.cancel(("stream", st.sid))
        self._out.append(CloseStream(st.sid))

    def _end_stream(self, st: Stream, reason: str, now: float, *, close: bool) -> None:
        """Stream ``st`` ended without the reply it waited for."""
        if close:
            self._close_stream(st)
        else:
            self._forget_stream(st)
            self._timers.cancel(("stream", st.sid))
        if st.kind is StreamKind.PUSH_PULL:
            self._push_pull_done(st, reason)
        elif st.kind is StreamKind.TCP_PING:
            self._tcp_ping_done(st, False, now)

    def _push_pull_done(self, st: Stream, reason: str | None) -> None:
        """A push/pull ended; ``reason`` says why it failed (None: merged)."""
        error = None
        if reason is None:
            self.stats.push_pulls += 1
        elif st.op is None:
            log.error("Push/Pull with %s failed: %s", st.addr, reason)
        else:
            error = f"Failed to join {st.addr.host}: {reason}"
        op = st.op
        if op is None:
            return
        job = self._joins.get(op)
        if job is None:
            return
        job.pending.discard(st.sid)
        if error is None:
            job.joined += 1
        else:
            job.errors.append(error)
        if not job.pending:
            self._finish_join(op)

    def _local_state_message(self, join: bool, now: float) -> bytes:
        return encode_local_state(self._nodes, self.delegate.local_state(join, now), join)

    def _handle_inbound(self, st: Stream, msg: Message, now: float) -> None:
        t = type(msg)
        if t is Ping:
            assert isinstance(msg, Ping)
            if msg.node and msg.node != self.config.name:
                log.warning("Got ping for unexpected node %s", msg.node)
                self._close_stream(st)
                return
            self._send_stream(st.sid, encode_message(Ack(msg.seq_no)))
            self._close_stream(st)
        elif t is PushPull:
            assert isinstance(msg, PushPull)
            self._send_stream(st.sid, self._local_state_message(msg.join, now))
            self._close_stream(st)
            error = self._merge_remote_state(msg, now)
            if error is not None:
                log.error("Failed push/pull merge: %s", error)
            else:
                self.stats.push_pulls += 1
        elif t is UserMsg:
            assert isinstance(msg, UserMsg)
            self._close_stream(st)
            self.delegate.notify_msg(msg.payload, now)
        else:
            log.error("Received invalid msgType on stream")
            self.stats.drop(DropReason.UNEXPECTED_STREAM_TYPE)
            self._close_stream(st)

    def _handle_reply(self, st: Stream, msg: Message, now: float) -> None:
        self._close_stream(st)
        if st.kind is StreamKind.PUSH_PULL:
            if isinstance(msg, ErrResp):
                self._push_pull_done(st, f"remote error: {msg.error}")
            elif isinstance(msg, PushPull):
                self._push_pull_done(st, self._merge_remote_state(msg, now))
            else:
                expected = int(MessageType.PUSH_PULL)
                self._push_pull_done(
                    st, f"received invalid msgType, expected pushPullMsg ({expected})"
                )
        elif st.kind is StreamKind.TCP_PING:
            ok = isinstance(msg, Ack) and msg.seq_no == st.seq
            self._tcp_ping_done(st, ok, now)

    def _merge_remote_state(self, msg: PushPull, now: float) -> str | None:
        error = verify_protocol(msg.states, self._nodes)
        if error is not None:
            return error
        if self._merge_hook:
            veto = self.delegate.notify_merge(remote_nodes(msg.states), now)
            if veto is not None:
                return veto
        for news in merge_news(msg.states, self.config.name, self._is_old_news):
            match news:
                case Alive():
                    self._alive_node(news, now)
                case Dead():
                    self._dead_node(news, now)
                case Suspect():
                    self._suspect_node(news, now)
        if msg.user_state:
            self.delegate.merge_remote_state(msg.user_state, msg.join, now)
        return None


def ip_text_or(raw: bytes, default: str) -> str:
    """The text form of IP bytes, or ``default`` when they are not an IP."""
    return ip_text(raw) or default
