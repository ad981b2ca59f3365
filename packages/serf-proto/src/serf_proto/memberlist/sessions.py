"""The records of work in flight: a probe, a relayed probe, a stream session, a join.

Go runs each of these as a goroutine blocked on channels; here each is a small slotted record
the core keeps between inputs, advanced by packets, stream events and timer keys.
"""

from __future__ import annotations

from enum import Enum

from serf_proto.memberlist.state import Node
from serf_proto.types import Address
from serf_proto.wire.stream import StreamDecoder

__all__ = ["JoinOp", "Phase", "Probe", "Relay", "Stream", "StreamKind"]


class Phase(Enum):
    """Where a probe stands: waiting for the direct ack, for helpers, or for the TCP ping."""

    DIRECT = "direct"
    INDIRECT = "indirect"
    WAIT_TCP = "wait-tcp"


class Probe:
    """One probe in flight: the target as it was when the probe started, and its progress."""

    __slots__ = (
        "deadline",
        "expected_nacks",
        "nacks",
        "phase",
        "sent",
        "seq",
        "target",
        "tcp_ok",
        "tcp_sid",
    )

    def __init__(self, target: Node, seq: int, sent: float, deadline: float) -> None:
        self.target = target
        self.seq = seq
        self.sent = sent
        self.deadline = deadline
        self.phase = Phase.DIRECT
        self.expected_nacks = 0
        self.nacks = 0
        self.tcp_sid: int | None = None
        self.tcp_ok = False


class Relay:
    """An indirect ping we run for ``requester``: relay the ack, or a nack on timeout."""

    __slots__ = ("nack", "orig_seq", "requester")

    def __init__(self, orig_seq: int, requester: Address, nack: bool) -> None:
        self.orig_seq = orig_seq
        self.requester = requester
        self.nack = nack


class StreamKind(Enum):
    """What a stream is for: our push/pull, TCP ping or reliable send, or a peer's request."""

    PUSH_PULL = "push-pull"
    TCP_PING = "tcp-ping"
    USER = "user"
    INBOUND = "inbound"


class Stream:
    """One stream session: what it is for and what has been received so far."""

    __slots__ = ("addr", "decoder", "join", "kind", "op", "payload", "received", "seq", "sid")

    def __init__(self, sid: int, kind: StreamKind, addr: Address) -> None:
        self.sid = sid
        self.kind = kind
        self.addr = addr
        #: The incremental decoder of what the peer sends (made on the first bytes).
        self.decoder: StreamDecoder | None = None
        #: Bytes received so far.
        self.received = 0
        self.join = False
        self.op: int | None = None
        self.seq = 0
        self.payload = b""


class JoinOp:
    """One ``join`` command: streams still running, successes and error texts."""

    __slots__ = ("errors", "joined", "pending")

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.joined = 0
        self.errors: list[str] = []
