"""A second binding of the Serf core: one I/O thread, non-blocking sockets and ``selectors``.

This file uses only the public ``serf_proto`` API (the core's driving API, its outputs and
events) and the standard library; no asyncio. It shows the core is loop-agnostic: the same
``serf_proto.serf.SerfNode`` that ``serf_asyncio`` drives runs here, and both kinds of node
share one cluster.

How it drives the core (the rules every binding follows):

* the I/O thread owns the core; other threads reach it only through ``_call`` (a queue plus a
  wake-up socket), so the core is never used from two threads;
* after every input (datagram, stream bytes, connect result, timer, command) the thread drains
  ``take_outputs()`` and carries out each I/O command; events go to ``events`` (a queue) and
  operation results complete the ``Future`` the command returned;
* ``selector.select`` sleeps until the earlier of socket readiness and ``next_timer()``;
  ``handle_timer`` gets ``now = max(deadline, time.monotonic())``.

Run two nodes and join them::

    python examples/threaded_node.py a 127.0.0.1:7946
    python examples/threaded_node.py b 127.0.0.1:7947 127.0.0.1:7946
"""

from __future__ import annotations

import contextlib
import errno
import queue
import random
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from serf_proto import (
    Address,
    CloseStream,
    JoinCompleted,
    KeyOpCompleted,
    LeaveCompleted,
    Member,
    MemberEvent,
    OpenStream,
    Query,
    SendPacket,
    SendStream,
    UserEvent,
)
from serf_proto.serf import SerfConfig, SerfNode

UDP_BUFFER = 65536


@dataclass
class _Conn:
    """One TCP connection: its core stream id, socket and unsent bytes."""

    sid: int
    sock: socket.socket
    connected: bool
    deadline: float | None = None
    out: bytearray = field(default_factory=bytearray)
    close_when_flushed: bool = False
    eof: bool = False
    registered: bool = True


class ThreadedNode:
    """A Serf node on a background I/O thread; every public method is thread-safe.

    ``config`` must bind a concrete IP (``bind_port`` 0 picks a free port). Member events,
    user events and queries appear on ``events`` (a ``queue.Queue``).
    """

    def __init__(self, config: SerfConfig, *, rng: random.Random | None = None) -> None:
        self._config = config
        self._rng = rng or random.Random()
        self.events: queue.Queue[MemberEvent | UserEvent | Query] = queue.Queue()
        self._sel = selectors.DefaultSelector()
        self._calls: queue.Queue[Callable[[float], None]] = queue.Queue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._conns: dict[int, _Conn] = {}
        self._ops: dict[int, Future[Any]] = {}
        self._thread: threading.Thread | None = None
        self._running = False
        self._core: SerfNode | None = None
        self.address: Address | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Address:
        """Bind UDP and TCP on one port, create the core and start the I/O thread."""
        ml = self._config.memberlist
        family = socket.AF_INET6 if ":" in ml.bind_addr else socket.AF_INET
        self._tcp = socket.socket(family, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((ml.bind_addr, ml.bind_port))
        self._tcp.listen(64)
        port = int(self._tcp.getsockname()[1])
        self._udp = socket.socket(family, socket.SOCK_DGRAM)
        self._udp.bind((ml.bind_addr, port))
        for sock in (self._tcp, self._udp, self._wake_r):
            sock.setblocking(False)
            self._sel.register(sock, selectors.EVENT_READ)
        self.address = Address(ml.bind_addr, port)
        if ml.bind_port == 0:
            config = self._config.replace(memberlist=ml.replace(bind_port=port))
        else:
            config = self._config
        self._core = SerfNode(config, now=time.monotonic(), rng=self._rng)
        self._running = True
        self._thread = threading.Thread(target=self._run, name=f"serf-{ml.name}", daemon=True)
        self._thread.start()
        return self.address

    def stop(self) -> None:
        """Shut the core down (no leave), close every socket and join the I/O thread."""
        if not self._running:
            return

        def halt(now: float) -> None:
            self.core.shutdown(now)
            self._running = False

        self._call(halt)
        if self._thread is not None:
            self._thread.join(10.0)
        for conn in list(self._conns.values()):
            conn.sock.close()
        for sock in (self._tcp, self._udp, self._wake_r, self._wake_w):
            sock.close()
        self._sel.close()

    @property
    def core(self) -> SerfNode:
        assert self._core is not None, "start() first"
        return self._core

    # ------------------------------------------------------------------ thread-safe API

    def _call(self, fn: Callable[[float], None]) -> None:
        self._calls.put(fn)
        with contextlib.suppress(OSError):  # the node is stopped
            self._wake_w.send(b"\0")

    def _submit(self, start: Callable[[float], int]) -> Future[Any]:
        """Run ``start(now)`` on the I/O thread; the future completes with its result output."""
        fut: Future[Any] = Future()

        def run(now: float) -> None:
            try:
                self._ops[start(now)] = fut
            except Exception as exc:
                fut.set_exception(exc)

        self._call(run)
        return fut

    def join(self, addrs: Iterable[Address], timeout: float = 10.0) -> JoinCompleted:
        """Join through resolved ``addrs``; blocks until the join finished."""
        targets = list(addrs)
        result: JoinCompleted = self._submit(lambda now: self.core.join(targets, now)).result(
            timeout
        )
        return result

    def leave(self, timeout: float = 15.0) -> LeaveCompleted:
        """Leave gracefully; blocks until the leave has propagated."""
        result: LeaveCompleted = self._submit(self.core.leave).result(timeout)
        return result

    def list_keys(self, timeout: float = 10.0) -> KeyOpCompleted:
        """Ask every member for its keys; blocks for the answers."""
        result: KeyOpCompleted = self._submit(self.core.list_keys).result(timeout)
        return result

    def user_event(self, name: str, payload: bytes = b"", coalesce: bool = True) -> None:
        """Gossip a user event (errors are raised on the I/O thread and logged there)."""
        self._call(lambda now: self.core.user_event(name, payload, coalesce, now))

    def respond(self, query: Query, payload: bytes) -> None:
        """Answer a query taken from ``events``."""
        self._call(lambda now: self.core.respond(query, payload, now))

    def members(self) -> list[Member]:
        """A snapshot of the member list, read on the I/O thread."""
        fut: Future[list[Member]] = Future()
        self._call(lambda now: fut.set_result(self.core.members()))
        return fut.result(10.0)

    # ------------------------------------------------------------------ the I/O thread

    def _run(self) -> None:
        while self._running:
            deadline = self._next_deadline()
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            for key, mask in self._sel.select(wait):
                self._ready(key, mask)
            now = time.monotonic()
            while not self._calls.empty():
                self._guard(self._calls.get_nowait(), now)
            self._expire_connects(now)
            timer = self.core.next_timer()
            if timer is not None and timer <= now:
                self._guard(self.core.handle_timer, max(timer, now))
            self._pump()

    def _guard(self, fn: Callable[[float], object], now: float) -> None:
        try:
            fn(now)
        except Exception as exc:  # a bad command must not kill the I/O thread
            print(f"serf: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _next_deadline(self) -> float | None:
        times = [c.deadline for c in self._conns.values() if c.deadline is not None]
        timer = self.core.next_timer()
        if timer is not None:
            times.append(timer)
        return min(times) if times else None

    def _ready(self, key: selectors.SelectorKey, mask: int) -> None:
        now = time.monotonic()
        fileobj = key.fileobj
        if fileobj is self._wake_r:
            self._wake_r.recv(4096)
        elif fileobj is self._udp:
            self._read_datagrams(now)
        elif fileobj is self._tcp:
            self._accept(now)
        else:
            conn: _Conn = key.data
            if conn.sid not in self._conns:
                return
            if mask & selectors.EVENT_WRITE:
                self._writable(conn, now)
            if mask & selectors.EVENT_READ and conn.sid in self._conns:
                self._readable(conn, now)
        self._pump()

    def _read_datagrams(self, now: float) -> None:
        while True:
            try:
                data, peer = self._udp.recvfrom(UDP_BUFFER)
            except BlockingIOError:
                return
            except OSError:
                continue  # e.g. ICMP port unreachable reported on a later read
            if data:
                source = Address(peer[0], peer[1])
                try:
                    self.core.receive_packet(source, data, now)
                except Exception as exc:  # the core drops garbage itself; this is a bug
                    print(f"serf: {type(exc).__name__}: {exc}", file=sys.stderr)

    def _accept(self, now: float) -> None:
        while True:
            try:
                sock, peer = self._tcp.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            sid = self.core.accept_stream(Address(peer[0], peer[1]), now)
            conn = _Conn(sid, sock, connected=True)
            self._conns[sid] = conn
            self._sel.register(sock, selectors.EVENT_READ, data=conn)

    def _readable(self, conn: _Conn, now: float) -> None:
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._drop(conn)
            self.core.stream_failed(conn.sid, str(exc), now)
            return
        if not data:
            conn.eof = True
            self._update_interest(conn)
        self.core.receive_stream_data(conn.sid, data, now)

    def _writable(self, conn: _Conn, now: float) -> None:
        if not conn.connected:
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._drop(conn)
                self.core.stream_failed(conn.sid, f"connect: {errno.errorcode.get(err)}", now)
                return
            conn.connected, conn.deadline = True, None
            self.core.stream_connected(conn.sid, now)
        self._flush(conn, now)

    def _flush(self, conn: _Conn, now: float) -> None:
        while conn.out:
            try:
                sent = conn.sock.send(conn.out)
            except BlockingIOError:
                break
            except OSError as exc:
                self._drop(conn)
                self.core.stream_failed(conn.sid, str(exc), now)
                return
            del conn.out[:sent]
        if not conn.out and conn.close_when_flushed:
            self._drop(conn)
            return
        self._update_interest(conn)

    def _update_interest(self, conn: _Conn) -> None:
        mask = 0 if conn.eof else selectors.EVENT_READ
        if conn.out or not conn.connected:
            mask |= selectors.EVENT_WRITE
        if mask and conn.registered:
            self._sel.modify(conn.sock, mask, data=conn)
        elif mask:
            self._sel.register(conn.sock, mask, data=conn)
            conn.registered = True
        elif conn.registered:
            self._sel.unregister(conn.sock)  # peer finished, nothing to send: wait for close
            conn.registered = False

    def _drop(self, conn: _Conn) -> None:
        self._conns.pop(conn.sid, None)
        if conn.registered:
            self._sel.unregister(conn.sock)
            conn.registered = False
        conn.sock.close()

    def _expire_connects(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if conn.deadline is not None and now >= conn.deadline:
                self._drop(conn)
                self.core.stream_failed(conn.sid, "i/o timeout", now)

    def _open(self, out: OpenStream, now: float) -> None:
        family = socket.AF_INET6 if ":" in out.addr.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        code = sock.connect_ex((out.addr.host, out.addr.port))
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            self.core.stream_failed(out.sid, f"connect: {errno.errorcode.get(code)}", now)
            return
        conn = _Conn(out.sid, sock, connected=False, deadline=now + out.timeout)
        self._conns[out.sid] = conn
        self._sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=conn)

    def _pump(self) -> None:
        """Carry out every pending output of the core."""
        while True:
            outputs = self.core.take_outputs()
            if not outputs:
                return
            now = time.monotonic()
            for out in outputs:
                if isinstance(out, SendPacket):
                    # UDP is best effort; the failure detector notices lost datagrams.
                    with contextlib.suppress(OSError):
                        self._udp.sendto(out.data, (out.addr.host, out.addr.port))
                elif isinstance(out, OpenStream):
                    self._open(out, now)
                elif isinstance(out, SendStream):
                    conn = self._conns.get(out.sid)
                    if conn is not None:
                        conn.out += out.data
                        if conn.connected:
                            self._flush(conn, now)
                elif isinstance(out, CloseStream):
                    conn = self._conns.get(out.sid)
                    if conn is not None:
                        conn.close_when_flushed = True
                        if conn.connected:
                            self._flush(conn, now)
                elif isinstance(out, JoinCompleted | LeaveCompleted | KeyOpCompleted):
                    fut = self._ops.pop(out.op, None)
                    if fut is not None:
                        fut.set_result(out)
                elif isinstance(out, MemberEvent | UserEvent | Query):
                    self.events.put(out)


USAGE = """usage: threaded_node.py NAME IP:PORT [JOIN_IP:PORT]

Runs one Serf node on a thread (no asyncio) and prints every event it sees; Ctrl-C leaves.
  NAME          the node's name
  IP:PORT       where to listen (UDP and TCP), e.g. 127.0.0.1:7946
  JOIN_IP:PORT  a member to join, e.g. 127.0.0.1:7947"""


def _address(text: str) -> Address:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"not an IP:PORT address: {text!r}")
    return Address(host.strip("[]"), int(port))


def main(argv: list[str]) -> int:
    """``threaded_node.py NAME IP:PORT [JOIN_IP:PORT]``: run a node and print its events."""
    if len(argv) not in (2, 3) or argv[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        return 2
    name, bind, *join = argv
    try:
        listen = _address(bind)
        seeds = [_address(j) for j in join]
    except ValueError as exc:
        print(f"{exc}\n\n{USAGE}", file=sys.stderr)
        return 2
    config = SerfConfig.build(name, bind=listen, protocol_version=5)
    node = ThreadedNode(config)
    print(f"{name} listening on {node.start()}")
    if seeds:
        print(node.join(seeds))
    try:
        while True:
            print(node.events.get())
    except KeyboardInterrupt:
        node.leave()
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
