"""The records of work in flight: a probe, a relayed probe, a join, and one type per stream.

Go runs each of these as a goroutine blocked on channels; here each is a small slotted record
a sub-machine keeps between inputs, advanced by packets, stream events and deadlines.

Streams come in five kinds, each its own type carrying only what that kind needs:

========================  ==============================================  ======================
type                      what it is                                      reply it waits for
========================  ==============================================  ======================
:class:`InboundStream`    a peer dialed us (ping, push/pull or message)   the peer's one message
:class:`PushPullStream`   our periodic state exchange                     the peer's push/pull
:class:`JoinStream`       a push/pull of a ``join`` command (``op``)      the peer's push/pull
:class:`TcpPingStream`    the TCP fallback of a probe (``seq``, target)   an ack for ``seq``
:class:`UserStream`       a reliable user message (``payload``)           none: closed when sent
========================  ==============================================  ======================
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from serf_proto.memberlist.deadlines import ProbeEnd, ProbeTimeout
from serf_proto.memberlist.state import Node
from serf_proto.types import Address
from serf_proto.wire.stream import StreamDecoder

__all__ = [
    "InboundStream",
    "JoinOp",
    "JoinStream",
    "Phase",
    "Probe",
    "PushPullStream",
    "Relay",
    "Session",
    "StreamSession",
    "TcpPingStream",
    "UserStream",
]


class Phase(Enum):
    """Where a probe stands: waiting for the direct ack, for helpers, or for the TCP ping."""

    DIRECT = "direct"
    INDIRECT = "indirect"
    WAIT_TCP = "wait-tcp"


class Probe:
    """One probe in flight: the target as it was when the probe started, and its progress.

    ``timeout`` is the deadline of the direct phase; ``end`` (scheduled when the probe goes
    indirect) the deadline of the whole probe, at ``deadline``."""

    __slots__ = (
        "deadline",
        "end",
        "expected_nacks",
        "nacks",
        "phase",
        "sent",
        "seq",
        "target",
        "tcp_ok",
        "tcp_sid",
        "timeout",
    )

    def __init__(self, target: Node, seq: int, sent: float, deadline: float) -> None:
        self.target = target
        self.seq = seq
        self.sent = sent
        self.deadline = deadline
        self.timeout = ProbeTimeout(seq)
        self.end: ProbeEnd | None = None
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


class JoinOp:
    """One ``join`` command: streams still running, successes and error texts."""

    __slots__ = ("errors", "joined", "pending")

    def __init__(self) -> None:
        self.pending: set[int] = set()
        self.joined = 0
        self.errors: list[str] = []


class StreamSession:
    """What every stream has: its id, the peer, and the decoder of what the peer sends."""

    __slots__ = ("addr", "decoder", "received", "sid")

    def __init__(self, sid: int, addr: Address) -> None:
        self.sid = sid
        self.addr = addr
        #: The incremental decoder of what the peer sends (made on the first bytes).
        self.decoder: StreamDecoder | None = None
        #: Bytes received so far.
        self.received = 0


class InboundStream(StreamSession):
    """A stream a peer opened to us; it may start with the dialer's label header."""

    __slots__ = ()


class PushPullStream(StreamSession):
    """Our periodic push/pull with a random alive peer."""

    __slots__ = ()


class JoinStream(StreamSession):
    """A push/pull with ``Join=true`` for the ``join`` command ``op``."""

    __slots__ = ("op",)

    def __init__(self, sid: int, addr: Address, op: int) -> None:
        super().__init__(sid, addr)
        self.op = op


class TcpPingStream(StreamSession):
    """The TCP fallback of probe ``seq`` of node ``target``; ``on_done(sid, ok, now)`` gets
    its outcome."""

    __slots__ = ("on_done", "seq", "target")

    def __init__(
        self,
        sid: int,
        addr: Address,
        seq: int,
        target: str,
        on_done: Callable[[int, bool, float], None],
    ) -> None:
        super().__init__(sid, addr)
        self.seq = seq
        self.target = target
        self.on_done = on_done


class UserStream(StreamSession):
    """A reliable user message: sent once connected, then closed."""

    __slots__ = ("payload",)

    def __init__(self, sid: int, addr: Address, payload: bytes) -> None:
        super().__init__(sid, addr)
        self.payload = payload


#: Every kind of stream session.
Session = InboundStream | PushPullStream | JoinStream | TcpPingStream | UserStream
