"""The asyncio binding of h11: one task per connection, keep-alive, bounded input.

h11 parses and validates the bytes (``receive_data`` / ``next_event``) and serialises the
answer (``send``); this module only moves bytes and applies limits: a request head may be at
most ``MAX_HEAD_BYTES``, a connection idle for ``IDLE_TIMEOUT`` seconds is closed, and a
request body is read and discarded (every route is a ``GET``). A malformed request gets a
``400`` (or h11's more specific status hint) and the connection is closed; nothing a client
sends can raise out of the connection task.

``GET /v1/events`` is the one streaming route: the response is sent chunked and stays open,
fed by the ``EventHub`` (bounded clients, dropped when slow; see ``events``). At most
``MAX_CONNECTIONS`` connections are served at once; a further one gets a ``503`` and is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import h11

from serf_agent.backend import AgentBackend
from serf_agent.http.events import EventHub, StreamsFullError, last_event_id
from serf_agent.http.routes import TEXT, HttpResponse, handle

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024
IDLE_TIMEOUT = 30.0
READ_CHUNK = 65536
MAX_CONNECTIONS = 64
EVENTS_PATH = "/v1/events"
SERVER_NAME = b"pyserf"


class HttpServer:
    """A listening HTTP endpoint; create it with ``start_http_server``."""

    def __init__(self, backend: AgentBackend, log: logging.Logger) -> None:
        self._backend = backend
        self._log = log
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.hub = EventHub(log)
        self.hub.attach(backend)

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)``."""
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def _listen(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            if len(self._writers) > MAX_CONNECTIONS:
                self._log.warning("HTTP connection refused: %d connections open", MAX_CONNECTIONS)
                conn = h11.Connection(h11.SERVER)
                reply = HttpResponse(503, TEXT, b"too many connections\n")
                writer.write(_response_bytes(conn, "GET", reply, close=True))
                await writer.drain()
                # lingering close: read (and drop) the request so closing does not reset
                with contextlib.suppress(TimeoutError, ConnectionError):
                    writer.write_eof()
                    await asyncio.wait_for(reader.read(MAX_HEAD_BYTES), 1.0)
                return
            await _serve_connection(self._backend, self.hub, reader, writer, self._log)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    def close(self) -> None:
        """Stop listening and close open connections."""
        self.hub.detach()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()

    async def wait_closed(self) -> None:
        """Wait for the listener and every connection task to finish."""
        if self._server is not None:
            await self._server.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def start_http_server(
    backend: AgentBackend, host: str, port: int, log: logging.Logger | None = None
) -> HttpServer:
    """Serve the HTTP endpoint on ``host:port`` (port 0 picks a free one)."""
    server = HttpServer(backend, log or logging.getLogger("serf_agent.http"))
    await server._listen(host, port)
    return server


async def _serve_connection(
    backend: AgentBackend,
    hub: EventHub,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    log: logging.Logger,
) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
    while True:
        try:
            request = await _read_request(conn, reader)
        except h11.RemoteProtocolError as exc:
            log.warning("Malformed HTTP request: %s", exc)
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
                reply = HttpResponse(status, TEXT, f"bad request: {exc}\n".encode())
                writer.write(_response_bytes(conn, "GET", reply, close=True))
                await writer.drain()
            return
        if request is None:
            return
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("ascii", "replace")
        if method == "GET" and target.split("?", 1)[0] == EVENTS_PATH:
            await _stream_events(backend, hub, conn, request, reader, writer, log)
            return
        try:
            reply = handle(backend, method, target, hub)
        except Exception as exc:  # a backend failure must not kill the connection task
            log.error("HTTP handler failed for %s %s: %r", method, target, exc)
            reply = HttpResponse(500, TEXT, b"internal error\n")
        _count(backend, _path_label(target), reply.status)
        writer.write(_response_bytes(conn, method, reply, close=False))
        await writer.drain()
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return
        try:
            conn.start_next_cycle()
        except h11.LocalProtocolError:
            return


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    """The next complete request (its body read and dropped), or None at EOF."""
    request: h11.Request | None = None
    body = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await asyncio.wait_for(reader.read(READ_CHUNK), IDLE_TIMEOUT)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += len(event.data)
            if body > MAX_BODY_BYTES:
                raise h11.RemoteProtocolError("request body too large", error_status_hint=413)
        elif isinstance(event, h11.EndOfMessage):
            return request
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def _stream_events(
    backend: AgentBackend,
    hub: EventHub,
    conn: h11.Connection,
    request: h11.Request,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    log: logging.Logger,
) -> None:
    """Answer ``GET /v1/events``: history after ``Last-Event-ID``, then live records."""
    try:
        client = hub.open()
    except StreamsFullError as exc:
        log.warning("Event stream refused: %s", exc)
        _count(backend, EVENTS_PATH, 503)
        reply = HttpResponse(503, TEXT, f"{exc}\n".encode(), headers=(("Retry-After", "5"),))
        writer.write(_response_bytes(conn, "GET", reply, close=True))
        await writer.drain()
        return
    _count(backend, EVENTS_PATH, 200)
    headers = [
        (b"Content-Type", b"text/event-stream; charset=utf-8"),
        (b"Cache-Control", b"no-store"),
        (b"Server", SERVER_NAME),
        (b"X-Content-Type-Options", b"nosniff"),
    ]
    writer.write(conn.send(h11.Response(status_code=200, headers=headers)) or b"")

    def write(data: bytes) -> None:
        if writer.is_closing():
            raise ConnectionResetError("event stream client went away")
        writer.write(conn.send(h11.Data(data=data)) or b"")

    # a client sends nothing more on this connection: its EOF (or reset) ends the stream
    pump = asyncio.ensure_future(
        hub.pump(client, last_event_id(list(request.headers)), write, writer.drain)
    )
    eof = asyncio.ensure_future(_wait_eof(reader))
    try:
        await asyncio.wait((pump, eof), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, eof):
            task.cancel()
        await asyncio.gather(pump, eof, return_exceptions=True)
        hub.close(client)


async def _wait_eof(reader: asyncio.StreamReader) -> None:
    """Return when the peer closes its side (anything it sends meanwhile is discarded)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(READ_CHUNK):
            pass


def _count(backend: AgentBackend, path: str, status: int) -> None:
    with contextlib.suppress(KeyError, ValueError, TypeError):
        backend.metrics.inc("serf_http_requests_total", path=path, code=str(status))


def _response_bytes(conn: h11.Connection, method: str, reply: HttpResponse, close: bool) -> bytes:
    headers = [
        (b"Content-Type", reply.content_type.encode()),
        (b"Content-Length", str(len(reply.body)).encode()),
        (b"Server", SERVER_NAME),
    ]
    headers.extend((name.encode(), value.encode()) for name, value in reply.headers)
    if reply.allow:
        headers.append((b"Allow", reply.allow.encode()))
    if close:
        headers.append((b"Connection", b"close"))
    out = conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
    if method != "HEAD":
        out += conn.send(h11.Data(data=reply.body)) or b""
    out += conn.send(h11.EndOfMessage()) or b""
    return out


def _path_label(target: str) -> str:
    """A bounded label for the request counter (coordinate paths collapse to one)."""
    path = target.split("?", 1)[0]
    if path.startswith("/v1/coordinate/"):
        return "/v1/coordinate"
    if path in ("/", "/ui") or path.startswith("/ui/"):
        return "/ui"
    known = ("/v1/members", "/v1/health", "/metrics", "/v1/coordinates", "/v1/ui/status")
    return path if path in known else "other"
