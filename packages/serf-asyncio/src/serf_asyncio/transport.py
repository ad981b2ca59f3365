"""Drive any sans-IO core with the membership driving API over real asyncio sockets.

Theory of operation (aioquic's ``asyncio/protocol.py`` pattern). The core performs no I/O and
reads no clock; this module is its hands and its watch:

* One UDP endpoint and one TCP listener share a port. Every datagram becomes
  ``core.receive_packet``; every accepted connection becomes ``core.accept_stream`` and its bytes
  ``core.receive_stream_data`` (``b""`` at EOF).
* After **every** input (datagram, stream bytes, connect result, timer, API call) ``pump()``
  drains ``take_outputs()`` in order: I/O commands are carried out at once, everything else goes
  to the ``on_output`` callback (the library layer turns those into futures and queues).
* After draining, the single ``loop.call_at`` timer is re-armed only when ``next_timer()``
  moved. The timer callback passes ``now = max(deadline, loop.time())`` so an early wake-up can
  never skip a deadline, and ``now`` never goes backwards between inputs.
* Outbound streams are opened by a task bounded by the ``OpenStream`` timeout. Every connect,
  send or stream error is fed back to the core as ``stream_failed``; UDP send errors cannot be
  attributed to a message, so they are counted and logged.

The binding is single-threaded like the core: call it only from the loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from serf_proto import Address, CloseStream, Core, OpenStream, SendPacket, SendStream

log = logging.getLogger("serf_asyncio.transport")

#: Largest datagram accepted (memberlist's ``udpPacketBufSize``).
UDP_RECEIVE_BUFFER = 65536


@dataclass(slots=True)
class TransportStats:
    """Counters of what the binding did; read them with ``Transport.stats``."""

    packets_sent: int = 0
    packets_received: int = 0
    packet_send_errors: int = 0
    streams_opened: int = 0
    streams_accepted: int = 0
    stream_connect_failures: int = 0
    stream_errors: int = 0
    core_errors: int = 0


def unmap_host(host: str) -> str:
    """Turn an IPv4-mapped IPv6 literal (``::ffff:1.2.3.4``) back into ``1.2.3.4``."""
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    return host


def _sock_address(sockaddr: tuple[object, ...]) -> Address:
    host = str(sockaddr[0])
    if "%" in host:  # drop an IPv6 scope id; the core works with bare literals
        host = host.split("%", 1)[0]
    port = sockaddr[1]
    assert isinstance(port, int)
    return Address(unmap_host(host), port)


@dataclass(frozen=True, slots=True)
class BoundSockets:
    """A TCP listening socket and a UDP socket bound to the same ``address``."""

    tcp: socket.socket
    udp: socket.socket
    address: Address

    def close(self) -> None:
        """Close both sockets (when they were never handed to a ``Transport``)."""
        self.tcp.close()
        self.udp.close()


def bind_sockets(host: str, port: int) -> BoundSockets:
    """Bind TCP and UDP on ``host:port``; with port 0, find a port free for both.

    An IPv6 host (``::`` included) gets dual-stack sockets. The IPv4 wildcard ``0.0.0.0`` does
    too when the host has IPv6, as Go's listeners do, so a node that advertises a unique-local
    IPv6 address (Go's choice when there is no private IPv4) is reachable on it. Raises
    ``OSError`` when binding fails.
    """
    if host == "0.0.0.0" and socket.has_ipv6:
        try:
            bound = _bind_pair(socket.AF_INET6, "::", port)
        except OSError as exc:
            if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT):
                raise
        else:
            return BoundSockets(bound.tcp, bound.udp, Address(host, bound.address.port))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return _bind_pair(family, host, port)


def _bind_pair(family: int, host: str, port: int) -> BoundSockets:
    attempts = 20 if port == 0 else 1
    error: OSError | None = None
    for _ in range(attempts):
        tcp = _listen_socket(family, host, port)
        chosen = int(tcp.getsockname()[1])
        try:
            udp = _datagram_socket(family, host, chosen)
        except OSError as exc:
            tcp.close()
            error = exc
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        return BoundSockets(tcp, udp, Address(unmap_host(host), chosen))
    assert error is not None
    raise error


def _listen_socket(family: int, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _datagram_socket(family: int, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2 * 1024 * 1024)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _Stream(asyncio.Protocol):
    """One TCP connection bound to a core stream id."""

    def __init__(self, owner: Transport, sid: int) -> None:
        self.owner = owner
        self.sid = sid
        self.transport: asyncio.Transport | None = None
        self.closed_by_core = False
        self.eof_delivered = False
        self.registered = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.closed_by_core:
            return
        self.owner._feed(lambda now: self.owner.core.receive_stream_data(self.sid, data, now))

    def eof_received(self) -> bool:
        # Keep the write side open: the core may still answer (push/pull reply) before closing.
        if not self.closed_by_core and not self.eof_delivered:
            self.eof_delivered = True
            self.owner._feed(lambda now: self.owner.core.receive_stream_data(self.sid, b"", now))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.owner._streams.pop(self.sid, None)
        if self.closed_by_core or not self.registered:
            return
        self.closed_by_core = True
        if exc is not None:
            self.owner.stats.stream_errors += 1
            reason = f"{type(exc).__name__}: {exc}"
            self.owner._feed(lambda now: self.owner.core.stream_failed(self.sid, reason, now))
        elif not self.eof_delivered:
            self.eof_delivered = True
            self.owner._feed(lambda now: self.owner.core.receive_stream_data(self.sid, b"", now))


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, owner: Transport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        owner = self.owner
        owner.stats.packets_received += 1
        if not data:
            return
        src = _sock_address(tuple(addr))
        owner._feed(lambda now: owner.core.receive_packet(src, data, now))

    def error_received(self, exc: Exception) -> None:
        self.owner.stats.packet_send_errors += 1
        log.debug("UDP error: %s", exc)


class Transport:
    """Binds one ``Core`` to a UDP endpoint and a TCP listener on the same port.

    ``on_output`` receives every output that is not an I/O command (events, operation results),
    in outbox order, synchronously during ``pump()``; it must not call back into the core.
    """

    def __init__(
        self,
        core: Core,
        on_output: Callable[[object], None],
        *,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.core = core
        self.on_output = on_output
        self.loop = loop or asyncio.get_running_loop()
        self.stats = TransportStats()
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._streams: dict[int, _Stream] = {}
        self._connecting: dict[int, asyncio.Task[None]] = {}
        self._pending_writes: dict[int, list[bytes]] = {}
        self._close_after_connect: set[int] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._last_now = 0.0
        self._pumping = False
        self._closed = False
        self._family: int = socket.AF_INET
        self.local_address: Address | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str, port: int, *, sockets: BoundSockets | None = None) -> Address:
        """Listen on ``host:port`` for UDP and TCP (port 0 picks one free for both).

        ``sockets`` hands over sockets already bound by :func:`bind_sockets` (so a caller can
        learn the port before it builds the core). Returns the bound address. Raises
        ``OSError`` when the port cannot be bound.
        """
        bound = sockets or bind_sockets(host, port)
        self._family = bound.tcp.family
        self._server = await self.loop.create_server(
            self._accept_protocol, sock=bound.tcp, start_serving=True
        )
        udp_transport, _ = await self.loop.create_datagram_endpoint(
            lambda: _Datagrams(self), sock=bound.udp
        )
        self._udp = udp_transport
        self.local_address = bound.address
        self.pump()
        return self.local_address

    async def close(self) -> None:
        """Stop listening, drop every stream and the timer; the core gets no more input."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._connecting.values()):
            task.cancel()
        for task in list(self._connecting.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._connecting.clear()
        for stream in list(self._streams.values()):
            stream.closed_by_core = True
            if stream.transport is not None:
                stream.transport.abort()
        self._streams.clear()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------ inputs

    def now(self) -> float:
        """The loop's monotonic time in seconds, never earlier than a time already passed in."""
        self._last_now = max(self._last_now, self.loop.time())
        return self._last_now

    def _feed(self, call: Callable[[float], object]) -> None:
        """Give the core one input at ``now``, then pump; a core bug is logged, not fatal."""
        if self._closed:
            return
        try:
            call(self.now())
        except Exception:
            self.stats.core_errors += 1
            log.exception("core raised while handling an input")
        self.pump()

    def _accept_protocol(self) -> asyncio.Protocol:
        return _Acceptor(self)

    # ------------------------------------------------------------------ outputs

    def pump(self) -> None:
        """Carry out every pending output of the core, then re-arm the timer if it moved."""
        if self._pumping or self._closed:
            return  # an input fed during a pump is drained by the running loop below
        self._pumping = True
        try:
            while True:
                outputs = self.core.take_outputs()
                if not outputs:
                    break
                for out in outputs:
                    try:
                        self._carry_out(out)
                    except Exception:
                        # Nothing escapes into the loop's callbacks (timers, datagrams).
                        self.stats.core_errors += 1
                        log.exception("carrying out %r failed", type(out).__name__)
        finally:
            self._pumping = False
        self._arm_timer()

    def _carry_out(self, out: object) -> None:
        if isinstance(out, SendPacket):
            self._send_packet(out)
        elif isinstance(out, SendStream):
            self._send_stream(out)
        elif isinstance(out, OpenStream):
            self._open_stream(out)
        elif isinstance(out, CloseStream):
            self._close_stream(out.sid)
        else:
            try:
                self.on_output(out)
            except Exception:
                log.exception("output handler raised for %r", type(out).__name__)

    def _udp_destination(self, addr: Address) -> tuple[str, int]:
        if self._family == socket.AF_INET6 and ":" not in addr.host:
            return (f"::ffff:{addr.host}", addr.port)
        return (addr.host, addr.port)

    def _send_packet(self, out: SendPacket) -> None:
        if self._udp is None:
            return
        if self._family == socket.AF_INET and ":" in out.addr.host:
            self.stats.packet_send_errors += 1
            log.debug("cannot send to IPv6 %s from an IPv4 socket", out.addr)
            return
        try:
            self._udp.sendto(out.data, self._udp_destination(out.addr))
        except (OSError, ValueError, TypeError, OverflowError) as exc:
            # An address the OS or the loop refuses (an empty or malformed host from a hostile
            # peer: uvloop raises ValueError, the OS OSError) is a failed send, never fatal.
            self.stats.packet_send_errors += 1
            log.debug("UDP send to %s failed: %s", out.addr, exc)
            return
        self.stats.packets_sent += 1

    def _open_stream(self, out: OpenStream) -> None:
        self.stats.streams_opened += 1
        self._pending_writes[out.sid] = []
        task = self.loop.create_task(self._connect(out))
        self._connecting[out.sid] = task

    async def _connect(self, out: OpenStream) -> None:
        stream = _Stream(self, out.sid)
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: stream, out.addr.host, out.addr.port),
                timeout=out.timeout,
            )
        except (OSError, TimeoutError, ValueError, TypeError, OverflowError) as exc:
            self._connecting.pop(out.sid, None)
            self._pending_writes.pop(out.sid, None)
            self._close_after_connect.discard(out.sid)
            self.stats.stream_connect_failures += 1
            reason = f"dial tcp {out.addr}: {_describe(exc)}"
            self._feed(lambda now: self.core.stream_failed(out.sid, reason, now))
            return
        self._connecting.pop(out.sid, None)
        pending = self._pending_writes.pop(out.sid, None)
        if out.sid in self._close_after_connect:
            self._close_after_connect.discard(out.sid)
            stream.closed_by_core = True
            if stream.transport is not None:
                for data in pending or ():
                    stream.transport.write(data)
                stream.transport.close()
            return
        if self._closed or pending is None:
            # The core closed the stream while it was connecting, or we are shutting down.
            if stream.transport is not None:
                stream.transport.close()
            return
        if stream.lost:
            self.stats.stream_connect_failures += 1
            reason = f"dial tcp {out.addr}: connection closed before use"
            self._feed(lambda now: self.core.stream_failed(out.sid, reason, now))
            return
        stream.registered = True
        self._streams[out.sid] = stream
        if stream.transport is not None:
            sock = stream.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._feed(lambda now: self.core.stream_connected(out.sid, now))
        for data in pending:
            self._send_stream(SendStream(out.sid, data))

    def _send_stream(self, out: SendStream) -> None:
        pending = self._pending_writes.get(out.sid)
        if pending is not None:
            pending.append(out.data)
            return
        stream = self._streams.get(out.sid)
        if stream is None or stream.transport is None or stream.transport.is_closing():
            log.debug("write to closed stream %d dropped", out.sid)
            return
        try:
            stream.transport.write(out.data)
        except (OSError, RuntimeError) as exc:
            self.stats.stream_errors += 1
            self._fail_stream(stream, f"write: {exc}")

    def _fail_stream(self, stream: _Stream, reason: str) -> None:
        stream.closed_by_core = True
        self._streams.pop(stream.sid, None)
        if stream.transport is not None:
            stream.transport.abort()
        self.loop.call_soon(
            self._feed, lambda now: self.core.stream_failed(stream.sid, reason, now)
        )

    def _close_stream(self, sid: int) -> None:
        if sid in self._pending_writes:
            if self._pending_writes[sid]:
                # Closed with writes queued before the connect finished: deliver them, then close.
                self._close_after_connect.add(sid)
            else:
                del self._pending_writes[sid]
                task = self._connecting.pop(sid, None)
                if task is not None:
                    task.cancel()
            return
        stream = self._streams.pop(sid, None)
        if stream is None:
            return
        stream.closed_by_core = True
        if stream.transport is not None:
            stream.transport.close()  # flushes buffered writes first

    # ------------------------------------------------------------------ timer

    def _arm_timer(self) -> None:
        at = self.core.next_timer()
        if at == self._timer_at and (at is None or self._timer is not None):
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if at is not None and not self._closed:
            self._timer = self.loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        at = self._timer_at
        self._timer = None
        self._timer_at = None
        deadline = at if at is not None else self.loop.time()
        self._last_now = max(self._last_now, deadline, self.loop.time())
        self._feed(lambda now: self.core.handle_timer(now))


class _Acceptor(asyncio.Protocol):
    """The TCP listener's per-connection protocol: registers with the core, then relays."""

    def __init__(self, owner: Transport) -> None:
        self.owner = owner
        self.stream: _Stream | None = None

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, base)
        owner = self.owner
        if owner._closed:
            transport.abort()
            return
        peer = transport.get_extra_info("peername")
        addr = _sock_address(tuple(peer)) if peer else Address("0.0.0.0", 0)
        try:
            sid = owner.core.accept_stream(addr, owner.now())
        except Exception:
            owner.stats.core_errors += 1
            log.exception("core raised accepting a stream from %s", addr)
            transport.abort()
            return
        owner.stats.streams_accepted += 1
        stream = _Stream(owner, sid)
        stream.registered = True
        stream.connection_made(transport)
        self.stream = stream
        owner._streams[sid] = stream
        owner.pump()

    def data_received(self, data: bytes) -> None:
        if self.stream is not None:
            self.stream.data_received(data)

    def eof_received(self) -> bool:
        return self.stream.eof_received() if self.stream is not None else False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stream is not None:
            self.stream.connection_lost(exc)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "i/o timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connect: connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
