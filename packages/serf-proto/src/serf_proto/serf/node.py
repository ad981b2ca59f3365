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

The node is a thin orchestrator. The work is done by sub-machines that share one
:class:`~serf_proto.serf.context.NodeContext` (clocks, timers, outbox, stats, logger):

=====================  =========================================================================
``membership``         member table: memberlist's node events, intents, reaping, push/pull
``user_events``        the ``user_event`` command and the event ring
``queries``            starting, delivering, answering queries; the query book of owners
``internal``           ``_serf_`` queries delivered here, the name-conflict vote
``keys``               key operations (install/use/remove/list) over internal queries
``pipeline``           snapshot records → internal queries → coalescers → outbox
``leave``              the graceful leave's phases
``joins``              user joins, reconnects and the snapshot rejoin
``broadcasts``         the intent, query and event queues
``coords``             Vivaldi coordinates
``router``             decoding and routing of incoming Serf messages
=====================  =========================================================================

Every Go goroutine is a timer value of :mod:`serf_proto.serf.timers` in the context's
:class:`~serf_proto.timers.TimerQueue`; :meth:`SerfNode.handle_timer` dispatches each due timer
to its machine with ``match``, and a timer whose op, member or phase has moved on is a counted
no-op (``stats.stale_timers``).

Inputs carry ``now`` (monotonic seconds) and every path passes it on: memberlist's delegate
hooks receive it too, so no part of the node keeps a clock. Randomness comes from the injected
``rng``. Outputs (memberlist's I/O commands, events and command results) leave through one
ordered outbox, ``take_outputs()``. The node is single-threaded: call it from one task only.
Remote garbage is dropped and counted in :attr:`SerfNode.dropped`; local misuse raises a
``SerfError`` before any state changes.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Mapping
from typing import assert_never

from serf_proto.errors import InvalidState
from serf_proto.events import JoinCompleted, LeaveCompleted, Query
from serf_proto.memberlist.core import Memberlist
from serf_proto.serf.broadcasts import Broadcasts, Lane
from serf_proto.serf.config import SerfConfig
from serf_proto.serf.context import NodeContext, Output, SerfState, SerfStats
from serf_proto.serf.coordinates import Coordinates
from serf_proto.serf.delegate import SerfDelegate
from serf_proto.serf.internal import InternalQueries
from serf_proto.serf.joins import Joins, heal_phase
from serf_proto.serf.keymanager import KeyOp
from serf_proto.serf.keyops import KeyOps
from serf_proto.serf.lamport import Clocks
from serf_proto.serf.leave import LeaveMachine
from serf_proto.serf.members import SharedTables
from serf_proto.serf.membership import Membership
from serf_proto.serf.messages import MessageRouter
from serf_proto.serf.pipeline import EventPipeline
from serf_proto.serf.queries import Queries
from serf_proto.serf.query import QueryParams
from serf_proto.serf.shortcuts import TablesShare
from serf_proto.serf.snapshot import RecoveredState
from serf_proto.serf.timers import (
    CoalesceMember,
    CoalesceUser,
    Heal,
    LeaveBroadcastDone,
    LeaveDone,
    LeaveTimeout,
    PruneMember,
    QueryDeadline,
    QueueCheck,
    Reap,
    Reconnect,
    SerfTimer,
    SnapshotClock,
)
from serf_proto.serf.user_events import UserEvents
from serf_proto.shared_table import SharedStart
from serf_proto.types import Address, Member, MemberStatus
from serf_proto.wire import Coordinate, Keyring, encode_tags

__all__ = ["SerfNode", "SerfState"]

#: memberlist protocol version each Serf protocol runs on (Go ``ProtocolVersionMap``).
MEMBERLIST_PROTOCOL = 2


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
        ctx = self._ctx = NodeContext(config, rng)
        self._keyring = Keyring(config.keys) if config.keys else None
        self._coords = Coordinates(ctx)
        self._broadcasts = Broadcasts(ctx, lambda: len(self._membership.table))
        self._queries = Queries(
            ctx,
            emit=lambda q, at: self._pipeline.emit(q, at),
            broadcast=lambda raw, at: self._broadcasts.queue(Lane.QUERY, raw, at),
            tags=lambda: ctx.tags,
            members=lambda: self._membership.table.views(),
            drain=self._drain_memberlist,
            on_vote_closed=lambda entry, at: self._internal.vote_closed(entry, at),
        )
        self._keys = KeyOps(ctx, self._keyring, self._queries)
        self._internal = InternalQueries(
            ctx,
            self._queries,
            self._keys,
            member=lambda name: self._membership.table.get(name),
            shutdown=self.shutdown,
        )
        self._pipeline = EventPipeline(ctx, recovered, self._internal.handle)
        self._user_events = UserEvents(
            ctx,
            emit=self._pipeline.emit,
            broadcast=lambda raw, at: self._broadcasts.queue(Lane.EVENT, raw, at),
        )
        self._membership = Membership(
            ctx,
            pipeline=self._pipeline,
            broadcasts=self._broadcasts,
            coords=self._coords,
            user_events=self._user_events,
            ignoring_old=lambda: self._joins.ignoring_old > 0,
        )
        self._joins = Joins(ctx, self._membership.table, self._membership.broadcast_join)
        self._leave = LeaveMachine(ctx)
        self._router = MessageRouter(
            ctx,
            membership=self._membership,
            user_events=self._user_events,
            queries=self._queries,
            broadcasts=self._broadcasts,
        )
        if recovered is not None:
            ctx.clock.witness(recovered.clock)
            ctx.event_clock.witness(recovered.event_clock)
            ctx.query_clock.witness(recovered.query_clock)
            self._user_events.buffer.min_time = recovered.event_clock + 1
            self._queries.resume(recovered.query_clock)
        ml_config = config.memberlist.replace(
            protocol_version=MEMBERLIST_PROTOCOL,
            delegate_protocol_min=2,
            delegate_protocol_max=5,
            delegate_protocol_version=config.protocol_version,
        )
        delegate = SerfDelegate(
            ctx,
            router=self._router,
            broadcasts=self._broadcasts,
            membership=self._membership,
            coords=self._coords,
            internal=self._internal,
        )
        ctx.ml = self._ml = Memberlist(
            ml_config, delegate, now=now, rng=rng, entropy=entropy, keyring=self._keyring
        )
        ctx.timers.schedule(Reap(), now + config.reap_interval)
        ctx.timers.schedule(Reconnect(), now + config.reconnect_interval)
        if config.heal_interval > 0:
            ctx.timers.schedule(Heal(), now + heal_phase(config.node_name, config.heal_interval))
        ctx.timers.schedule(QueueCheck(), now + config.queue_check_interval)
        self._pipeline.start(now)
        if recovered is not None and (
            recovered.alive or (config.rejoin_failed and recovered.failed)
        ):
            self._joins.rejoin(recovered, now)
        self._drain_memberlist(now)

    # ------------------------------------------------------------------------------------------
    # reads

    @property
    def state(self) -> SerfState:
        """The local lifecycle state."""
        return self._ctx.state

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
        return dict(self._ctx.tags)

    @property
    def counts(self) -> SerfStats:
        """What the Serf layer counted: drops by reason, Go's metric counters, stale timers."""
        return self._ctx.stats

    @property
    def dropped(self) -> dict[str, int]:
        """Refused remote input by reason: ``counts.dropped`` keyed by the reasons' values
        (the metric labels, snake_case)."""
        return {str(reason): n for reason, n in self._ctx.stats.dropped.items()}

    @property
    def counters(self) -> dict[str, int]:
        """Go's metric counters without the ``serf.`` prefix (``counts.counters``)."""
        return self._ctx.stats.counters

    def members(self) -> list[Member]:
        """Every known member, whatever its status (Go ``Members``)."""
        return self._membership.table.views()

    def local_member(self) -> Member:
        """Our own member entry."""
        me = self._membership.table.get(self.name)
        if me is not None:
            return me.view()
        node = self._ml.local_node
        return Member(self.name, node.addr, dict(self._ctx.tags), MemberStatus.ALIVE)

    def clocks(self) -> Clocks:
        """Current member, event and query Lamport times."""
        ctx = self._ctx
        return Clocks(ctx.clock.time(), ctx.event_clock.time(), ctx.query_clock.time())

    def coordinate(self) -> Coordinate:
        """Our Vivaldi coordinate; raises ``InvalidState`` when coordinates are disabled."""
        return self._coords.coordinate()

    def cached_coordinate(self, name: str) -> Coordinate | None:
        """The last coordinate seen for ``name`` (ours included), or None."""
        return self._coords.cached(name)

    def encryption_enabled(self) -> bool:
        """Whether gossip is encrypted (a keyring with at least one key)."""
        return self._keyring is not None and len(self._keyring) > 0

    def default_query_timeout(self) -> float:
        """Seconds a query stays open by default for the current cluster size."""
        return self._queries.default_timeout()

    def stats(self) -> dict[str, str]:
        """Go's ``Serf.Stats()``: counters as decimal strings."""
        ctx = self._ctx
        table = self._membership.table
        b = self._broadcasts
        out = {
            "members": str(len(table)),
            "failed": str(len(table.failed)),
            "left": str(len(table.left)),
            "health_score": str(self._ml.health_score()),
            "member_time": str(ctx.clock.time()),
            "event_time": str(ctx.event_clock.time()),
            "query_time": str(ctx.query_clock.time()),
            "intent_queue": str(b.depth(Lane.INTENT)),
            "event_queue": str(b.depth(Lane.EVENT)),
            "query_queue": str(b.depth(Lane.QUERY)),
            "encrypted": "true" if self.encryption_enabled() else "false",
        }
        resets = self._coords.resets
        if resets is not None:
            out["coordinate_resets"] = str(resets)
        return out

    # ------------------------------------------------------------------------------------------
    # simulator shortcuts

    def shared_start(self) -> SharedStart[SharedTables]:
        """The simulator's converged start for this node (:mod:`serf_proto.serf.shortcuts`);
        a live node never needs it."""
        return TablesShare(self._ctx, self._ml, self._membership.table)

    # ------------------------------------------------------------------------------------------
    # driving API (same as Memberlist)

    def take_outputs(self) -> list[Output]:
        """Every output since the last call, in order; the outbox is then empty."""
        self._drain_memberlist(None)
        ctx = self._ctx
        out = ctx.out
        ctx.out = []
        return out

    def next_timer(self) -> float | None:
        """The next absolute time (seconds) ``handle_timer`` must be called, or None."""
        ours = self._ctx.timers.next_deadline()
        theirs = None if self._ctx.state is SerfState.SHUTDOWN else self._ml.next_timer()
        if ours is None:
            return theirs
        if theirs is None:
            return ours
        return min(ours, theirs)

    def handle_timer(self, now: float) -> None:
        """Run everything due at ``now`` (memberlist's deadlines and ours)."""
        ctx = self._ctx
        if ctx.state is not SerfState.SHUTDOWN:
            self._ml.handle_timer(now)
            self._drain_memberlist(now)
        while True:
            due = ctx.timers.pop_due(now)
            if not due:
                break
            for key in due:
                if not self._fire(key, now):
                    ctx.stats.stale_timers += 1
                    ctx.log.debug("stale timer %r ignored", key)
                self._drain_memberlist(now)

    def receive_packet(self, addr: Address, data: bytes, now: float) -> None:
        """Handle one UDP datagram from ``addr``."""
        if self._ctx.state is SerfState.SHUTDOWN:
            return
        self._ml.receive_packet(addr, data, now)
        self._drain_memberlist(now)

    def accept_stream(self, addr: Address, now: float) -> int:
        """Register an inbound TCP connection from ``addr``; returns its stream id."""
        sid = self._ml.accept_stream(addr, now)
        self._drain_memberlist(now)
        return sid

    def stream_connected(self, sid: int, now: float) -> None:
        """Our ``OpenStream(sid)`` connected."""
        self._ml.stream_connected(sid, now)
        self._drain_memberlist(now)

    def stream_failed(self, sid: int, reason: str, now: float) -> None:
        """Stream ``sid`` could not connect, or broke."""
        self._ml.stream_failed(sid, reason, now)
        self._drain_memberlist(now)

    def receive_stream_data(self, sid: int, data: bytes, now: float) -> None:
        """Bytes arrived on stream ``sid``; ``b""`` means EOF."""
        self._ml.receive_stream_data(sid, data, now)
        self._drain_memberlist(now)

    # ------------------------------------------------------------------------------------------
    # commands

    def join(self, addrs: Iterable[Address], now: float, ignore_old: bool = False) -> int:
        """Join the cluster through ``addrs``; returns the op id.

        Emits ``JoinCompleted(op, joined, errors)``; if any node answered, a join intent is
        gossiped. With ``ignore_old``, user events older than the peers' event clocks are
        not delivered. Raises ``InvalidState`` after leave or shutdown.
        """
        if self._ctx.state is not SerfState.ALIVE:
            raise InvalidState("Serf can't Join after Leave or Shutdown")
        op = self._joins.join(list(addrs), ignore_old, now)
        self._drain_memberlist(now)
        return op

    def leave(self, now: float) -> int:
        """Leave gracefully; returns the op id, completed by ``LeaveCompleted``.

        Gossips a leave intent (waiting up to ``broadcast_timeout`` for it to go out), then
        memberlist's leave, then waits ``leave_propagate_delay`` while still answering probes.
        Raises ``InvalidState`` while already leaving or after shutdown.
        """
        ctx = self._ctx
        if ctx.state is SerfState.LEAVING:
            raise InvalidState("Leave already in progress")
        if ctx.state is SerfState.SHUTDOWN:
            raise InvalidState("Leave called after Shutdown")
        op = ctx.new_op()
        if ctx.state is SerfState.LEFT:
            ctx.out.append(LeaveCompleted(op))
            return op
        ctx.state = SerfState.LEAVING
        self._pipeline.record_leave()
        queued = self._membership.leave_intent_for(
            self.name, False, now, on_sent=self._leave.intent_sent
        )
        self._leave.start(op, queued, now)
        self._drain_memberlist(now)
        return op

    def shutdown(self, now: float) -> None:
        """Stop at once, without a graceful leave; pending coalesced events are flushed."""
        ctx = self._ctx
        if ctx.state is SerfState.SHUTDOWN:
            return
        if ctx.state is not SerfState.LEFT:
            ctx.log.warning("Shutdown without a Leave")
        ctx.state = SerfState.SHUTDOWN
        self._ml.shutdown(now)
        self._drain_memberlist(now)
        self._pipeline.flush_all()
        self._queries.close_all(now)
        ctx.timers.clear()

    def user_event(self, name: str, payload: bytes, coalesce: bool, now: float) -> None:
        """Gossip a user event; raises ``PayloadTooLarge`` over the size limits."""
        self._ctx.require_running()
        self._user_events.send(name, payload, coalesce, now)

    def query(self, name: str, payload: bytes, params: QueryParams, now: float) -> int:
        """Start a query; returns the op id.

        Emits ``QueryAck``/``QueryResponse`` as answers arrive and ``QueryDone`` at the
        deadline. Raises ``InvalidState`` below protocol 4 or after shutdown and
        ``PayloadTooLarge`` over ``query_size_limit``.
        """
        return self._queries.start(name, payload, params, now)

    def respond(self, query: Query, payload: bytes, now: float) -> None:
        """Answer a ``Query`` event once, before its deadline.

        Raises ``UnknownQuery`` if it was answered already (or is unknown), ``InvalidState``
        past the deadline, ``PayloadTooLarge`` over ``query_response_size_limit``.
        """
        self._queries.respond(query, payload, now)

    def set_tags(self, tags: Mapping[str, str], now: float) -> None:
        """Replace our tags and gossip them (a ``member-update`` everywhere).

        Raises ``PayloadTooLarge`` when the encoded tags exceed 512 bytes.
        """
        self._ctx.require_running()
        encode_tags(tags, legacy=self.config.protocol_version < 3)
        self._ctx.tags = dict(tags)
        self._ml.update_node(now)
        self._drain_memberlist(now)

    def force_leave(self, name: str, prune: bool, now: float) -> None:
        """Declare ``name`` left (a failed node, usually); ``prune`` erases it everywhere."""
        self._ctx.require_running()
        self._membership.leave_intent_for(name, prune, now)

    def install_key(self, key: str | bytes, now: float) -> int:
        """Install ``key`` (base64 text or raw bytes) on every node; ``KeyOpCompleted``."""
        return self._keys.start(KeyOp.INSTALL, key, now)

    def use_key(self, key: str | bytes, now: float) -> int:
        """Make the installed ``key`` primary on every node; ``KeyOpCompleted``."""
        return self._keys.start(KeyOp.USE, key, now)

    def remove_key(self, key: str | bytes, now: float) -> int:
        """Remove ``key`` from every node; ``KeyOpCompleted``."""
        return self._keys.start(KeyOp.REMOVE, key, now)

    def list_keys(self, now: float) -> int:
        """Ask every node for its keys; ``KeyOpCompleted`` counts them."""
        return self._keys.start(KeyOp.LIST, None, now)

    # ------------------------------------------------------------------------------------------
    # internals

    def _drain_memberlist(self, now: float | None) -> None:
        """Move memberlist's outputs into our outbox, in order, routing its join and leave
        completions to the machines waiting for them (``now`` is None only when called from
        ``take_outputs``, where memberlist has produced nothing since the last input)."""
        ml = self._ml
        out = self._ctx.out
        while True:
            outs = ml.take_outputs()
            if not outs:
                return
            for o in outs:
                if isinstance(o, JoinCompleted):
                    assert now is not None
                    self._joins.memberlist_joined(o, now)
                elif isinstance(o, LeaveCompleted):
                    assert now is not None
                    self._leave.memberlist_left(o, now)
                else:
                    out.append(o)

    def _fire(self, timer: SerfTimer, now: float) -> bool:
        """Carry out one due timer; False when it was stale."""
        match timer:
            case Reap():
                self._membership.on_reap(now)
                self._queries.book.expire(now)
                self._membership.schedule_reap(now)
            case Reconnect():
                self._joins.on_reconnect(now)
            case Heal():
                self._joins.on_heal(now)
            case QueueCheck():
                self._broadcasts.on_queue_check(now)
            case SnapshotClock():
                self._pipeline.on_snapshot_clock(now)
            case CoalesceMember():
                self._pipeline.on_coalesce_member(now)
            case CoalesceUser():
                self._pipeline.on_coalesce_user(now)
            case QueryDeadline():
                return self._queries.on_deadline(timer, now)
            case PruneMember():
                return self._membership.on_prune(timer, now)
            case LeaveBroadcastDone() | LeaveTimeout() | LeaveDone():
                return self._leave.on_timer(timer, now)
            case _:
                assert_never(timer)
        return True
