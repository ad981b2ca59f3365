"""The hooks the membership core calls into the layer above it (Serf).

Go memberlist has seven delegate interfaces (``Delegate``, ``EventDelegate``,
``ConflictDelegate``, ``MergeDelegate``, ``PingDelegate``, ``AliveDelegate``); here they are one
:class:`MemberlistDelegate` protocol. Every hook is synchronous and is called from inside a
driving call (``receive_packet``, ``handle_timer`` ...), so it must not call back into the
driving API; it may queue broadcasts or record state. :class:`NullDelegate` implements every
hook as "nothing to add, accept everything", so a bare ``Memberlist`` works on its own.
"""

from __future__ import annotations

from typing import Protocol

from serf_proto.memberlist.state import Node

__all__ = ["MemberlistDelegate", "NullDelegate"]


class MemberlistDelegate(Protocol):
    """What the membership core asks of the layer above it."""

    def node_meta(self, limit: int) -> bytes:
        """Metadata gossiped with our alive messages; at most ``limit`` bytes."""
        ...

    def notify_msg(self, payload: bytes, now: float) -> None:
        """A user message arrived (packet or stream); ``payload`` is without the ``08`` byte."""
        ...

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        """User broadcasts to piggyback; ``sum(len + overhead)`` must stay within ``limit``."""
        ...

    def local_state(self, join: bool) -> bytes:
        """Our user state for a push/pull (``join`` is True for a join exchange)."""
        ...

    def merge_remote_state(self, buf: bytes, join: bool) -> None:
        """Merge a peer's user state received in a push/pull."""
        ...

    def notify_join(self, node: Node) -> None:
        """``node`` became alive (first seen, or came back from dead/left)."""
        ...

    def notify_leave(self, node: Node) -> None:
        """``node`` is dead (``state`` DEAD) or has left (``state`` LEFT)."""
        ...

    def notify_update(self, node: Node) -> None:
        """``node``'s metadata changed."""
        ...

    def ack_payload(self) -> bytes:
        """Payload for our acks to direct pings (Serf: our coordinate)."""
        ...

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes) -> None:
        """A direct probe of ``node`` was acked after ``rtt`` seconds with ``payload``."""
        ...

    def notify_conflict(self, existing: Node, other: Node) -> None:
        """Another node claims ``existing``'s name from a different address."""
        ...

    def notify_merge(self, nodes: list[Node]) -> str | None:
        """Veto a push/pull merge by returning an error text; None accepts it."""
        ...

    def notify_alive(self, node: Node) -> str | None:
        """Veto an alive message by returning an error text; None accepts it."""
        ...


class NullDelegate:
    """A delegate that adds nothing and accepts everything."""

    def node_meta(self, limit: int) -> bytes:
        return b""

    def notify_msg(self, payload: bytes, now: float) -> None:
        return None

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        return []

    def local_state(self, join: bool) -> bytes:
        return b""

    def merge_remote_state(self, buf: bytes, join: bool) -> None:
        return None

    def notify_join(self, node: Node) -> None:
        return None

    def notify_leave(self, node: Node) -> None:
        return None

    def notify_update(self, node: Node) -> None:
        return None

    def ack_payload(self) -> bytes:
        return b""

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes) -> None:
        return None

    def notify_conflict(self, existing: Node, other: Node) -> None:
        return None

    def notify_merge(self, nodes: list[Node]) -> str | None:
        return None

    def notify_alive(self, node: Node) -> str | None:
        return None
