"""Queries: starting them, delivering them, answering them and collecting the answers.

Go ``serf/query.go`` and the query half of ``serf/messages.go``. A query is gossiped on the
query broadcast queue (unless ``NO_BROADCAST``) and de-duplicated by the Lamport-indexed ring
of :class:`~serf_proto.serf.query.QueryBuffer`. A node the filters select acks it at once
when asked to, then the application (or the internal-query handler, for ``_serf_`` names)
may answer it once before its deadline. Acks and answers go to the originator directly and,
with ``relay_factor`` > 0, also through that many random alive members (``messageRelay``), so
that an answer survives one broken path.

The bookkeeping (which queries are open, who owns them, which may still be answered) is the
:class:`~serf_proto.serf.querybook.QueryBook`; this machine carries out its verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError, InvalidState, PayloadTooLarge, UnknownQuery
from serf_proto.events import KeyOpCompleted, Query, QueryAck, QueryDone, QueryResponse
from serf_proto.goregex import GoRegexError
from serf_proto.memberlist.state import ip_bytes, ip_text
from serf_proto.serf.context import NodeContext
from serf_proto.serf.query import (
    QueryBuffer,
    QueryCollector,
    QueryParams,
    QueryVerdict,
    default_query_timeout,
    filters_match,
    query_poison,
)
from serf_proto.serf.querybook import (
    Answerable,
    ConflictQuery,
    KeyOpQuery,
    OpenQuery,
    Owner,
    QueryBook,
    ResponseVerdict,
    UserQuery,
    response_verdict,
)
from serf_proto.serf.timers import QueryDeadline
from serf_proto.types import Address, Member, MemberStatus
from serf_proto.wire import (
    QUERY_FLAG_ACK,
    QUERY_FLAG_NO_BROADCAST,
    QUERY_RESPONSE_FLAG_ACK,
    MessageQuery,
    MessageQueryResponse,
    MessageRelay,
    encode_filter,
    encode_serf_message,
)

__all__ = ["Queries"]

#: Random 31-bit query ids, as Go's ``uint32(rand.Int31())``.
_QUERY_ID_BITS = 31


def _user_owner(op: int) -> Owner:
    return UserQuery()


class Queries:
    """One node's queries; see the module docstring.

    Wired to: ``emit`` (the event pipeline, for delivered queries), ``broadcast`` (the query
    queue), ``tags`` and ``members`` (filters and relays), ``drain`` (moves memberlist's
    outputs into the outbox, keeping output order), ``on_vote_closed`` (the conflict vote's
    decision).
    """

    __slots__ = (
        "_broadcast",
        "_buffer",
        "_ctx",
        "_drain",
        "_emit",
        "_members",
        "_on_vote_closed",
        "_tags",
        "book",
    )

    def __init__(
        self,
        ctx: NodeContext,
        *,
        emit: Callable[[Query, float], None],
        broadcast: Callable[[bytes, float], None],
        tags: Callable[[], Mapping[str, str]],
        members: Callable[[], list[Member]],
        drain: Callable[[float], None],
        on_vote_closed: Callable[[OpenQuery, float], None],
    ) -> None:
        self._ctx = ctx
        self._buffer = QueryBuffer(ctx.config.query_buffer)
        self._emit = emit
        self._broadcast = broadcast
        self._tags = tags
        self._members = members
        self._drain = drain
        self._on_vote_closed = on_vote_closed
        self.book = QueryBook()

    def resume(self, query_clock: int) -> None:
        """Refuse queries up to a snapshot's query clock."""
        self._buffer.min_time = query_clock + 1

    def default_timeout(self) -> float:
        """Seconds a query stays open by default for the current cluster size."""
        ml = self._ctx.ml
        return default_query_timeout(
            ml.config.gossip_interval, self._ctx.config.query_timeout_mult, ml.num_members()
        )

    # ------------------------------------------------------------------------------------------
    # originating

    def start(
        self,
        name: str,
        payload: bytes,
        params: QueryParams,
        now: float,
        owner: Callable[[int], Owner] = _user_owner,
    ) -> int:
        """Open and gossip a query; returns its op id. ``owner(op)`` says who gets answers."""
        ctx = self._ctx
        ctx.require_running()
        if ctx.config.protocol_version < 4:
            raise InvalidState("Feature not supported")
        timeout = params.timeout or self.default_timeout()
        local = ctx.ml.local_node
        flags = QUERY_FLAG_ACK if params.request_ack else 0
        msg = MessageQuery(
            ltime=ctx.query_clock.time(),
            id=ctx.rng.getrandbits(_QUERY_ID_BITS),
            addr=ip_bytes(local.addr.host),
            port=local.addr.port,
            source_node=ctx.name,
            filters=tuple(encode_filter(f) for f in params.filters()),
            flags=flags,
            relay_factor=params.relay_factor,
            timeout=round(timeout * 1e9),
            name=name,
            payload=payload,
        )
        if query_poison(name, payload, msg.filters) is not None:
            # Peers would drop it (and Go Serf 0.9.4 would crash on it): refuse to send it.
            raise ValueError(f"query {name!r} with an empty payload would crash Go Serf peers")
        raw = encode_serf_message(msg)
        limit = ctx.config.query_size_limit
        if len(raw) > limit:
            raise PayloadTooLarge(f"query exceeds limit of {limit} bytes")
        op = ctx.new_op()
        collector = QueryCollector(
            op, name, msg.ltime, msg.id, now + timeout, max(ctx.ml.num_members(), 1)
        )
        old = self.book.by_ltime(msg.ltime)
        if old is not None:
            self.close(old.collector.op, now)
        self.book.open(OpenQuery(collector, owner(op)))
        ctx.timers.schedule(QueryDeadline(op), now + timeout)
        self.receive(msg, now)
        self._broadcast(raw, now)
        self._drain(now)
        return op

    def receive_response(self, msg: MessageQueryResponse, now: float) -> None:
        """An ack or answer to one of our queries arrived."""
        ctx = self._ctx
        entry = self.book.by_ltime(msg.ltime)
        verdict = response_verdict(entry, msg.id)
        if verdict is ResponseVerdict.UNKNOWN_QUERY:
            ctx.log.warning(
                "reply for non-running query (LTime: %d, ID: %d) From: %s",
                msg.ltime,
                msg.id,
                msg.from_node,
            )
            ctx.stats.drop(DropReason.REPLY_FOR_UNKNOWN_QUERY)
            return
        assert entry is not None
        collector = entry.collector
        if verdict is ResponseVerdict.ID_MISMATCH:
            ctx.log.warning(
                "Query reply ID mismatch (Local: %d, Response: %d)", collector.wire_id, msg.id
            )
            ctx.stats.drop(DropReason.REPLY_ID_MISMATCH)
            return
        op = collector.op
        owner = entry.owner
        if msg.flags & QUERY_RESPONSE_FLAG_ACK:
            if collector.add_ack(msg.from_node):
                ctx.stats.count("query_acks")
                if isinstance(owner, UserQuery):
                    ctx.out.append(QueryAck(op, msg.from_node))
            return
        if not collector.add_response(msg.from_node, msg.payload):
            return
        ctx.stats.count("query_responses")
        if isinstance(owner, KeyOpQuery):
            owner.aggregate.add(msg.from_node, msg.payload)
            if owner.aggregate.complete():
                self.close(op, now)
        elif isinstance(owner, ConflictQuery):
            error = owner.vote.add(msg.payload)
            if error is not None:
                ctx.log.error("%s", error)
        else:
            ctx.out.append(QueryResponse(op, msg.from_node, msg.payload))

    def close(self, op: int, now: float) -> bool:
        """Close open query ``op`` and tell its owner; False when it was not open."""
        entry = self.book.close(op)
        if entry is None:
            return False
        ctx = self._ctx
        ctx.timers.cancel(QueryDeadline(op))
        owner = entry.owner
        if isinstance(owner, KeyOpQuery):
            agg = owner.aggregate
            ctx.out.append(
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
        elif isinstance(owner, ConflictQuery):
            self._on_vote_closed(entry, now)
        else:
            ctx.out.append(QueryDone(op))
        return True

    def close_all(self, now: float) -> None:
        """Shutdown: close every open query."""
        for op in self.book.open_ops():
            self.close(op, now)

    def on_deadline(self, timer: QueryDeadline, now: float) -> bool:
        """``QueryDeadline`` fired; False when the query had closed already (stale)."""
        return self.close(timer.op, now)

    # ------------------------------------------------------------------------------------------
    # receiving and answering

    def receive(self, msg: MessageQuery, now: float) -> bool:
        """A query arrived (or we started one); returns whether to gossip it on."""
        ctx = self._ctx
        poison = query_poison(msg.name, msg.payload, msg.filters)
        if poison is not None:
            ctx.log.warning("dropping query %s: %s", msg.name, poison.value)
            ctx.stats.drop(poison)
            return False
        ctx.query_clock.witness(msg.ltime)
        verdict = self._buffer.admit(msg.ltime, msg.id, ctx.query_clock.time())
        if verdict is not QueryVerdict.NEW:
            if verdict is QueryVerdict.TOO_OLD:
                ctx.log.warning(
                    "received old query %s from time %d (current: %d)",
                    msg.name,
                    msg.ltime,
                    ctx.query_clock.time(),
                )
                ctx.stats.drop(DropReason.OLD_QUERY)
            elif verdict is QueryVerdict.BEFORE_MIN_TIME:
                ctx.stats.drop(DropReason.QUERY_BEFORE_MIN_TIME)
            return False
        ctx.stats.count("queries")
        rebroadcast = not msg.flags & QUERY_FLAG_NO_BROADCAST
        try:
            selected = filters_match(msg.filters, ctx.name, self._tags())
        except (DecodeError, GoRegexError) as exc:
            ctx.log.warning("query %s has a bad filter: %s", msg.name, exc)
            ctx.stats.drop(DropReason.BAD_QUERY_FILTER)
            return False  # refused: never gossiped on
        if not selected:
            return rebroadcast
        dest = Address(ip_text(msg.addr), msg.port)
        if not dest.host:
            ctx.stats.drop(DropReason.BAD_QUERY_ADDRESS)
            return False
        if msg.flags & QUERY_FLAG_ACK:
            ack = MessageQueryResponse(msg.ltime, msg.id, ctx.name, QUERY_RESPONSE_FLAG_ACK)
            raw = encode_serf_message(ack)
            ctx.ml.send_best_effort(dest, raw, now)
            self._relay(msg.relay_factor, dest, msg.source_node, raw, now)
        deadline = now + msg.timeout / 1e9
        entry = Answerable(deadline, dest, msg.source_node, msg.relay_factor)
        if self.book.add_answerable(msg.ltime, msg.id, entry, ctx.config.query_buffer):
            ctx.stats.drop(DropReason.UNANSWERED_QUERY_EVICTED)
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

    def respond(self, query: Query, payload: bytes, now: float) -> None:
        """Answer a delivered query once, before its deadline (see ``SerfNode.respond``)."""
        ctx = self._ctx
        ctx.require_running()
        inbound = self.book.answerable(query.ltime, query.id)
        if inbound is None:
            raise UnknownQuery("response already sent")
        if now > inbound.deadline:
            raise InvalidState("response is past the deadline")
        resp = MessageQueryResponse(query.ltime, query.id, ctx.name, 0, payload)
        raw = encode_serf_message(resp)
        limit = ctx.config.query_response_size_limit
        if len(raw) > limit:
            raise PayloadTooLarge(f"response exceeds limit of {limit} bytes")
        self.book.answered(query.ltime, query.id)
        ctx.ml.send_best_effort(inbound.addr, raw, now)
        self._relay(inbound.relay_factor, inbound.addr, inbound.source_node, raw, now)
        self._drain(now)

    def respond_internal(self, q: Query, payload: bytes, now: float) -> None:
        """Answer an internal query; a failure is logged, never raised."""
        try:
            self.respond(q, payload, now)
        except (InvalidState, UnknownQuery, PayloadTooLarge) as exc:
            self._ctx.log.error("Failed to respond to %s query: %s", q.name, exc)

    def _relay(
        self, relay_factor: int, dest: Address, dest_name: str, raw: bytes, now: float
    ) -> None:
        if relay_factor == 0:
            return
        ctx = self._ctx
        members = self._members()
        if len(members) < relay_factor + 1:
            return
        relay = encode_serf_message(MessageRelay(ip_bytes(dest.host), dest.port, dest_name, raw))
        limit = ctx.config.query_response_size_limit
        if len(relay) > limit:
            ctx.log.error("relayed response exceeds limit of %d bytes", limit)
            return
        chosen: list[Member] = []
        n = len(members)
        rng = ctx.rng
        for _ in range(3 * n):
            if len(chosen) >= relay_factor:
                break
            m = members[rng.randrange(n)]
            if m.status != MemberStatus.ALIVE or m.protocol[1] < 5 or m.name == ctx.name:
                continue
            if any(c.name == m.name for c in chosen):
                continue
            chosen.append(m)
        for m in chosen:
            ctx.ml.send_best_effort(m.addr, relay, now)
