"""Serf messages arriving through memberlist (Go ``serf/serf.go`` ``handleUserMsg``).

A user message memberlist delivers (gossip, direct send or relay) is decoded and routed by
type: join/leave intents to membership, user events to the user-event machine, queries and
query responses to the query machine, a ``messageRelay`` is forwarded to its destination.
Whatever an intent, event or query handler calls new is gossiped on, byte for byte, on its
broadcast lane. Undecodable input and unknown types are logged and counted, never raised.
"""

from __future__ import annotations

from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError
from serf_proto.memberlist.state import ip_text
from serf_proto.serf.broadcasts import Broadcasts, Lane
from serf_proto.serf.context import NodeContext
from serf_proto.serf.membership import Membership
from serf_proto.serf.queries import Queries
from serf_proto.serf.user_events import UserEvents
from serf_proto.types import Address
from serf_proto.wire import (
    MessageJoin,
    MessageLeave,
    MessageQuery,
    MessageQueryResponse,
    MessageRelay,
    MessageUserEvent,
    decode_serf_message,
)

__all__ = ["MessageRouter"]


class MessageRouter:
    """Routes one node's incoming Serf messages; see the module docstring."""

    __slots__ = ("_broadcasts", "_ctx", "_membership", "_queries", "_user_events")

    def __init__(
        self,
        ctx: NodeContext,
        *,
        membership: Membership,
        user_events: UserEvents,
        queries: Queries,
        broadcasts: Broadcasts,
    ) -> None:
        self._ctx = ctx
        self._membership = membership
        self._user_events = user_events
        self._queries = queries
        self._broadcasts = broadcasts

    def handle(self, buf: bytes, now: float) -> None:
        """Decode, apply and maybe gossip on one Serf message."""
        if not buf:
            return
        ctx = self._ctx
        log = ctx.log
        try:
            msg = decode_serf_message(buf)
        except DecodeError as exc:
            log.error("Error decoding message type %d: %s", buf[0], exc)
            ctx.stats.drop(DropReason.of(exc))
            return
        rebroadcast = False
        lane = Lane.INTENT
        if isinstance(msg, MessageLeave):
            log.debug("messageLeaveType: %s", msg.node)
            rebroadcast = self._membership.leave_intent(msg, now)
        elif isinstance(msg, MessageJoin):
            log.debug("messageJoinType: %s", msg.node)
            rebroadcast = self._membership.join_intent(msg.node, msg.ltime, now)
        elif isinstance(msg, MessageUserEvent):
            log.debug("messageUserEventType: %s", msg.name)
            rebroadcast = self._user_events.receive(msg, now)
            lane = Lane.EVENT
        elif isinstance(msg, MessageQuery):
            log.debug("messageQueryType: %s", msg.name)
            rebroadcast = self._queries.receive(msg, now)
            lane = Lane.QUERY
        elif isinstance(msg, MessageQueryResponse):
            log.debug("messageQueryResponseType: %s", msg.from_node)
            self._queries.receive_response(msg, now)
        elif isinstance(msg, MessageRelay):
            dest = Address(ip_text(msg.dest_addr), msg.dest_port)
            log.debug("Relaying response to addr: %s", dest)
            if not dest.host:
                ctx.stats.drop(DropReason.BAD_RELAY_ADDRESS)
                return
            if not _is_query_response(msg.message):
                # Serf relays only query responses; anything else could be poison for the
                # destination (a Go peer crashes on some queries), so it is never forwarded.
                ctx.stats.drop(DropReason.BAD_RELAY_MESSAGE)
                return
            ctx.ml.send_best_effort(dest, msg.message, now)
        else:
            log.warning("Received message of unknown type: %d", buf[0])
            ctx.stats.drop(DropReason.UNEXPECTED_SERF_MESSAGE)
        if rebroadcast:
            self._broadcasts.queue(lane, bytes(buf), now)


def _is_query_response(raw: bytes) -> bool:
    """Whether a relayed payload is a query response that decodes (all Serf relays carry)."""
    try:
        return isinstance(decode_serf_message(raw), MessageQueryResponse)
    except DecodeError:
        return False
