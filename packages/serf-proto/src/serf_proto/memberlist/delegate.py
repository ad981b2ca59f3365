"""The hooks the membership core calls into the layer above it (Serf).

Go memberlist has seven delegate interfaces (``Delegate``, ``EventDelegate``,
``ConflictDelegate``, ``MergeDelegate``, ``PingDelegate``, ``AliveDelegate``); here they are one
:class:`MemberlistDelegate` protocol that lists every hook the core calls. Every hook is
synchronous and is called from inside a driving call (``receive_packet``, ``handle_timer`` ...)
or a command, so it must not call back into the driving API; it may queue broadcasts or record
state. Every hook gets the ``now`` of the call it runs in as its last argument, so the layer
above never needs a clock of its own.

**The wake contract.** While no broadcast is queued anywhere, memberlist parks its gossip
ticker (Go's idle ticks would send nothing). It asks :meth:`MemberlistDelegate.pending_broadcasts`
before it parks, and again every time it re-plans its timers (``next_timer()``, which every
binding calls after every input). So a delegate that queues a broadcast at any time, even from
its own timers or commands, needs to tell memberlist nothing: the ticker resumes at its next tick
after that input. ``pending_broadcasts`` must therefore count every broadcast
``get_broadcasts`` could return.

:class:`NullDelegate` implements every hook as "nothing to add, accept everything", so a bare
``Memberlist`` works on its own. A delegate that keeps NullDelegate's ``notify_merge``,
``notify_alive`` or ``notify_ping_complete`` (by subclassing it or by assigning the function)
installs no veto or RTT hook, and memberlist then skips building what those hooks would receive.
"""

from __future__ import annotations

from typing import Protocol

from serf_proto.memberlist.state import Node

__all__ = ["MemberlistDelegate", "NullDelegate"]


class MemberlistDelegate(Protocol):
    """What the membership core asks of the layer above it."""

    def node_meta(self, limit: int, now: float) -> bytes:
        """Metadata gossiped with our alive messages; at most ``limit`` bytes."""
        ...

    def notify_msg(self, payload: bytes, now: float) -> None:
        """A user message arrived (packet or stream); ``payload`` is without the ``08`` byte."""
        ...

    def get_broadcasts(self, overhead: int, limit: int, now: float) -> list[bytes]:
        """User broadcasts to piggyback; ``sum(len + overhead)`` must stay within ``limit``."""
        ...

    def pending_broadcasts(self, now: float) -> int:
        """How many broadcasts ``get_broadcasts`` could still return (0: let gossip park)."""
        ...

    def local_state(self, join: bool, now: float) -> bytes:
        """Our user state for a push/pull (``join`` is True for a join exchange)."""
        ...

    def merge_remote_state(self, buf: bytes, join: bool, now: float) -> None:
        """Merge a peer's user state received in a push/pull."""
        ...

    def notify_join(self, node: Node, now: float) -> None:
        """``node`` became alive (first seen, or came back from dead/left)."""
        ...

    def notify_leave(self, node: Node, now: float) -> None:
        """``node`` is dead (``state`` DEAD) or has left (``state`` LEFT)."""
        ...

    def notify_update(self, node: Node, now: float) -> None:
        """``node``'s metadata changed."""
        ...

    def ack_payload(self, now: float) -> bytes:
        """Payload for our acks to direct pings (Serf: our coordinate)."""
        ...

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes, now: float) -> None:
        """A direct probe of ``node`` was acked after ``rtt`` seconds with ``payload``."""
        ...

    def notify_conflict(self, existing: Node, other: Node, now: float) -> None:
        """Another node claims ``existing``'s name from a different address."""
        ...

    def notify_merge(self, nodes: list[Node], now: float) -> str | None:
        """Veto a push/pull merge by returning an error text; None accepts it."""
        ...

    def notify_alive(self, node: Node, now: float) -> str | None:
        """Veto an alive message by returning an error text; None accepts it."""
        ...


class NullDelegate:
    """A delegate that adds nothing and accepts everything."""

    def node_meta(self, limit: int, now: float) -> bytes:
        return b""

    def notify_msg(self, payload: bytes, now: float) -> None:
        return None

    def get_broadcasts(self, overhead: int, limit: int, now: float) -> list[bytes]:
        return []

    def pending_broadcasts(self, now: float) -> int:
        return 0

    def local_state(self, join: bool, now: float) -> bytes:
        return b""

    def merge_remote_state(self, buf: bytes, join: bool, now: float) -> None:
        return None

    def notify_join(self, node: Node, now: float) -> None:
        return None

    def notify_leave(self, node: Node, now: float) -> None:
        return None

    def notify_update(self, node: Node, now: float) -> None:
        return None

    def ack_payload(self, now: float) -> bytes:
        return b""

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes, now: float) -> None:
        return None

    def notify_conflict(self, existing: Node, other: Node, now: float) -> None:
        return None

    def notify_merge(self, nodes: list[Node], now: float) -> str | None:
        return None

    def notify_alive(self, node: Node, now: float) -> str | None:
        return None
