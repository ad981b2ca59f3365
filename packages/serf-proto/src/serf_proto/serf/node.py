"""``SerfNode``: the Serf layer over the membership core, as a sans-IO state machine.

Theory of operation
-------------------
A Serf node owns one :class:`~serf_proto.memberlist.Memberlist` and plugs into it through
:class:`~serf_proto.serf.delegate.SerfDelegate`. Memberlist answers "who is reachable"; Serf adds

* **Lamport clocks** (member, event, query) that order intents, user events and queries;
* **intents**: gossiped join/leave messages that say *why* a node went away, so a graceful
  leave (``left``) is told apart from a crash (``failed``);
* **user events** and **queries**, gossiped on their own broadcast queues (drained after the
  intent queue whenever memberlist builds a packet), de-duplicated by Lamport-indexed rings;
* **tags** carried as memberlist node meta, and **Vivaldi coordinates** carried in probe acks;
* **anti-entropy**: clocks, intents (as status times and left members) and the event ring ride
  in memberlist's push/pull user state.

Every Go goroutine becomes a key in this node's :class:`~serf_proto.timers.TimerQueue`: the
reaper (``reap``), the reconnector (``reconnect``), the queue-depth check (``queue_check``), the
coalescers (``coalesce_member``/``coalesce_user``), open queries (``("query", op)``), pruning of
a leaving member (``("prune", name)``), the snapshot clock check and the graceful-leave phases.
Go's blocking ``Leave()`` is a phase machine: BROADCAST (wait until the leave intent was sent
often enough, at most ``broadcast_timeout``) → MEMBERLIST (memberlist's own leave) → PROPAGATE
(``leave_propagate_delay``) → ``LeaveCompleted``.

Inputs carry ``now`` (monotonic seconds); randomness comes from the injected ``rng``. Outputs
(memberlist's I/O commands, events and command results) leave through one ordered outbox,
``take_outputs()``. The node is single-threaded: call it from one task only. Remote garbage is
dropped and counted in :attr:`SerfNode.dropped`; local misuse raises a ``SerfError`` before any
state changes.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Literal

from serf_proto.broadcast import Broadcast, TransmitLimitedQueue
from serf_proto.coordinate import CoordinateError, VivaldiClient
from serf_proto.errors import DecodeError, InvalidState, PayloadTooLarge, UnknownQuery
from serf_proto.events import (
    Event,
    JoinCompleted,
    KeyOpCompleted,
    KeyringChanged,
    LeaveCompleted,
    MemberEvent,
    MemberEventType,
    NodeShutdown,
    Query,
    QueryAck,
    QueryDone,
    QueryResponse,
    SnapshotAppend,
    UserEvent,
)
from serf_proto.memberlist.core import Memberlist
from serf_proto.memberlist.state import Node, ip_bytes, ip_text
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.serf.coalesce import MemberEventCoalescer, UserEventCoalescer
from serf_proto.serf.config import SerfConfig
from serf_proto.serf.delegate import SerfDelegate
from serf_proto.serf.internal_query import (
    CONFLICT_QUERY,
    KEY_QUERIES,
    PING_QUERY,
    ConflictVote,
    conflict_answer,
)
from serf_proto.serf.keymanager import (
    KeyOp,
    KeyOpAggregate,
    decode_key,
    encode_key_request,
    fit_key_list,
    handle_key_request,
)
from serf_proto.serf.lamport import Clocks, LamportClock
from serf_proto.serf.members import MemberState, MemberTable, SharedTables
from serf_proto.serf.query import (
    INTERNAL_QUERY_PREFIX,
    QueryBuffer,
    QueryCollector,
    QueryParams,
    QueryVerdict,
    default_query_timeout,
    filters_match,
)
from serf_proto.serf.snapshot import (
    CLOCK_UPDATE_INTERVAL,
    RecoveredState,
    SnapshotError,
    Snapshotter,
    SnapshotUpdate,
    parse_address,
)
from serf_proto.serf.user_events import EventBuffer, EventVerdict
from serf_proto.shared_table import SharedTable
from serf_proto.timers import TimerQueue
from serf_proto.types import Address, Member, MemberStatus
from serf_proto.wire import (
    QUERY_FLAG_ACK,
    QUERY_FLAG_NO_BROADCAST,
    QUERY_RESPONSE_FLAG_ACK,
    Coordinate,
    Keyring,
    MessageJoin,
    MessageKeyResponse,
    MessageLeave,
    MessagePushPull,
    MessageQuery,
    MessageQueryResponse,
    MessageRelay,
    MessageUserEvent,
    SerfMessageType,
    decode_ack_payload,
    decode_serf_message,
    decode_tags,
    encode_ack_payload,
    encode_filter,
    encode_serf_message,
    encode_tags,
    make_member_info,
)
from serf_proto.wire.limits import META_MAX_SIZE

__all__ = ["SerfNode", "SerfState"]

log = logging.getLogger("serf_proto.serf")

Output = SendPacket | OpenStream | SendStream | CloseStream | Event

#: memberlist protocol version each Serf protocol runs on (Go ``ProtocolVersionMap``).
MEMBERLIST_PROTOCOL = 2
#: Random 31-bit query ids, as Go's ``uint32(rand.Int31())``.
_QUERY_ID_BITS = 31


class SerfState(IntEnum):
    """The local node's lifecycle (Go ``SerfState``)."""

    ALIVE = 0
    LEAVING = 1
    LEFT = 2
    SHUTDOWN = 3

    def __str__(self) -> str:
        return self.name.lower()


class _LeavePhase(Enum):
    BROADCAST = "broadcast"
    MEMBERLIST = "memberlist"
    PROPAGATE = "propagate"


@dataclass(slots=True)
class _LeaveOp:
    op: int
    phase: _LeavePhase
    error: str | None = None


@dataclass(slots=True)
class _MlJoin:
    """What a memberlist join was for: a user ``join``, a reconnect or a snapshot rejoin."""

    kind: Literal["user", "reconnect", "rejoin"]
    op: int = 0
    ignore_old: bool = False
    remaining: tuple[Address, ...] = ()


@dataclass(slots=True)
class _Inbound:
    """A query delivered here that may still be answered (until ``deadline``)."""

    deadline: float
    addr: Address
    source_node: str
    relay_factor: int


class SerfNode:
    """One Serf node over one memberlist; see the module docstring.

    Args:
        config: the node's configuration (``SerfConfig.lan(name)`` etc.).
        now: current monotonic time in seconds.
        rng: the only source of random choices.
        entropy: ``entropy(n)`` returns ``n`` unpredictable bytes (AES-GCM nonces).
        recovered: state replayed from a snapshot (``parse_snapshot``): resumes the clocks,
            refuses events and queries already seen, and rejoins the members it lists.
    """

    def __init__(
        self,
        config: SerfConfig,
        *,
        now: float,
        rng: random.Random,
        entropy: Callable[[int], bytes] = os.urandom,
        recovered: RecoveredState | None = None,
    ) -> None:
        self.config = config
        self.rng = rng
        self.name = config.node_name
        self.dropped: dict[str, int] = {}
        self.counters: dict[str, int] = {}
        self._now = now
        self._out: list[Output] = []
        self._timers: TimerQueue[Hashable] = TimerQueue()
        self._state = SerfState.ALIVE
        self._tags: dict[str, str] = dict(config.tags)
        self._next_op = 0
        self._clock = LamportClock()
        self._event_clock = LamportClock()
        self._query_clock = LamportClock()
        self._clock.increment()
        self._event_clock.increment()
        self._query_clock.increment()
        self._events = EventBuffer(config.event_buffer)
        self._queries = QueryBuffer(config.query_buffer)
        self._members = MemberTable(self.name)
        self._ignore_old_joins = 0
        self._collectors: dict[int, QueryCollector] = {}  # by query ltime
        self._query_ops: dict[int, QueryCollector] = {}  # by op
        self._key_ops: dict[int, KeyOpAggregate] = {}
        self._conflict: tuple[int, ConflictVote] | None = None
        self._inbound: dict[tuple[int, int], _Inbound] = {}
        self._ml_joins: dict[int, _MlJoin] = {}
        self._leave: _LeaveOp | None = None
        self._coord_client: VivaldiClient | None = None
        self._coord_cache: dict[str, Coordinate] = {}
        if not config.disable_coordinates:
            self._coord_client = VivaldiClient(config.vivaldi, rng)
        self._member_coalescer: MemberEventCoalescer | None = None
        if config.coalesce_period > 0 and config.quiescent_period > 0:
            self._member_coalescer = MemberEventCoalescer(
                config.coalesce_period, config.quiescent_period
            )
        self._user_coalescer: UserEventCoalescer | None = None
        if config.user_coalesce_period > 0 and config.user_quiescent_period > 0:
            self._user_coalescer = UserEventCoalescer(
                config.user_coalesce_period, config.user_quiescent_period
            )
        self._snapshotter: Snapshotter | None = None
        if config.snapshot:
            base = recovered if recovered is not None else RecoveredState()
            self._snapshotter = Snapshotter.resume(
                base, rejoin_after_leave=config.rejoin_after_leave, compaction=False
            )
        if recovered is not None:
            self._clock.witness(recovered.clock)
            self._event_clock.witness(recovered.event_clock)
            self._query_clock.witness(recovered.query_clock)
            self._events.min_time = recovered.event_clock + 1
            self._queries.min_time = recovered.query_clock + 1
        self._keyring = Keyring(config.keys) if config.keys else None
        ml_config = config.memberlist.replace(
            protocol_version=MEMBERLIST_PROTOCOL,
            delegate_protocol_min=2,
            delegate_protocol_max=5,
            delegate_protocol_version=config.protocol_version,
        )
        retransmit = ml_config.retransmit_mult
        self._intent_queue = TransmitLimitedQueue(retransmit, self._num_members)
        self._event_queue = TransmitLimitedQueue(retransmit, self._num_members)
        self._query_queue = TransmitLimitedQueue(retransmit, self._num_members)
        self._ml = Memberlist(
            ml_config,
            SerfDelegate(self),
            now=now,
            rng=rng,
            entropy=entropy,
            keyring=self._keyring,
        )
        self._timers.schedule(("reap",), now + config.reap_interval)
        self._timers.schedule(("reconnect",), now + config.reconnect_interval)
        self._timers.schedule(("queue_check",), now + config.queue_check_interval)
        if self._snapshotter is not None:
            self._timers.schedule(("snapshot_clock",), now + CLOCK_UPDATE_INTERVAL)
        if recovered is not None and recovered.alive:
            self._start_rejoin(recovered, now)
        self._drain_memberlist()

    # ------------------------------------------------------------------------------------------
    # reads

    @property
    def state(self) -> SerfState:
        """The local lifecycle state."""
        return self._state

    @property
    def memberlist(self) -> Memberlist:
        """The membership core this node drives (read it, do not drive it directly)."""
        return self._ml

    @property
    def keyring(self) -> Keyring | None:
        """The gossip keyring, or None when encryption is off."""
        return self._keyring

    @property
    def tags(self) -> dict[str, str]:
        """Our current tags (a copy)."""
        return dict(self._tags)

    def members(self) -> list[Member]:
        """Every known member, whatever its status (Go ``Members``)."""
        return self._members.views()

    def share_tables(self, now: float) -> SharedTables:
        """Freeze our memberlist and member tables into a base that fresh nodes adopt with
        :meth:`adopt_tables`; we keep using it copy-on-write. For the simulator's converged
        start (see :mod:`serf_proto.shared_table`): N nodes then share one table, not N."""
        self._now = now
        members = dict(self._members.members.items())
        self._members.members = SharedTable(members)
        self._members.own_entry(self.name)
        return SharedTables(self._ml.shared_start().share(now), members, self._clock.time())

    def adopt_tables(self, base: SharedTables, now: float) -> None:
        """Know every node of ``base`` (another node's :meth:`share_tables`) as that node knew
        it, without the gossip that taught it: memberlist adopts the node table and Serf the
        member table, copy-on-write, keeping our own entries; the member clock witnesses the
        base's. No member events are emitted. Only a fresh node can adopt tables."""
        self._now = now
        mine = self._members.get(self.name)
        if len(self._members) != 1 or mine is None or self._members.failed or self._members.left:
            raise InvalidState("only a node that knows nothing but itself can adopt tables")
        self._ml.shared_start().adopt(base.nodes, now)
        table = SharedTable(base.members)
        table[self.name] = mine
        self._members.members = table
        self._clock.witness(base.member_clock)

    def local_member(self) -> Member:
        """Our own member entry."""
        me = self._members.get(self.name)
        if me is not None:
            return me.view()
        node = self._ml.local_node
        return Member(self.name, node.addr, dict(self._tags), MemberStatus.ALIVE)

    def clocks(self) -> Clocks:
        """Current member, event and query Lamport times."""
        return Clocks(self._clock.time(), self._event_clock.time(), self._query_clock.time())

    def coordinate(self) -> Coordinate:
        """Our Vivaldi coordinate; raises ``InvalidState`` when coordinates are disabled."""
        if self._coord_client is None:
            raise InvalidState("Coordinates are disabled")
        return self._coord_client.get_coordinate()

    def cached_coordinate(self, name: str) -> Coordinate | None:
        """The last coordinate seen for ``name`` (ours included), or None."""
        if self._coord_client is None:
            raise InvalidState("Coordinates are disabled")
        return self._coord_cache.get(name)

    def encryption_enabled(self) -> bool:
        """Whether gossip is encrypted (a keyring with at least one key)."""
        return self._keyring is not None and len(self._keyring) > 0

    def default_query_timeout(self) -> float:
        """Seconds a query stays open by default for the current cluster size."""
        return default_query_timeout(
            self._ml.config.gossip_interval, self.config.query_timeout_mult, self._ml.num_members()
        )

    def stats(self) -> dict[str, str]:
        """Go's ``Serf.Stats()``: counters as decimal strings."""
        out = {
            "members": str(len(self._members)),
            "failed": str(len(self._members.failed)),
            "left": str(len(self._members.left)),
            "health_score": str(self._ml.health_score()),
            "member_time": str(self._clock.time()),
            "event_time": str(self._event_clock.time()),
            "query_time": str(self._query_clock.time()),
            "intent_queue": str(self._intent_queue.num_queued()),
            "event_queue": str(self._event_queue.num_queued()),
            "query_queue": str(self._query_queue.num_queued()),
            "encrypted": "true" if self.encryption_enabled() else "false",
        }
        if self._coord_client is not None:
            out["coordinate_resets"] = str(self._coord_client.resets)
        return out

    # ------------------------------------------------------------------------------------------
    # driving API (same as Memberlist)

    def take_outputs(self) -> list[Output]:
        """Every output since the last call, in order; the outbox is then empty."""
        self._drain_memberlist()
        out = self._out
        self._out = []
        return out

    def next_timer(self) -> float | None:
        """The next absolute time (seconds) ``handle_timer`` must be called, or None."""
        ours = self._timers.next_deadline()
        theirs = None if self._state is SerfState.SHUTDOWN else self._ml.next_timer()
        if ours is None:
            return theirs
        if theirs is None:
            return ours
        return min(ours, theirs)

    def handle_timer(self, now: float) -> None:
        """Run everything due at ``now`` (memberlist's deadlines and ours)."""
        self._now = now
        if self._state is not SerfState.SHUTDOWN:
            self._ml.handle_timer(now)
            self._drain_memberlist()
        while True:
            due = self._timers.pop_due(now)
            if not due:
                break
            for key in due:
                self._fire(key, now)
                self._drain_memberlist()

    def receive_packet(self, addr: Address, data: bytes, now: float) -> None:
        """Handle one UDP datagram from ``addr``."""
        self._now = now
        if self._state is SerfState.SHUTDOWN:
            return
        self._ml.receive_packet(addr, data, now)
        self._drain_memberlist()

    def accept_stream(self, addr: Address, now: float) -> int:
        """Register an inbound TCP connection from ``addr``; returns its stream id."""
        self._now = now
        sid = self._ml.accept_stream(addr, now)
        self._drain_memberlist()
        return sid

    def stream_connected(self, sid: int, now: float) -> None:
        """Our ``OpenStream(sid)`` connected."""
        self._now = now
        self._ml.stream_connected(sid, now)
        self._drain_memberlist()

    def stream_failed(self, sid: int, reason: str, now: float) -> None:
        """Stream ``sid`` could not connect, or broke."""
        self._now = now
        self._ml.stream_failed(sid, reason, now)
        self._drain_memberlist()

    def receive_stream_data(self, sid: int, data: bytes, now: float) -> None:
        """Bytes arrived on stream ``sid``; ``b""`` means EOF."""
        self._now = now
        self._ml.receive_stream_data(sid, data, now)
        self._drain_memberlist()

    # ------------------------------------------------------------------------------------------
    # commands

    def join(self, addrs: Iterable[Address], now: float, ignore_old: bool = False) -> int:
        """Join the cluster through ``addrs``; returns the op id.

        Emits ``JoinCompleted(op, joined, errors)``; if any node answered, a join intent is
        gossiped. With ``ignore_old``, user events older than the peers' event clocks are
        not delivered. Raises ``InvalidState`` after leave or shutdown.
        """
        self._now = now
        if self._state is not SerfState.ALIVE:
            raise InvalidState("Serf can't Join after Leave or Shutdown")
        op = self._new_op()
        ml_op = self._ml.join(list(addrs), now)
        self._ml_joins[ml_op] = _MlJoin("user", op, ignore_old)
        if ignore_old:
            self._ignore_old_joins += 1
        self._drain_memberlist()
        return op

    def leave(self, now: float) -> int:
        """Leave gracefully; returns the op id, completed by ``LeaveCompleted``.

        Gossips a leave intent (waiting up to ``broadcast_timeout`` for it to go out), then
        memberlist's leave, then waits ``leave_propagate_delay`` while still answering probes.
        Raises ``InvalidState`` while already leaving or after shutdown.
        """
        self._now = now
        if self._state is SerfState.LEAVING:
            raise InvalidState("Leave already in progress")
        if self._state is SerfState.SHUTDOWN:
            raise InvalidState("Leave called after Shutdown")
        op = self._new_op()
        if self._state is SerfState.LEFT:
            self._out.append(LeaveCompleted(op))
            return op
        self._state = SerfState.LEAVING
        if self._snapshotter is not None:
            self._snapshot(self._snapshotter.record_leave())
        msg = MessageLeave(self._clock.time(), self.name)
        self._clock.increment()
        self._handle_leave_intent(msg, now)
        self._leave = _LeaveOp(op, _LeavePhase.BROADCAST)
        if self._has_alive_members():
            self._broadcast(self._intent_queue, encode_serf_message(msg), self._leave_sent)
            self._timers.schedule(("leave_timeout",), now + self.config.broadcast_timeout)
        else:
            self._leave_memberlist(now)
        self._drain_memberlist()
        return op

    def shutdown(self, now: float) -> None:
        """Stop at once, without a graceful leave; pending coalesced events are flushed."""
        self._now = now
        if self._state is SerfState.SHUTDOWN:
            return
        if self._state is not SerfState.LEFT:
            log.warning("Shutdown without a Leave")
        self._state = SerfState.SHUTDOWN
        self._ml.shutdown(now)
        self._drain_memberlist()
        if self._user_coalescer is not None:
            self._out.extend(self._user_coalescer.flush())
        if self._member_coalescer is not None:
            self._out.extend(self._member_coalescer.flush())
        for op in list(self._query_ops):
            self._close_query(op)
        self._timers.clear()

    def user_event(self, name: str, payload: bytes, coalesce: bool, now: float) -> None:
        """Gossip a user event; raises ``PayloadTooLarge`` over the size limits."""
        self._now = now
        self._require_running()
        limit = self.config.user_event_size_limit
        size = len(name.encode()) + len(payload)
        if size > limit:
            raise PayloadTooLarge(
                f"user event exceeds configured limit of {limit} bytes before encoding"
            )
        msg = MessageUserEvent(self._event_clock.time(), name, payload, coalesce)
        raw = encode_serf_message(msg)
        if len(raw) > limit:
            raise PayloadTooLarge(
                f"encoded user event exceeds configured limit of {limit} bytes after encoding"
            )
        self._event_clock.increment()
        self._handle_user_event(msg, now)
        self._broadcast(self._event_queue, raw)

    def query(self, name: str, payload: bytes, params: QueryParams, now: float) -> int:
        """Start a query; returns the op id.

        Emits ``QueryAck``/``QueryResponse`` as answers arrive and ``QueryDone`` at the
        deadline. Raises ``InvalidState`` below protocol 4 or after shutdown and
        ``PayloadTooLarge`` over ``query_size_limit``.
        """
        self._now = now
        return self._start_query(name, payload, params, now)

    def respond(self, query: Query, payload: bytes, now: float) -> None:
        """Answer a ``Query`` event once, before its deadline.

        Raises ``UnknownQuery`` if it was answered already (or is unknown), ``InvalidState``
        past the deadline, ``PayloadTooLarge`` over ``query_response_size_limit``.
        """
        self._now = now
        self._require_running()
        key = (query.ltime, query.id)
        inbound = self._inbound.get(key)
        if inbound is None:
            raise UnknownQuery("response already sent")
        if now > inbound.deadline:
            raise InvalidState("response is past the deadline")
        resp = MessageQueryResponse(query.ltime, query.id, self.name, 0, payload)
        raw = encode_serf_message(resp)
        limit = self.config.query_response_size_limit
        if len(raw) > limit:
            raise PayloadTooLarge(f"response exceeds limit of {limit} bytes")
        del self._inbound[key]
        self._ml.send_best_effort(inbound.addr, raw, now)
        self._relay_response(inbound.relay_factor, inbound.addr, inbound.source_node, raw, now)
        self._drain_memberlist()

    def set_tags(self, tags: Mapping[str, str], now: float) -> None:
        """Replace our tags and gossip them (a ``member-update`` everywhere).

        Raises ``PayloadTooLarge`` when the encoded tags exceed 512 bytes.
        """
        self._now = now
        self._require_running()
        encode_tags(tags, legacy=self.config.protocol_version < 3)
        self._tags = dict(tags)
        self._ml.update_node(now)
        self._drain_memberlist()

    def force_leave(self, name: str, prune: bool, now: float) -> None:
        """Declare ``name`` left (a failed node, usually); ``prune`` erases it everywhere."""
        self._now = now
        self._require_running()
        msg = MessageLeave(self._clock.time(), name, prune)
        self._clock.increment()
        self._handle_leave_intent(msg, now)
        if self._has_alive_members():
            self._broadcast(self._intent_queue, encode_serf_message(msg))

    def install_key(self, key: str | bytes, now: float) -> int:
        """Install ``key`` (base64 text or raw bytes) on every node; ``KeyOpCompleted``."""
        return self._key_op(KeyOp.INSTALL, key, now)

    def use_key(self, key: str | bytes, now: float) -> int:
        """Make the installed ``key`` primary on every node; ``KeyOpCompleted``."""
        return self._key_op(KeyOp.USE, key, now)

    def remove_key(self, key: str | bytes, now: float) -> int:
        """Remove ``key`` from every node; ``KeyOpCompleted``."""
        return self._key_op(KeyOp.REMOVE, key, now)

    def list_keys(self, now: float) -> int:
        """Ask every node for its keys; ``KeyOpCompleted`` counts them."""
        return self._key_op(KeyOp.LIST, None, now)

    # ------------------------------------------------------------------------------------------
    # internals: plumbing

    def _new_op(self) -> int:
        self._next_op += 1
        return self._next_op

    def _num_members(self) -> int:
        return len(self._members)

    def _require_running(self) -> None:
        if self._state is SerfState.SHUTDOWN:
            raise InvalidState("Serf is shut down")

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def _refused(self, kind: str, name: str, ltime: int, current: int, verdict: str) -> None:
        """Log (Go's text) and count an event or query the dedup ring refused; duplicates are
        normal gossip and neither logged nor counted."""
        if verdict == "too-old":
            log.warning("received old %s %s from time %d (current: %d)", kind, name, ltime, current)
            self._drop(f"old-{kind}")
        elif verdict == "before-min-time":
            self._drop(f"{kind}-before-min-time")

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _drain_memberlist(self) -> None:
        while True:
            outs = self._ml.take_outputs()
            if not outs:
                return
            for out in outs:
                if isinstance(out, JoinCompleted):
                    self._ml_join_done(out)
                elif isinstance(out, LeaveCompleted):
                    self._ml_leave_done(out)
                else:
                    self._out.append(out)

    def _broadcast(
        self,
        queue: TransmitLimitedQueue,
        raw: bytes,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        queue.queue_broadcast(Broadcast(raw, unique=True, on_finished=on_finished))

    def _pending_broadcasts(self) -> int:
        return len(self._intent_queue) + len(self._query_queue) + len(self._event_queue)

    def _get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        msgs = self._intent_queue.get_broadcasts(overhead, limit)
        used = sum(len(m) + overhead for m in msgs)
        more = self._query_queue.get_broadcasts(overhead, limit - used)
        used += sum(len(m) + overhead for m in more)
        msgs += more
        msgs += self._event_queue.get_broadcasts(overhead, limit - used)
        return msgs

    def _has_alive_members(self) -> bool:
        return any(
            m.status == MemberStatus.ALIVE and m.name != self.name
            for m in self._members.members.values()
        )

    def _encoded_tags(self) -> bytes:
        meta = encode_tags(self._tags, legacy=self.config.protocol_version < 3)
        assert len(meta) <= META_MAX_SIZE
        return meta

    def _snapshot(self, update: SnapshotUpdate) -> None:
        if update.lines:
            self._out.append(SnapshotAppend(tuple(update.lines)))

    # ------------------------------------------------------------------------------------------
    # internals: the event pipeline (snapshot → internal queries → coalescers → outbox)

    def _emit(self, event: MemberEvent | UserEvent | Query, now: float) -> None:
        snap = self._snapshotter
        if snap is not None:
            clock = self._clock.time()
            if isinstance(event, MemberEvent):
                for m in event.members:
                    if event.type is MemberEventType.JOIN:
                        self._snapshot(snap.record_join(m.name, m.addr, clock))
                    elif event.type in (MemberEventType.LEAVE, MemberEventType.FAILED):
                        self._snapshot(snap.record_gone(m.name, clock))
                    else:
                        self._snapshot(snap.record_other_member_event(clock))
            elif isinstance(event, UserEvent):
                self._snapshot(snap.record_user_event(event.ltime))
            else:
                self._snapshot(snap.record_query(event.ltime))
        if isinstance(event, Query):
            if event.name.startswith(INTERNAL_QUERY_PREFIX):
                self._handle_internal_query(event, now)
                return
            self._out.append(event)
            return
        if isinstance(event, UserEvent):
            uc = self._user_coalescer
            if uc is not None and uc.handles(event):
                uc.add(event, now)
                self._schedule_coalesce("coalesce_user", uc.deadline())
                return
            self._out.append(event)
            return
        mc = self._member_coalescer
        if mc is not None:
            mc.add(event, now)
            self._schedule_coalesce("coalesce_member", mc.deadline())
            return
        self._out.append(event)

    def _schedule_coalesce(self, key: str, at: float | None) -> None:
        if at is not None:
            self._timers.schedule((key,), at)

    def _member_event(self, etype: MemberEventType, member: MemberState, now: float) -> None:
        self._emit(MemberEvent(etype, (member.view(),)), now)

    # ------------------------------------------------------------------------------------------
    # internals: memberlist events

    def _member_fields(
        self, node: Node
    ) -> tuple[dict[str, str], tuple[int, int, int], tuple[int, int, int]]:
        try:
            tags = decode_tags(node.meta)
        except DecodeError:
            self._drop("bad-meta")
            tags = {}
        v = node.vsn
        return tags, (v[0], v[1], v[2]), (v[3], v[4], v[5])

    def _node_joined(self, node: Node) -> None:
        now = self._now
        tags, proto, dele = self._member_fields(node)
        member, flapped = self._members.node_joined(
            node.name, node.addr, tags, proto, dele, now, self.config.flap_timeout
        )
        if flapped:
            self._count("member.flap")
        self._count("member.join")
        log.info("EventMemberJoin: %s %s", member.name, member.addr.host)
        self._member_event(MemberEventType.JOIN, member, now)

    def _node_gone(self, node: Node) -> None:
        now = self._now
        member = self._members.node_gone(node.name, now)
        if member is None:
            existing = self._members.get(node.name)
            if existing is not None:
                log.warning("Bad state when leave: %d", existing.status)
            return
        if member.status == MemberStatus.LEFT:
            self._count("member.left")
            log.info("EventMemberLeave: %s %s", member.name, member.addr.host)
            self._member_event(MemberEventType.LEAVE, member, now)
        else:
            self._count("member.failed")
            log.info("EventMemberFailed: %s %s", member.name, member.addr.host)
            self._member_event(MemberEventType.FAILED, member, now)

    def _node_updated(self, node: Node) -> None:
        tags, proto, dele = self._member_fields(node)
        member = self._members.node_updated(node.name, node.addr, tags, proto, dele)
        if member is None:
            return
        self._count("member.update")
        log.info("EventMemberUpdate: %s", member.name)
        self._member_event(MemberEventType.UPDATE, member, self._now)

    def _name_conflict(self, existing: Node, other: Node) -> None:
        if existing.name != self.name:
            log.warning(
                "Name conflict for '%s' both %s and %s are claiming",
                existing.name,
                existing.addr,
                other.addr,
            )
            return
        enabled = self.config.enable_name_conflict_resolution
        log.error(
            "Node name conflicts with another node at %s. Names must be unique! "
            "(Resolution enabled: %s)",
            other.addr,
            "true" if enabled else "false",
        )
        if enabled and self._conflict is None and self.config.protocol_version >= 4:
            local = self._ml.local_node
            vote = ConflictVote(ip_bytes(local.addr.host), local.addr.port)
            op = self._start_query(CONFLICT_QUERY, self.name.encode(), QueryParams(), self._now)
            self._conflict = (op, vote)

    # ------------------------------------------------------------------------------------------
    # internals: coordinates

    def _ack_payload(self) -> bytes:
        if self._coord_client is None:
            return b""
        return encode_ack_payload(self._coord_client.get_coordinate())

    def _ping_complete(self, node: Node, rtt: float, payload: bytes) -> None:
        client = self._coord_client
        if client is None or not payload:
            return
        try:
            coord = decode_ack_payload(payload)
        except DecodeError as exc:
            log.error("Failed to decode coordinate from ping: %s", exc)
            self._drop("bad-coordinate")
            return
        try:
            client.update(node.name, coord, rtt)
        except CoordinateError as exc:
            log.debug("Rejected coordinate from %s: %s", node.name, exc)
            self._drop("rejected-coordinate")
            return
        self._coord_cache[node.name] = coord
        self._coord_cache[self.name] = client.get_coordinate()

    # ------------------------------------------------------------------------------------------
    # internals: messages

    def _handle_message(self, buf: bytes, now: float) -> None:
        if not buf:
            return
        try:
            msg = decode_serf_message(buf)
        except DecodeError as exc:
            log.error("Error decoding message type %d: %s", buf[0], exc)
            self._drop(type(exc).__name__)
            return
        rebroadcast = False
        queue = self._intent_queue
        if isinstance(msg, MessageLeave):
            log.debug("messageLeaveType: %s", msg.node)
            rebroadcast = self._handle_leave_intent(msg, now)
        elif isinstance(msg, MessageJoin):
            log.debug("messageJoinType: %s", msg.node)
            rebroadcast = self._handle_join_intent(msg, now)
        elif isinstance(msg, MessageUserEvent):
            log.debug("messageUserEventType: %s", msg.name)
            rebroadcast = self._handle_user_event(msg, now)
            queue = self._event_queue
        elif isinstance(msg, MessageQuery):
            log.debug("messageQueryType: %s", msg.name)
            rebroadcast = self._handle_query(msg, now)
            queue = self._query_queue
        elif isinstance(msg, MessageQueryResponse):
            log.debug("messageQueryResponseType: %s", msg.from_node)
            self._handle_query_response(msg)
        elif isinstance(msg, MessageRelay):
            dest = Address(ip_text(msg.dest_addr), msg.dest_port)
            log.debug("Relaying response to addr: %s", dest)
            if not dest.host:
                self._drop("bad-relay-address")
                return
            self._ml.send_best_effort(dest, msg.message, now)
        else:
            log.warning("Received message of unknown type: %d", buf[0])
            self._drop("unexpected-message-type")
        if rebroadcast:
            self._broadcast(queue, bytes(buf))

    def _handle_join_intent(self, msg: MessageJoin, now: float) -> bool:
        return self._join_intent(msg.node, msg.ltime, now)

    def _join_intent(self, name: str, ltime: int, now: float) -> bool:
        self._clock.witness(ltime)
        return self._members.apply_join_intent(name, ltime, now)

    def _handle_leave_intent(self, msg: MessageLeave, now: float) -> bool:
        self._clock.witness(msg.ltime)
        res = self._members.apply_leave_intent(
            msg.node, msg.ltime, msg.prune, now, local_alive=self._state is SerfState.ALIVE
        )
        if res.refute:
            log.debug("Refuting an older leave intent")
            self._broadcast_join(self._clock.time())
            return False
        if res.left is not None:
            log.info("EventMemberLeave (forced): %s %s", res.left.name, res.left.addr.host)
            self._emit(MemberEvent(MemberEventType.LEAVE, (res.left,)), now)
        if res.prune is not None:
            if res.prune.status == MemberStatus.LEAVING:
                delay = self.config.broadcast_timeout + self.config.leave_propagate_delay
                self._timers.schedule(("prune", res.prune.name), now + delay)
            else:
                self._prune(res.prune.name, now)
        return res.rebroadcast

    def _prune(self, name: str, now: float) -> None:
        member = self._members.erase(name)
        if member is None:
            return
        log.info("EventMemberReap (forced): %s %s", member.name, member.addr.host)
        self._forget_coordinate(name)
        self._member_event(MemberEventType.REAP, member, now)

    def _broadcast_join(self, ltime: int) -> None:
        msg = MessageJoin(ltime, self.name)
        self._clock.witness(ltime)
        self._handle_join_intent(msg, self._now)
        self._broadcast(self._intent_queue, encode_serf_message(msg))

    def _handle_user_event(self, msg: MessageUserEvent, now: float) -> bool:
        self._event_clock.witness(msg.ltime)
        verdict = self._events.admit(msg.ltime, msg.name, msg.payload, self._event_clock.time())
        if verdict is not EventVerdict.NEW:
            self._refused("event", msg.name, msg.ltime, self._event_clock.time(), verdict.value)
            return False
        self._count("events")
        self._emit(UserEvent(msg.ltime, msg.name, msg.payload, msg.cc), now)
        return True

    # ------------------------------------------------------------------------------------------
    # internals: queries

    def _start_query(self, name: str, payload: bytes, params: QueryParams, now: float) -> int:
        self._require_running()
        if self.config.protocol_version < 4:
            raise InvalidState("Feature not supported")
        timeout = params.timeout or self.default_query_timeout()
        local = self._ml.local_node
        flags = QUERY_FLAG_ACK if params.request_ack else 0
        msg = MessageQuery(
            ltime=self._query_clock.time(),
            id=self.rng.getrandbits(_QUERY_ID_BITS),
            addr=ip_bytes(local.addr.host),
            port=local.addr.port,
            source_node=self.name,
            filters=tuple(encode_filter(f) for f in params.filters()),
            flags=flags,
            relay_factor=params.relay_factor,
            timeout=round(timeout * 1e9),
            name=name,
            payload=payload,
        )
        raw = encode_serf_message(msg)
        limit = self.config.query_size_limit
        if len(raw) > limit:
            raise PayloadTooLarge(f"query exceeds limit of {limit} bytes")
        op = self._new_op()
        collector = QueryCollector(
            op, name, msg.ltime, msg.id, now + timeout, max(self._ml.num_members(), 1)
        )
        old = self._collectors.get(msg.ltime)
        if old is not None:
            self._close_query(old.op)
        self._collectors[msg.ltime] = collector
        self._query_ops[op] = collector
        self._timers.schedule(("query", op), now + timeout)
        self._handle_query(msg, now)
        self._broadcast(self._query_queue, raw)
        self._drain_memberlist()
        return op

    def _handle_query(self, msg: MessageQuery, now: float) -> bool:
        self._query_clock.witness(msg.ltime)
        verdict = self._queries.admit(msg.ltime, msg.id, self._query_clock.time())
        if verdict is not QueryVerdict.NEW:
            self._refused("query", msg.name, msg.ltime, self._query_clock.time(), verdict.value)
            return False
        self._count("queries")
        rebroadcast = not msg.flags & QUERY_FLAG_NO_BROADCAST
        try:
            selected = filters_match(msg.filters, self.name, self._tags)
        except DecodeError as exc:
            log.warning("query %s has an undecodable filter: %s", msg.name, exc)
            self._drop("bad-query-filter")
            return rebroadcast
        if not selected:
            return rebroadcast
        dest = Address(ip_text(msg.addr), msg.port)
        if not dest.host:
            self._drop("bad-query-address")
            return rebroadcast
        if msg.flags & QUERY_FLAG_ACK:
            ack = MessageQueryResponse(msg.ltime, msg.id, self.name, QUERY_RESPONSE_FLAG_ACK)
            raw = encode_serf_message(ack)
            self._ml.send_best_effort(dest, raw, now)
            self._relay_response(msg.relay_factor, dest, msg.source_node, raw, now)
        deadline = now + msg.timeout / 1e9
        inbound = self._inbound
        inbound[(msg.ltime, msg.id)] = _Inbound(deadline, dest, msg.source_node, msg.relay_factor)
        if len(inbound) > self.config.query_buffer:
            # Bound the unanswered queries: the oldest one can no longer be answered.
            del inbound[next(iter(inbound))]
            self._drop("unanswered-query-evicted")
        query = Query(
            ltime=msg.ltime,
            id=msg.id,
            name=msg.name,
            payload=msg.payload,
            source_node=msg.source_node,
            addr=dest,
            deadline=deadline,
            ack=bool(msg.flags & QUERY_FLAG_ACK),
            relay_factor=msg.relay_factor,
        )
        self._emit(query, now)
        return rebroadcast

    def _relay_response(
        self, relay_factor: int, dest: Address, dest_name: str, raw: bytes, now: float
    ) -> None:
        if relay_factor == 0:
            return
        members = self._members.views()
        if len(members) < relay_factor + 1:
            return
        relay = encode_serf_message(MessageRelay(ip_bytes(dest.host), dest.port, dest_name, raw))
        limit = self.config.query_response_size_limit
        if len(relay) > limit:
            log.error("relayed response exceeds limit of %d bytes", limit)
            return
        chosen: list[Member] = []
        n = len(members)
        for _ in range(3 * n):
            if len(chosen) >= relay_factor:
                break
            m = members[self.rng.randrange(n)]
            if m.status != MemberStatus.ALIVE or m.protocol[1] < 5 or m.name == self.name:
                continue
            if any(c.name == m.name for c in chosen):
                continue
            chosen.append(m)
        for m in chosen:
            self._ml.send_best_effort(m.addr, relay, now)

    def _handle_query_response(self, msg: MessageQueryResponse) -> None:
        collector = self._collectors.get(msg.ltime)
        if collector is None:
            log.warning(
                "reply for non-running query (LTime: %d, ID: %d) From: %s",
                msg.ltime,
                msg.id,
                msg.from_node,
            )
            self._drop("reply-for-unknown-query")
            return
        if collector.wire_id != msg.id:
            log.warning(
                "Query reply ID mismatch (Local: %d, Response: %d)", collector.wire_id, msg.id
            )
            self._drop("reply-id-mismatch")
            return
        op = collector.op
        if msg.flags & QUERY_RESPONSE_FLAG_ACK:
            if collector.add_ack(msg.from_node):
                self._count("query_acks")
                if self._is_user_query(op):
                    self._out.append(QueryAck(op, msg.from_node))
            return
        if not collector.add_response(msg.from_node, msg.payload):
            return
        self._count("query_responses")
        if op in self._key_ops:
            agg = self._key_ops[op]
            agg.add(msg.from_node, msg.payload)
            if agg.complete():
                self._close_query(op)
        elif self._conflict is not None and self._conflict[0] == op:
            error = self._conflict[1].add(msg.payload)
            if error is not None:
                log.error("%s", error)
        else:
            self._out.append(QueryResponse(op, msg.from_node, msg.payload))

    def _is_user_query(self, op: int) -> bool:
        return op not in self._key_ops and (self._conflict is None or self._conflict[0] != op)

    def _close_query(self, op: int) -> None:
        collector = self._query_ops.pop(op, None)
        if collector is None:
            return
        collector.closed = True
        self._timers.cancel(("query", op))
        if self._collectors.get(collector.ltime) is collector:
            del self._collectors[collector.ltime]
        agg = self._key_ops.pop(op, None)
        if agg is not None:
            self._out.append(
                KeyOpCompleted(
                    op,
                    agg.kind.value.removesuffix("-key").removesuffix("-keys"),
                    agg.num_nodes,
                    agg.num_resp,
                    agg.num_err,
                    dict(agg.messages),
                    dict(agg.keys),
                    dict(agg.primary_keys),
                )
            )
            return
        if self._conflict is not None and self._conflict[0] == op:
            vote = self._conflict[1]
            self._conflict = None
            self._decide_conflict(vote)
            return
        self._out.append(QueryDone(op))

    def _decide_conflict(self, vote: ConflictVote) -> None:
        if vote.won():
            log.info(
                "majority in name conflict resolution [%d / %d]", vote.matching, vote.responses
            )
            return
        log.warning(
            "minority in name conflict resolution, quiting [%d / %d]",
            vote.matching,
            vote.responses,
        )
        self.shutdown(self._now)
        self._out.append(NodeShutdown("lost name conflict resolution"))

    # ------------------------------------------------------------------------------------------
    # internals: internal queries and keys

    def _handle_internal_query(self, q: Query, now: float) -> None:
        if q.name == PING_QUERY:
            self._inbound.pop((q.ltime, q.id), None)
            return
        if q.name == CONFLICT_QUERY:
            node = q.payload.decode(errors="replace")
            if node == self.name:
                self._inbound.pop((q.ltime, q.id), None)
                return
            log.debug("Got conflict resolution query for '%s'", node)
            member = self._members.get(node)
            info = None
            if member is not None:
                info = make_member_info(
                    member.name,
                    ip_bytes(member.addr.host),
                    member.addr.port,
                    member.tags,
                    int(member.status),
                    bytes(member.protocol + member.delegate),
                )
            self._respond_internal(q, conflict_answer(info), now)
            return
        op = KEY_QUERIES.get(q.name)
        if op is None:
            log.warning("Unhandled internal query '%s'", q.name)
            self._inbound.pop((q.ltime, q.id), None)
            return
        if op is not KeyOp.LIST:
            log.info("Received %s query", op.value)
        resp, changed = handle_key_request(op, q.payload, self._keyring)
        if not resp.result:
            log.error("%s", resp.message)
        if changed and self._keyring is not None:
            self._out.append(KeyringChanged(self._keyring.keys))
        if op is KeyOp.LIST and resp.result:
            fitted = fit_key_list(resp, lambda r: self._response_fits(q, r), self._resp_limit())
            if fitted is None:
                log.error("Failed to truncate response so that it fits into message")
                self._inbound.pop((q.ltime, q.id), None)
                return
            if fitted.keys is not None and len(fitted.keys) < len(resp.keys or ()):
                log.warning("%s", fitted.message)
            resp = fitted
        self._respond_internal(q, encode_serf_message(resp), now)

    def _resp_limit(self) -> int:
        return self.config.query_response_size_limit

    def _response_fits(self, q: Query, resp: MessageKeyResponse) -> bool:
        body = encode_serf_message(resp)
        raw = encode_serf_message(MessageQueryResponse(q.ltime, q.id, self.name, 0, body))
        return len(raw) <= self._resp_limit()

    def _respond_internal(self, q: Query, payload: bytes, now: float) -> None:
        try:
            self.respond(q, payload, now)
        except (InvalidState, UnknownQuery, PayloadTooLarge) as exc:
            log.error("Failed to respond to %s query: %s", q.name, exc)

    def _key_op(self, op: KeyOp, key: str | bytes | None, now: float) -> int:
        self._now = now
        raw = b"" if key is None else decode_key(key)
        num_nodes = self._ml.num_members()
        qop = self._start_query(f"_serf_{op.value}", encode_key_request(raw), QueryParams(), now)
        self._key_ops[qop] = KeyOpAggregate(qop, op, num_nodes)
        collector = self._query_ops.get(qop)
        if collector is not None:
            for node, payload in collector.responses.items():
                self._key_ops[qop].add(node, payload)
            if self._key_ops[qop].complete():
                self._close_query(qop)
        return qop

    # ------------------------------------------------------------------------------------------
    # internals: push/pull

    def _local_state(self) -> bytes:
        msg = MessagePushPull(
            ltime=self._clock.time(),
            status_ltimes={n: m.status_ltime for n, m in self._members.members.items()},
            left_members=tuple(m.name for m in self._members.left),
            event_ltime=self._event_clock.time(),
            events=self._events.snapshot(),
            query_ltime=self._query_clock.time(),
        )
        return encode_serf_message(msg)

    def _merge_remote_state(self, buf: bytes, join: bool) -> None:
        now = self._now
        if not buf or buf[0] != SerfMessageType.PUSH_PULL:
            log.error("Remote state is zero bytes or has a bad type")
            self._drop("bad-remote-state")
            return
        try:
            pp = decode_serf_message(buf)
        except DecodeError as exc:
            log.error("Failed to decode remote state: %s", exc)
            self._drop("bad-remote-state")
            return
        assert isinstance(pp, MessagePushPull)
        if pp.ltime > 0:
            self._clock.witness(pp.ltime - 1)
        if pp.event_ltime > 0:
            self._event_clock.witness(pp.event_ltime - 1)
        if pp.query_ltime > 0:
            self._query_clock.witness(pp.query_ltime - 1)
        left = set(pp.left_members)
        for name in pp.left_members:
            ltime = pp.status_ltimes.get(name, 0)
            self._handle_leave_intent(MessageLeave(ltime + 1, name), now)
        for name, ltime in pp.status_ltimes.items():
            if name not in left:
                self._join_intent(name, ltime, now)
        if join and self._ignore_old_joins > 0:
            self._events.min_time = max(self._events.min_time, pp.event_ltime)
        for slot in pp.events:
            if slot is None:
                continue
            for e in slot.events:
                self._handle_user_event(MessageUserEvent(slot.ltime, e.name, e.payload, False), now)

    # ------------------------------------------------------------------------------------------
    # internals: joins, leave, rejoin

    def _start_rejoin(self, recovered: RecoveredState, now: float) -> None:
        previous = [p for p in recovered.alive if p.name != self.name]
        self.rng.shuffle(previous)
        addrs: list[Address] = []
        for p in previous:
            try:
                addrs.append(parse_address(p.addr))
            except SnapshotError:
                log.warning("Failed to parse previous node address %s", p)
        self._rejoin_next(tuple(addrs), now)

    def _rejoin_next(self, remaining: tuple[Address, ...], now: float) -> None:
        if not remaining:
            log.warning("Failed to re-join any previously known node")
            return
        addr, rest = remaining[0], remaining[1:]
        log.info("Attempting re-join to previously known node: %s", addr)
        ml_op = self._ml.join([addr], now)
        self._ml_joins[ml_op] = _MlJoin("rejoin", remaining=rest)

    def _ml_join_done(self, done: JoinCompleted) -> None:
        job = self._ml_joins.pop(done.op, None)
        if job is None:
            return
        if job.kind == "rejoin":
            if done.joined > 0:
                log.info("Re-joined to previously known node")
            elif self._state is SerfState.ALIVE:
                self._rejoin_next(job.remaining, self._now)
            return
        if job.kind == "reconnect":
            return
        if job.ignore_old:
            self._ignore_old_joins -= 1
        if done.joined > 0 and self._state is SerfState.ALIVE:
            self._broadcast_join(self._clock.time())
        self._out.append(JoinCompleted(job.op, done.joined, done.errors))

    def _leave_sent(self) -> None:
        leave = self._leave
        if leave is not None and leave.phase is _LeavePhase.BROADCAST:
            self._timers.schedule(("leave_broadcast_done",), self._now)

    def _leave_memberlist(self, now: float) -> None:
        leave = self._leave
        if leave is None:
            return
        self._timers.cancel(("leave_timeout",))
        leave.phase = _LeavePhase.MEMBERLIST
        self._ml.leave(self.config.broadcast_timeout, now)

    def _ml_leave_done(self, done: LeaveCompleted) -> None:
        leave = self._leave
        if leave is None or leave.phase is not _LeavePhase.MEMBERLIST:
            return
        if done.error:
            log.warning("Failed to leave memberlist: %s", done.error)
            leave.error = leave.error or done.error
        leave.phase = _LeavePhase.PROPAGATE
        self._timers.schedule(("leave_done",), self._now + self.config.leave_propagate_delay)

    # ------------------------------------------------------------------------------------------
    # internals: timers

    def _fire(self, key: Hashable, now: float) -> None:
        assert isinstance(key, tuple)
        kind = key[0]
        if kind == "query":
            self._close_query(key[1])
        elif kind == "coalesce_member" and self._member_coalescer is not None:
            self._out.extend(self._member_coalescer.flush_due(now))
        elif kind == "coalesce_user" and self._user_coalescer is not None:
            self._out.extend(self._user_coalescer.flush_due(now))
        elif kind == "reap":
            self._reap(now)
            self._timers.schedule(("reap",), now + self.config.reap_interval)
        elif kind == "reconnect":
            self._reconnect(now)
            self._timers.schedule(("reconnect",), now + self.config.reconnect_interval)
        elif kind == "queue_check":
            self._check_queues()
            self._timers.schedule(("queue_check",), now + self.config.queue_check_interval)
        elif kind == "prune":
            member = self._members.get(key[1])
            if member is not None:
                self._prune(key[1], now)
        elif kind == "snapshot_clock" and self._snapshotter is not None:
            self._snapshot(self._snapshotter.record_clock(self._clock.time()))
            self._timers.schedule(("snapshot_clock",), now + CLOCK_UPDATE_INTERVAL)
        elif kind == "leave_broadcast_done":
            if self._leave is not None and self._leave.phase is _LeavePhase.BROADCAST:
                self._leave_memberlist(now)
        elif kind == "leave_timeout":
            if self._leave is not None and self._leave.phase is _LeavePhase.BROADCAST:
                log.warning("timeout while waiting for graceful leave")
                self._leave.error = "timeout while waiting for graceful leave"
                self._leave_memberlist(now)
        elif kind == "leave_done":
            leave = self._leave
            if leave is not None:
                self._leave = None
                if self._state is not SerfState.SHUTDOWN:
                    self._state = SerfState.LEFT
                self._out.append(LeaveCompleted(leave.op, leave.error))

    def _reap(self, now: float) -> None:
        for name in self._members.reap(
            now, self.config.reconnect_timeout, self.config.tombstone_timeout
        ):
            member = self._members.erase(name)
            if member is None:
                continue
            self._forget_coordinate(name)
            if self._member_coalescer is not None:
                self._member_coalescer.forget(name)
            log.info("EventMemberReap: %s", name)
            self._member_event(MemberEventType.REAP, member, now)
        self._members.reap_intents(now, self.config.recent_intent_timeout)
        stale = [k for k, v in self._inbound.items() if v.deadline < now]
        for k in stale:
            del self._inbound[k]

    def _forget_coordinate(self, name: str) -> None:
        if self._coord_client is not None:
            self._coord_client.forget_node(name)
        self._coord_cache.pop(name, None)

    def _reconnect(self, now: float) -> None:
        failed = self._members.failed
        if not failed or self._state is not SerfState.ALIVE:
            return
        num_alive = len(self._members) - len(failed) - len(self._members.left)
        prob = len(failed) / max(num_alive, 1)
        if self.rng.random() > prob:
            log.debug("forgoing reconnect for random throttling")
            return
        mem = failed[self.rng.randrange(len(failed))]
        log.info("attempting reconnect to %s %s", mem.name, mem.addr)
        ml_op = self._ml.join([mem.addr], now)
        self._ml_joins[ml_op] = _MlJoin("reconnect")

    def _queue_max(self) -> int:
        if self.config.min_queue_depth > 0:
            return max(self.config.min_queue_depth, 2 * len(self._members))
        return self.config.max_queue_depth

    def _check_queues(self) -> None:
        for label, queue in (
            ("Intent", self._intent_queue),
            ("Event", self._event_queue),
            ("Query", self._query_queue),
        ):
            depth = queue.num_queued()
            if depth >= self.config.queue_depth_warning:
                log.warning("%s queue depth: %d", label, depth)
            limit = self._queue_max()
            if depth > limit:
                log.warning(
                    "%s queue depth (%d) exceeds limit (%d), dropping messages!",
                    label,
                    depth,
                    limit,
                )
                self._drop(f"{label.lower()}-queue-pruned")
                queue.prune(limit)
