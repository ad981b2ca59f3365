"""Streams: push/pull, join, TCP ping and reliable user messages over TCP (Go ``net.go``).

Every memberlist stream carries one message each way. The binding connects, reads and closes;
this machine decides what goes over each stream and what its one reply means:

* **outbound** (we dial: ``OpenStream``, then ``stream_connected``): a periodic push/pull
  (:class:`PushPullStream`), a push/pull of a ``join`` (:class:`JoinStream`), the TCP fallback
  of a probe (:class:`TcpPingStream`) or a reliable user message (:class:`UserStream`, closed as
  soon as it is written). The first message we send carries the label header, if any.
* **inbound** (:class:`InboundStream`, a peer dialed us): a ping is acked, a push/pull is
  answered with our state and then merged, a user message goes to the delegate. At most
  ``MAX_INBOUND_STREAMS`` are open at once (Go refuses the 128th concurrent push/pull).

Each stream gets a :class:`StreamDeadline`; bytes are fed to one incremental
:class:`~serf_proto.wire.stream.StreamDecoder` per stream, bounded by ``MAX_STREAM_BYTES``.
A stream that fails, times out or sends garbage ends *without its reply*: a push/pull logs the
failure, a join counts an error (worded as Go's ``Failed to join HOST: reason``), a TCP ping
reports failure to its probe. ``JoinCompleted`` is emitted when every stream of a join ended.

The periodic push/pull ticks every ``push_pull_interval`` scaled by the table size (×2 above
32 nodes, ×3 above 64 ...), with one random alive peer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import assert_never

from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError
from serf_proto.events import JoinCompleted
from serf_proto.memberlist.context import Context
from serf_proto.memberlist.deadlines import PUSH_PULL_TICK, StreamDeadline
from serf_proto.memberlist.formulas import push_pull_scale
from serf_proto.memberlist.membership import Membership
from serf_proto.memberlist.pushpull import encode_local_state
from serf_proto.memberlist.sessions import (
    InboundStream,
    JoinOp,
    JoinStream,
    PushPullStream,
    Session,
    TcpPingStream,
    UserStream,
)
from serf_proto.memberlist.table import NodeTable
from serf_proto.outputs import CloseStream, OpenStream, SendStream
from serf_proto.types import Address, NodeState
from serf_proto.wire.limits import MAX_STREAM_BYTES, MAX_USER_STATE_LEN
from serf_proto.wire.messages import (
    Ack,
    ErrResp,
    Message,
    MessageType,
    Ping,
    PushPull,
    UserMsg,
    encode_message,
    encode_stream_message,
)

__all__ = ["MAX_INBOUND_STREAMS", "Streams", "remote_state_near_limit"]

#: Most inbound streams open at once; more are closed at once (Go refuses the 128th
#: concurrent push/pull, ``maxPushPullRequests``).
MAX_INBOUND_STREAMS = 128


def remote_state_near_limit(size: int) -> bool:
    """Memberlist ≥ 0.5 warns when a peer's push/pull state passes 60% of the 20 MiB limit."""
    return size > int(0.6 * MAX_USER_STATE_LEN)


class Streams:
    """Every open stream of one memberlist, the ``join`` commands, and the push/pull ticker."""

    __slots__ = ("_ctx", "_inbound", "_joins", "_membership", "_next_sid", "_streams", "_table")

    def __init__(self, ctx: Context, table: NodeTable, membership: Membership) -> None:
        self._ctx = ctx
        self._table = table
        self._membership = membership
        self._streams: dict[int, Session] = {}
        self._next_sid = 0
        self._inbound = 0
        self._joins: dict[int, JoinOp] = {}

    def is_open(self, sid: int) -> bool:
        """Whether stream ``sid`` is still running."""
        return sid in self._streams

    def session(self, sid: int) -> Session | None:
        """The session of open stream ``sid`` (read-only), or None."""
        return self._streams.get(sid)

    # -- the binding's stream events -------------------------------------------------------

    def accept(self, addr: Address, now: float) -> int:
        """A peer dialed us; returns the stream id (closed at once when over the bound)."""
        ctx = self._ctx
        if ctx.shutdown or self._inbound >= MAX_INBOUND_STREAMS:
            return self.refuse(DropReason.TOO_MANY_STREAMS)
        sid = self._new_sid()
        ctx.stats.streams_in += 1
        self._inbound += 1
        self._streams[sid] = InboundStream(sid, addr)
        ctx.timers.schedule(StreamDeadline(sid), now + ctx.config.tcp_timeout)
        return sid

    def refuse(self, reason: DropReason) -> int:
        """A peer dialed us and is turned away: count ``reason``, close the new stream."""
        ctx = self._ctx
        sid = self._new_sid()
        ctx.stats.streams_in += 1
        ctx.stats.drop(reason)
        ctx.out.append(CloseStream(sid))
        return sid

    def connected(self, sid: int, now: float) -> None:
        """Our ``OpenStream(sid)`` connected: send what it is for."""
        st = self._streams.get(sid)
        ctx = self._ctx
        if st is None or ctx.shutdown:
            return
        preamble = ctx.wire.stream_preamble()
        match st:
            case PushPullStream():
                self._send(sid, self._local_state(False, now), preamble)
            case JoinStream():
                self._send(sid, self._local_state(True, now), preamble)
            case TcpPingStream():
                ping = Ping(st.seq, st.target, ctx.ip, ctx.port, ctx.name)
                self._send(sid, encode_message(ping), preamble)
            case UserStream():
                self._send(sid, encode_stream_message(UserMsg(st.payload)), preamble)
                self._close(st)
            case InboundStream():
                pass  # nothing connects an inbound stream
            case _:
                assert_never(st)

    def failed(self, sid: int, reason: str, now: float) -> None:
        """Stream ``sid`` could not connect, or broke."""
        st = self._streams.get(sid)
        if st is not None:
            self._end(st, reason, now, close=False)

    def data(self, sid: int, data: bytes, now: float) -> None:
        """Bytes arrived on stream ``sid``; ``b""`` is EOF."""
        st = self._streams.get(sid)
        ctx = self._ctx
        if st is None or ctx.shutdown:
            return
        if not data:
            self._end(st, "EOF", now, close=True)
            return
        st.received += len(data)
        if st.received > MAX_STREAM_BYTES:
            ctx.stats.drop(DropReason.STREAM_TOO_LARGE)
            self._end(st, "stream message too large", now, close=True)
            return
        inbound = isinstance(st, InboundStream)
        if st.decoder is None:
            st.decoder = ctx.wire.stream_decoder(inbound)
        try:
            msgs = st.decoder.feed(data)
        except DecodeError as exc:
            ctx.stats.drop(DropReason.of(exc))
            if inbound and ctx.wire.is_outer_layer_error(exc):
                self._send(sid, encode_message(ErrResp(str(exc))))
            self._end(st, f"bad stream message: {exc}", now, close=True)
            return
        if not msgs:
            return
        ctx.timers.cancel(StreamDeadline(sid))
        if isinstance(msgs[0], PushPull) and remote_state_near_limit(st.received):
            ctx.log.warning(
                "Remote node state size is (%d) limit is (%d)", st.received, MAX_USER_STATE_LEN
            )
        if isinstance(st, InboundStream):
            self._request(st, msgs[0], now)
        else:
            self._reply(st, msgs[0], now)

    def deadline(self, timer: StreamDeadline, now: float) -> None:
        """A :class:`StreamDeadline` fell due: the stream ends with an i/o timeout."""
        st = self._streams.get(timer.sid)
        if st is None:
            self._ctx.stale(timer)
            return
        self._end(st, "i/o timeout", now, close=True)

    def shutdown(self) -> None:
        """Close every stream."""
        for st in list(self._streams.values()):
            self._ctx.out.append(CloseStream(st.sid))
        self._streams.clear()
        self._inbound = 0

    # -- streams we open -------------------------------------------------------------------

    def join(self, op: int, addrs: Iterable[Address], now: float) -> None:
        """A push/pull with ``Join=true`` to every address; ``JoinCompleted(op)`` follows."""
        job = JoinOp()
        for addr in addrs:
            sid = self._new_sid()
            self._open(JoinStream(sid, addr, op), now, self._ctx.config.tcp_timeout)
            job.pending.add(sid)
        self._joins[op] = job
        if not job.pending:
            self._finish_join(op)

    def send_user(self, addr: Address, payload: bytes, now: float) -> int:
        """A reliable user message to ``addr``; returns the stream id."""
        sid = self._new_sid()
        self._open(UserStream(sid, addr, payload), now, self._ctx.config.tcp_timeout)
        return sid

    def open_tcp_ping(
        self,
        addr: Address,
        seq: int,
        target: str,
        timeout: float,
        now: float,
        on_done: Callable[[int, bool, float], None],
    ) -> int:
        """The TCP fallback ping of probe ``seq``; ``on_done(sid, ok, now)`` gets the outcome."""
        sid = self._new_sid()
        self._open(TcpPingStream(sid, addr, seq, target, on_done), now, timeout)
        return sid

    # -- the push/pull ticker --------------------------------------------------------------

    def start(self, now: float) -> None:
        """Arm the first push/pull at a random point of the (unscaled) interval."""
        ctx = self._ctx
        interval = ctx.config.push_pull_interval
        if interval > 0:
            ctx.timers.schedule(PUSH_PULL_TICK, now + ctx.rng.random() * interval)

    def rephase(self, now: float) -> None:
        """Move the next push/pull to a random point of the interval scaled to today's table."""
        ctx = self._ctx
        if ctx.config.push_pull_interval > 0 and not ctx.shutdown:
            interval = push_pull_scale(ctx.config.push_pull_interval, len(self._table))
            ctx.timers.schedule(PUSH_PULL_TICK, now + ctx.rng.random() * interval)

    def tick(self, now: float) -> None:
        """Re-arm the ticker, then push/pull with one random alive peer."""
        ctx = self._ctx
        table = self._table
        interval = push_pull_scale(ctx.config.push_pull_interval, len(table))
        ctx.timers.schedule(PUSH_PULL_TICK, now + interval)
        self.push_pull_random(now)

    def push_pull_random(self, now: float) -> None:
        """Push/pull with one random alive peer (if any)."""
        ctx = self._ctx
        me = ctx.name
        peers = self._table.k_random(
            1, lambda rec: rec.name == me or rec.state != NodeState.ALIVE, ctx.rng
        )
        if peers:
            sid = self._new_sid()
            self._open(PushPullStream(sid, peers[0].addr), now, ctx.config.tcp_timeout)

    # -- replies and requests --------------------------------------------------------------

    def _request(self, st: InboundStream, msg: Message, now: float) -> None:
        """A peer's one message on a stream it opened."""
        ctx = self._ctx
        match msg:
            case Ping():
                if msg.node and msg.node != ctx.name:
                    ctx.log.warning("Got ping for unexpected node %s", msg.node)
                    self._close(st)
                    return
                self._send(st.sid, encode_message(Ack(msg.seq_no)))
                self._close(st)
            case PushPull():
                self._send(st.sid, self._local_state(msg.join, now))
                self._close(st)
                error = self._membership.merge(msg, now)
                if error is not None:
                    ctx.log.error("Failed push/pull merge: %s", error)
                else:
                    ctx.stats.push_pulls += 1
            case UserMsg():
                self._close(st)
                ctx.delegate.notify_msg(msg.payload, now)
            case _:
                ctx.log.error("Received invalid msgType on stream")
                ctx.stats.drop(DropReason.UNEXPECTED_STREAM_TYPE)
                self._close(st)

    def _reply(
        self, st: PushPullStream | JoinStream | TcpPingStream | UserStream, msg: Message, now: float
    ) -> None:
        """The peer's one message on a stream we opened."""
        self._close(st)
        match st:
            case PushPullStream() | JoinStream():
                if isinstance(msg, ErrResp):
                    self._exchanged(st, f"remote error: {msg.error}")
                elif isinstance(msg, PushPull):
                    self._exchanged(st, self._membership.merge(msg, now))
                else:
                    expected = int(MessageType.PUSH_PULL)
                    self._exchanged(
                        st, f"received invalid msgType, expected pushPullMsg ({expected})"
                    )
            case TcpPingStream():
                st.on_done(st.sid, isinstance(msg, Ack) and msg.seq_no == st.seq, now)
            case UserStream():
                pass  # closed when sent; nothing is read from it
            case _:
                assert_never(st)

    def _end(self, st: Session, reason: str, now: float, *, close: bool) -> None:
        """Stream ``st`` ended without the reply it waited for."""
        if close:
            self._close(st)
        else:
            self._forget(st)
            self._ctx.timers.cancel(StreamDeadline(st.sid))
        match st:
            case PushPullStream() | JoinStream():
                self._exchanged(st, reason)
            case TcpPingStream():
                st.on_done(st.sid, False, now)
            case InboundStream() | UserStream():
                pass
            case _:
                assert_never(st)

    def _exchanged(self, st: PushPullStream | JoinStream, reason: str | None) -> None:
        """A push/pull ended; ``reason`` says why it failed (None: merged)."""
        ctx = self._ctx
        if reason is None:
            ctx.stats.push_pulls += 1
        if isinstance(st, PushPullStream):
            if reason is not None:
                ctx.log.error("Push/Pull with %s failed: %s", st.addr, reason)
            return
        job = self._joins.get(st.op)
        if job is None:
            return
        job.pending.discard(st.sid)
        if reason is None:
            job.joined += 1
        else:
            job.errors.append(f"Failed to join {st.addr.host}: {reason}")
        if not job.pending:
            self._finish_join(st.op)

    def _finish_join(self, op: int) -> None:
        job = self._joins.pop(op, None)
        if job is not None:
            self._ctx.out.append(JoinCompleted(op, job.joined, tuple(job.errors)))

    # -- plumbing --------------------------------------------------------------------------

    def _new_sid(self) -> int:
        self._next_sid += 1
        return self._next_sid

    def _local_state(self, join: bool, now: float) -> bytes:
        user = self._ctx.delegate.local_state(join, now)
        return encode_local_state(self._table.order, user, join)

    def _open(
        self,
        st: PushPullStream | JoinStream | TcpPingStream | UserStream,
        now: float,
        timeout: float,
    ) -> None:
        ctx = self._ctx
        self._streams[st.sid] = st
        ctx.stats.streams_out += 1
        ctx.out.append(OpenStream(st.sid, st.addr, timeout))
        ctx.timers.schedule(StreamDeadline(st.sid), now + timeout)

    def _send(self, sid: int, msg: bytes, preamble: bytes = b"") -> None:
        self._ctx.out.append(SendStream(sid, preamble + self._ctx.wire.wrap_stream(msg)))

    def _forget(self, st: Session) -> None:
        if self._streams.pop(st.sid, None) is not None and isinstance(st, InboundStream):
            self._inbound -= 1

    def _close(self, st: Session) -> None:
        self._forget(st)
        self._ctx.timers.cancel(StreamDeadline(st.sid))
        self._ctx.out.append(CloseStream(st.sid))
