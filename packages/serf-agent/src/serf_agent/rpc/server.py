"""The asyncio binding of the RPC session: a TCP server with one task per client.

Each connection reads bytes into its ``RpcSession`` and handles the requests it yields one
after another (a slow ``join`` delays later requests on the same connection, as in Go).
Everything written to the client goes through one ordered outgoing queue drained by a writer
task, so a reply header is always directly followed by its body and a stream's OK reply
precedes its first record.

Stream and monitor records are pushed by agent listeners that must never block. Each stream
(and the monitor) may have at most ``RECORD_BUFFER`` records waiting; beyond that, records
are dropped with a WARN line (Go: ``Dropping event to ipc.client: ...``), so a client that
stops reading costs bounded memory and never stalls the agent. Replies are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

from serf_agent.backend import AgentBackend, AgentEvent, BackendError, QueryRecord
from serf_agent.rpc.session import (
    COMMANDS,
    NEED_DATA,
    CloseConnection,
    CoordinateRequest,
    EventRequest,
    ForceLeaveRequest,
    JoinRequest,
    KeyRequest,
    LeaveRequest,
    MembersRequest,
    QueryRequest,
    Reply,
    Request,
    RespondRequest,
    RpcSession,
    StartMonitor,
    StatsRequest,
    StopMonitor,
    TagsRequest,
)

#: Records that may wait per stream / monitor before new ones are dropped (Go: 512).
RECORD_BUFFER = 512
#: Reply bytes that may wait for a client that does not read before we stop reading requests.
REPLY_BACKLOG = 256 * 1024
READ_CHUNK = 65536
_MONITOR_KEY = -1


class RpcServer:
    """A listening RPC server; create it with ``start_rpc_server``."""

    def __init__(self, backend: AgentBackend, auth_key: str | None, log: logging.Logger) -> None:
        self._backend = backend
        self._auth_key = auth_key
        self._log = log
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` (useful after binding port 0)."""
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def _listen(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        name = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._log.info("Accepted client: %s", name)
        session = RpcSession(auth_key=self._auth_key)
        conn = _Connection(self._backend, session, reader, writer, name, self._log)
        self._connections.add(conn)
        metrics = self._backend.metrics
        metrics.set("serf_rpc_clients", len(self._connections))
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.run()
        finally:
            self._connections.discard(conn)
            metrics.set("serf_rpc_clients", len(self._connections))
            if task is not None:
                self._tasks.discard(task)

    def close(self) -> None:
        """Stop listening and close every client connection."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.abort()

    async def wait_closed(self) -> None:
        """Wait until the listener and every connection task have finished."""
        if self._server is not None:
            await self._server.wait_closed()
        # The agent may shut down from inside a connection task (RPC ``leave``): never wait
        # for the task doing the waiting.
        others = [t for t in self._tasks if t is not asyncio.current_task()]
        if others:
            await asyncio.gather(*others, return_exceptions=True)


async def start_rpc_server(
    backend: AgentBackend,
    host: str,
    port: int,
    auth_key: str | None = None,
    log: logging.Logger | None = None,
) -> RpcServer:
    """Listen for RPC clients on ``host:port`` (port 0 picks a free one).

    ``auth_key`` is the agent's ``rpc_auth``; ``log`` defaults to the ``serf_agent.ipc``
    logger (messages carry Go's texts without the ``agent.ipc:`` prefix).
    """
    server = RpcServer(backend, auth_key, log or logging.getLogger("serf_agent.ipc"))
    await server._listen(host, port)
    return server


class _Connection:
    """One client: the read/dispatch loop, the writer task and the subscriptions."""

    def __init__(
        self,
        backend: AgentBackend,
        session: RpcSession,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        name: str,
        log: logging.Logger,
    ) -> None:
        self.backend = backend
        self.session = session
        self.reader = reader
        self.writer = writer
        self.name = name
        self.log = log
        self._loop = asyncio.get_running_loop()
        self._out: deque[tuple[int | None, bytes]] = deque()
        self._queued_bytes = 0
        self._pending: dict[int, int] = {}  # stream seq / _MONITOR_KEY -> records waiting
        self._dropping: set[int] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._closing = False
        self._unsubscribe: list[Callable[[], None]] = []
        self._log_unsubscribe: Callable[[], None] | None = None
        self._query_tasks: set[asyncio.Task[None]] = set()

    def __str__(self) -> str:
        return f"ipc.client: {self.name}"

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        writer_task = asyncio.create_task(self._write_loop())
        self._unsubscribe.append(self.backend.subscribe_events(self._on_event))
        try:
            await self._serve()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._closing = True
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            if self._log_unsubscribe is not None:
                self._log_unsubscribe()
            for task in self._query_tasks:
                task.cancel()
            self._wake.set()
            try:
                # Flush what is queued (an error reply before closing, say), but never wait
                # long for a client that does not read.
                await asyncio.wait_for(writer_task, timeout=5.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                self.writer.transport.abort()
            writer_task.cancel()
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    def abort(self) -> None:
        """Drop the connection now, discarding unsent bytes (server shutdown)."""
        self._closing = True
        self.writer.transport.abort()
        self.reader.feed_eof()
        self._wake.set()
        self._idle.set()

    @property
    def queued_bytes(self) -> int:
        """Bytes waiting to be written to this client."""
        return self._queued_bytes

    async def _serve(self) -> None:
        while not self._closing:
            if self._queued_bytes > REPLY_BACKLOG:
                # The client is not reading its replies: stop reading its requests (as Go's
                # blocking write does) instead of buffering replies without bound.
                await self._flush()
            event = self.session.next_event(self._loop.time())
            if event is NEED_DATA:
                self.session.receive_data(await self.reader.read(READ_CHUNK))
                continue
            if isinstance(event, CloseConnection):
                if event.data:
                    self._count_command()
                    self._send(event.data)
                if event.log_message:
                    self.log.error("%s", event.log_message)
                return
            self._count_command()
            if isinstance(event, Reply):
                if event.warning:
                    self.log.warning("%s", event.warning)
                self._send(event.data)
            elif isinstance(event, StartMonitor):
                self._send(event.data)
                backlog, unsubscribe = self.backend.subscribe_logs(self._on_log)
                self._log_unsubscribe = unsubscribe
                for line in backlog:
                    self._on_log(line)
            elif isinstance(event, StopMonitor):
                self._stop_monitor()
                self._send(event.data)
            elif isinstance(event, LeaveRequest):
                await self._leave(event.seq)
                return
            else:
                self._send(await self._perform(event))

    def _count_command(self) -> None:
        command = self.session.command
        # Client-chosen strings must not create new series: unknown names share one label.
        label = command if command in COMMANDS else "unknown"
        self.backend.metrics.inc("serf_rpc_commands_total", command=label)

    def _stop_monitor(self) -> None:
        if self._log_unsubscribe is not None:
            self._log_unsubscribe()
            self._log_unsubscribe = None

    # -- requests ----------------------------------------------------------------------------

    async def _perform(self, req: Request) -> bytes:
        """Carry out ``req`` against the backend; returns the reply bytes (empty when the
        reply was already queued, as for ``query``)."""
        s = self.session
        backend = self.backend
        try:
            if isinstance(req, EventRequest):
                await backend.user_event(req.name, req.payload, req.coalesce)
                return s.reply(req.seq)
            if isinstance(req, ForceLeaveRequest):
                await backend.force_leave(req.node, req.prune)
                return s.reply(req.seq)
            if isinstance(req, JoinRequest):
                return await self._join(req)
            if isinstance(req, MembersRequest):
                members = backend.members()
                if req.filter is not None:
                    members = req.filter.select(members)
                return s.reply_members(req.seq, members)
            if isinstance(req, TagsRequest):
                await backend.set_tags(req.merged(dict(backend.local_member().tags)))
                return s.reply(req.seq)
            if isinstance(req, QueryRequest):
                return await self._query(req)
            if isinstance(req, RespondRequest):
                try:
                    await backend.respond(req.query, req.payload)
                except BackendError as exc:
                    return s.reply_respond(req.seq, str(exc))
                return s.reply_respond(req.seq)
            if isinstance(req, KeyRequest):
                return await self._key(req)
            if isinstance(req, StatsRequest):
                return s.reply_stats(req.seq, backend.stats())
            if isinstance(req, CoordinateRequest):
                return s.reply_coordinate(req.seq, backend.get_coordinate(req.node))
        except BackendError as exc:
            return s.reply(req.seq, str(exc))
        except Exception as exc:  # a backend bug must not kill the connection loop
            self.log.error("Failed to evaluate request: %s: %r", s.command, exc)
            return self._failure_reply(req, str(exc) or type(exc).__name__)
        raise AssertionError(f"unhandled request {req!r}")  # pragma: no cover

    def _failure_reply(self, req: Request, error: str) -> bytes:
        """A reply carrying ``error`` plus the (empty) body this command always sends, so the
        client's decoder stays in step."""
        s = self.session
        if isinstance(req, JoinRequest):
            return s.reply_join(req.seq, 0, error)
        if isinstance(req, KeyRequest):
            return s.reply_keys(req.seq, None, error)
        if isinstance(req, MembersRequest):
            return s.reply_members(req.seq, [], error)
        if isinstance(req, StatsRequest):
            return s.reply_stats(req.seq, {}, error)
        if isinstance(req, CoordinateRequest):
            return s.reply_coordinate(req.seq, None, error)
        return s.reply(req.seq, error)

    async def _join(self, req: JoinRequest) -> bytes:
        try:
            num = await self.backend.join(req.existing, req.replay)
        except BackendError as exc:
            return self.session.reply_join(req.seq, 0, str(exc))
        return self.session.reply_join(req.seq, num)

    async def _key(self, req: KeyRequest) -> bytes:
        backend = self.backend
        try:
            if req.op == "list":
                result = await backend.list_keys()
            else:
                assert req.key is not None
                operation = {
                    "install": backend.install_key,
                    "use": backend.use_key,
                    "remove": backend.remove_key,
                }[req.op]
                result = await operation(req.key)
        except BackendError as exc:
            return self.session.reply_keys(req.seq, None, str(exc))
        return self.session.reply_keys(req.seq, result)

    async def _query(self, req: QueryRequest) -> bytes:
        records = await self.backend.query(
            req.name,
            req.payload,
            filter_nodes=req.filter_nodes,
            filter_tags=req.filter_tags,
            request_ack=req.request_ack,
            relay_factor=req.relay_factor,
            timeout=req.timeout,
        )
        # Queue the OK reply now so it precedes every record; nothing is left to return.
        self._send(self.session.reply(req.seq))
        task = asyncio.create_task(self._stream_query(req.seq, records))
        self._query_tasks.add(task)
        task.add_done_callback(self._query_tasks.discard)
        return b""

    async def _stream_query(self, seq: int, records: AsyncIterator[QueryRecord]) -> None:
        try:
            async for record in records:
                self._send(self.session.query_record(seq, record))
        except BackendError as exc:
            self.log.error("Failed to stream query results to %s: %s", self, exc)
        self._send(self.session.query_done(seq))

    async def _leave(self, seq: int) -> None:
        self.log.info("Graceful leave triggered")
        error = ""
        try:
            await self.backend.leave()
        except Exception as exc:
            error = str(exc)
            self.log.error("leave failed: %s", error)
        self._send(self.session.reply(seq, error))
        await self._flush()
        try:
            await self.backend.shutdown()
        except Exception as exc:
            self.log.error("shutdown failed: %s", exc)

    # -- output ------------------------------------------------------------------------------

    def _send(self, data: bytes, key: int | None = None) -> None:
        if data and not self._closing:
            self._out.append((key, data))
            self._queued_bytes += len(data)
            self._wake.set()

    def _send_record(self, key: int, data: bytes, what: str) -> None:
        """Queue a stream/monitor record, or drop it when that buffer is full."""
        if self._closing:
            return
        waiting = self._pending.get(key, 0)
        if waiting >= RECORD_BUFFER:
            self.backend.metrics.inc("serf_rpc_dropped_records_total")
            if key not in self._dropping:
                self._dropping.add(key)
                # Logged from the loop, not from inside a (log) listener.
                self._loop.call_soon(self.log.warning, "Dropping %s to %s", what, self)
            return
        self._pending[key] = waiting + 1
        self._send(data, key)

    def _on_event(self, event: AgentEvent) -> None:
        """Agent listener: never blocks, never raises into the agent."""
        try:
            for seq, data in self.session.event_records(event, self._loop.time()):
                self._send_record(seq, data, "event")
        except Exception as exc:
            self._loop.call_soon(self.log.error, "Failed to stream event to %s: %r", self, exc)

    def _on_log(self, line: str) -> None:
        """Log listener: never blocks, never raises (and never logs synchronously)."""
        try:
            data = self.session.log_record(line)
        except Exception as exc:
            self._loop.call_soon(self.log.error, "Failed to stream log to %s: %r", self, exc)
            return
        if data is not None:
            self._send_record(_MONITOR_KEY, data, "logs")

    async def _flush(self) -> None:
        """Wait until everything queued so far has been handed to the socket."""
        while self._out and not self._closing:
            self._idle.clear()
            await self._idle.wait()

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._out:
                    key, data = self._out.popleft()
                    self._queued_bytes -= len(data)
                    if key is not None:
                        self._pending[key] -= 1
                        if self._pending[key] == 0:
                            self._dropping.discard(key)
                    self.writer.write(data)
                    await self.writer.drain()
                self._idle.set()
                if self._closing:
                    return
        except (ConnectionError, RuntimeError):
            self._closing = True
            self._idle.set()
            self.reader.feed_eof()
