"""Serf's hooks into the membership core (Go ``serf/delegate.go``, ``event_delegate.go``,
``conflict_delegate.go``, ``ping_delegate.go``).

Memberlist calls these synchronously from inside its driving calls, each with the call's
``now``. The delegate is wired to the Serf sub-machines, not to the node: each hook forwards
to one public method of the machine that owns the concern (messages to the router, broadcasts
to the queues, node events and push/pull to membership, probe RTTs to the coordinates, name
conflicts to the internal-query machine), passing ``now`` on. Keeping the hooks in one thin
class makes the seam between the two layers explicit and keeps memberlist's callback names off
the node's public surface.
"""

from __future__ import annotations

from serf_proto.memberlist.state import Node
from serf_proto.serf.broadcasts import Broadcasts
from serf_proto.serf.context import NodeContext
from serf_proto.serf.coordinates import Coordinates
from serf_proto.serf.internal import InternalQueries
from serf_proto.serf.membership import Membership
from serf_proto.serf.messages import MessageRouter
from serf_proto.wire import encode_tags
from serf_proto.wire.limits import META_MAX_SIZE

__all__ = ["SerfDelegate"]


class SerfDelegate:
    """Implements ``serf_proto.memberlist.delegate.MemberlistDelegate`` for one Serf node."""

    __slots__ = ("_broadcasts", "_coords", "_ctx", "_internal", "_membership", "_router")

    def __init__(
        self,
        ctx: NodeContext,
        *,
        router: MessageRouter,
        broadcasts: Broadcasts,
        membership: Membership,
        coords: Coordinates,
        internal: InternalQueries,
    ) -> None:
        self._ctx = ctx
        self._router = router
        self._broadcasts = broadcasts
        self._membership = membership
        self._coords = coords
        self._internal = internal

    def node_meta(self, limit: int, now: float) -> bytes:
        """Our tags, encoded as node meta."""
        ctx = self._ctx
        meta = encode_tags(ctx.tags, legacy=ctx.config.protocol_version < 3)
        assert len(meta) <= META_MAX_SIZE
        return meta

    def notify_msg(self, payload: bytes, now: float) -> None:
        """A Serf message arrived (gossip, direct send or relay)."""
        self._router.handle(payload, now)

    def get_broadcasts(self, overhead: int, limit: int, now: float) -> list[bytes]:
        """Intent, then query, then event broadcasts within ``limit`` bytes."""
        return self._broadcasts.take(overhead, limit, now)

    def pending_broadcasts(self, now: float) -> int:
        """How many Serf broadcasts wait (memberlist asks before parking its gossip ticker and
        whenever it re-plans its timers, so an idle node's ticker can sleep)."""
        return self._broadcasts.pending()

    def local_state(self, join: bool, now: float) -> bytes:
        """Our ``messagePushPull`` for a push/pull exchange."""
        return self._membership.local_state()

    def merge_remote_state(self, buf: bytes, join: bool, now: float) -> None:
        """Merge a peer's ``messagePushPull``."""
        self._membership.merge_remote_state(buf, join, now)

    def notify_join(self, node: Node, now: float) -> None:
        """Memberlist reports a node alive."""
        self._membership.node_joined(node, now)

    def notify_leave(self, node: Node, now: float) -> None:
        """Memberlist reports a node dead or left."""
        self._membership.node_gone(node, now)

    def notify_update(self, node: Node, now: float) -> None:
        """Memberlist reports new meta for a node."""
        self._membership.node_updated(node, now)

    def ack_payload(self, now: float) -> bytes:
        """Our coordinate for acks to direct pings (empty with coordinates disabled)."""
        return self._coords.ack_payload()

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes, now: float) -> None:
        """A direct probe was acked: fold the RTT (seconds) into our coordinate."""
        self._coords.ping_complete(node.name, rtt, payload)

    def notify_conflict(self, existing: Node, other: Node, now: float) -> None:
        """Another node claims a known name from a different address."""
        self._internal.name_conflict(existing, other, now)

    def notify_merge(self, nodes: list[Node], now: float) -> str | None:
        """A join or push/pull would add ``nodes``: Go's checks and the user's merge hook."""
        return self._membership.veto(nodes)

    def notify_alive(self, node: Node, now: float) -> str | None:
        """Alive news about ``node``: the same checks, for one node."""
        return self._membership.veto([node])
