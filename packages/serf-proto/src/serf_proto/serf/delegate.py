"""Serf's hooks into the membership core (Go ``serf/delegate.go``, ``event_delegate.go``,
``conflict_delegate.go``, ``ping_delegate.go``).

Memberlist calls these synchronously from inside its driving calls, each with the call's
``now``. Each hook forwards to the owning :class:`~serf_proto.serf.node.SerfNode`, which holds
all state; keeping the hooks in one thin class makes the seam between the two layers explicit and
keeps the node's public surface free of memberlist's callback names. Hooks whose node method
takes no ``now`` rely on the node's own ``now``, which the same driving call has just set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from serf_proto.memberlist.delegate import NullDelegate
from serf_proto.memberlist.state import Node

if TYPE_CHECKING:
    from serf_proto.serf.node import SerfNode


class SerfDelegate:
    """Implements ``serf_proto.memberlist.delegate.MemberlistDelegate`` for a ``SerfNode``."""

    __slots__ = ("_node",)

    def __init__(self, node: SerfNode) -> None:
        self._node = node

    def node_meta(self, limit: int, now: float) -> bytes:
        """Our tags, encoded as node meta."""
        return self._node._encoded_tags()

    def notify_msg(self, payload: bytes, now: float) -> None:
        """A Serf message arrived (gossip, direct send or relay)."""
        self._node._handle_message(payload, now)

    def get_broadcasts(self, overhead: int, limit: int, now: float) -> list[bytes]:
        """Intent, then query, then event broadcasts within ``limit`` bytes."""
        return self._node._get_broadcasts(overhead, limit)

    def pending_broadcasts(self, now: float) -> int:
        """How many Serf broadcasts wait (memberlist asks before parking its gossip ticker and
        whenever it re-plans its timers, so an idle node's ticker can sleep)."""
        return self._node._pending_broadcasts()

    def local_state(self, join: bool, now: float) -> bytes:
        """Our ``messagePushPull`` for a push/pull exchange."""
        return self._node._local_state()

    def merge_remote_state(self, buf: bytes, join: bool, now: float) -> None:
        """Merge a peer's ``messagePushPull``."""
        self._node._merge_remote_state(buf, join)

    def notify_join(self, node: Node, now: float) -> None:
        """Memberlist reports a node alive."""
        self._node._node_joined(node)

    def notify_leave(self, node: Node, now: float) -> None:
        """Memberlist reports a node dead or left."""
        self._node._node_gone(node)

    def notify_update(self, node: Node, now: float) -> None:
        """Memberlist reports new meta for a node."""
        self._node._node_updated(node)

    def ack_payload(self, now: float) -> bytes:
        """Our coordinate for acks to direct pings (empty with coordinates disabled)."""
        return self._node._ack_payload()

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes, now: float) -> None:
        """A direct probe was acked: fold the RTT (seconds) into our coordinate."""
        self._node._ping_complete(node, rtt, payload)

    def notify_conflict(self, existing: Node, other: Node, now: float) -> None:
        """Another node claims a known name from a different address."""
        self._node._name_conflict(existing, other)

    # Serf installs no merge or alive veto; sharing NullDelegate's hooks tells memberlist so,
    # and it then skips building the node lists they would receive.
    notify_merge = NullDelegate.notify_merge
    notify_alive = NullDelegate.notify_alive
