"""Internal queries (``_serf_`` names) delivered to this node, and this node's conflict vote.

The event pipeline hands every delivered ``_serf_`` query here instead of emitting it:

* ``_serf_ping`` needs no answer (the ack is the answer): it stops being answerable;
* ``_serf_conflict`` is answered with our view of the contested member (or nil), unless the
  contested name is ours;
* key queries go to :class:`~serf_proto.serf.keyops.KeyOps`;
* anything else is logged and not answered.

**The conflict vote** (Go ``resolveNodeConflict``): when memberlist reports that another
address claims *our* name and resolution is enabled (protocol 4+), we ask everyone
(``_serf_conflict``) which address they know for us, once at a time. When the vote's query
closes, :meth:`ConflictVote.won <serf_proto.serf.internal_query.ConflictVote.won>` decides:
a majority for our address keeps us; otherwise this node shuts down and emits
``NodeShutdown``.
"""

from __future__ import annotations

from collections.abc import Callable

from serf_proto.events import NodeShutdown, Query
from serf_proto.memberlist.state import Node, ip_bytes
from serf_proto.serf.context import NodeContext
from serf_proto.serf.internal_query import (
    CONFLICT_QUERY,
    KEY_QUERIES,
    PING_QUERY,
    ConflictVote,
    conflict_answer,
)
from serf_proto.serf.keyops import KeyOps
from serf_proto.serf.members import MemberState
from serf_proto.serf.queries import Queries
from serf_proto.serf.query import QueryParams
from serf_proto.serf.querybook import ConflictQuery, OpenQuery
from serf_proto.wire import make_member_info

__all__ = ["InternalQueries"]


class InternalQueries:
    """See the module docstring. ``member(name)`` looks a member up; ``shutdown(now)`` stops
    the node after a lost vote."""

    __slots__ = ("_ctx", "_member", "_queries", "_shutdown", "keys")

    def __init__(
        self,
        ctx: NodeContext,
        queries: Queries,
        keys: KeyOps,
        member: Callable[[str], MemberState | None],
        shutdown: Callable[[float], None],
    ) -> None:
        self._ctx = ctx
        self._queries = queries
        self._member = member
        self._shutdown = shutdown
        self.keys = keys

    def handle(self, q: Query, now: float) -> None:
        """A delivered ``_serf_`` query; see the module docstring."""
        ctx = self._ctx
        book = self._queries.book
        if q.name == PING_QUERY:
            book.answered(q.ltime, q.id)
            return
        if q.name == CONFLICT_QUERY:
            node = q.payload.decode(errors="replace")
            if node == ctx.name:
                book.answered(q.ltime, q.id)
                return
            ctx.log.debug("Got conflict resolution query for '%s'", node)
            member = self._member(node)
            info = None
            if member is not None:
                info = make_member_info(
                    member.name,
                    ip_bytes(member.addr.host),
                    member.addr.port,
                    member.tags,
                    member.status.code,
                    bytes(member.protocol + member.delegate),
                )
            self._queries.respond_internal(q, conflict_answer(info), now)
            return
        kind = KEY_QUERIES.get(q.name)
        if kind is None:
            ctx.log.warning("Unhandled internal query '%s'", q.name)
            book.answered(q.ltime, q.id)
            return
        self.keys.answer(kind, q, now)

    # ------------------------------------------------------------------------------------------
    # the conflict vote

    def name_conflict(self, existing: Node, other: Node, now: float) -> None:
        """Memberlist saw ``other`` claim ``existing``'s name."""
        ctx = self._ctx
        if existing.name != ctx.name:
            ctx.log.warning(
                "Name conflict for '%s' both %s and %s are claiming",
                existing.name,
                existing.addr,
                other.addr,
            )
            return
        enabled = ctx.config.enable_name_conflict_resolution
        ctx.log.error(
            "Node name conflicts with another node at %s. Names must be unique! "
            "(Resolution enabled: %s)",
            other.addr,
            "true" if enabled else "false",
        )
        if enabled and not self._queries.book.voting() and ctx.config.protocol_version >= 4:
            local = ctx.ml.local_node
            vote = ConflictVote(ip_bytes(local.addr.host), local.addr.port)
            self._queries.start(
                CONFLICT_QUERY,
                ctx.name.encode(),
                QueryParams(),
                now,
                lambda op: ConflictQuery(vote),
            )

    def vote_closed(self, entry: OpenQuery, now: float) -> None:
        """The vote's query closed: stay with a majority, else shut down."""
        owner = entry.owner
        assert isinstance(owner, ConflictQuery)
        vote = owner.vote
        ctx = self._ctx
        if vote.won():
            ctx.log.info(
                "majority in name conflict resolution [%d / %d]", vote.matching, vote.responses
            )
            return
        ctx.log.warning(
            "minority in name conflict resolution, quiting [%d / %d]",
            vote.matching,
            vote.responses,
        )
        self._shutdown(now)
        ctx.out.append(NodeShutdown("lost name conflict resolution"))
