"""The live event feed of the HTTP endpoint: a bounded history and server-sent event streams.

``EventHub`` subscribes to the agent's events once (member changes after coalescing, user
events, user queries) and turns each into a small JSON record with a sequence number. It keeps
the last ``HISTORY`` records, so a page loaded later still shows what happened since start (up
to that bound), and fans every new record out to at most ``MAX_STREAMS`` stream clients.

Every client has a queue of ``CLIENT_QUEUE`` records. A client that does not keep up (its queue
is full, or a write does not drain within ``WRITE_TIMEOUT`` seconds) is dropped: its connection
is closed, a warning is logged and ``dropped_clients`` counts it. Nothing is ever buffered
without limit. The browser's ``EventSource`` reconnects by itself and sends ``Last-Event-ID``;
the stream then resumes with the history records after that id.

Wire format (``text/event-stream``), one block per record::

    id: 1733630000123
    event: member
    data: {"id": 1733630000123, "time": 1733630000.123, "type": "member", "event": "member-failed",
           "members": [{"name": "web-1", "status": "failed"}]}

``event`` is ``member``, ``user`` or ``query``; a ``: ping`` comment line is sent every
``PING_INTERVAL`` seconds of silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serf_proto import MemberEvent, Query, UserEvent

from serf_agent.backend import AgentBackend, AgentEvent, Unsubscribe

HISTORY = 512
MAX_STREAMS = 16
CLIENT_QUEUE = 256
WRITE_TIMEOUT = 10.0
PING_INTERVAL = 15.0
PAYLOAD_PREVIEW = 128

Record = dict[str, Any]


def event_record(seq: int, event: AgentEvent, now: float) -> Record:
    """The JSON record of one agent event (payloads are previewed as text, never trusted)."""
    base: Record = {"id": seq, "time": round(now, 3)}
    if isinstance(event, MemberEvent):
        return {
            **base,
            "type": "member",
            "event": str(event.type),
            "members": [{"name": m.name, "status": str(m.status)} for m in event.members],
        }
    kind = "user" if isinstance(event, UserEvent) else "query"
    record: Record = {
        **base,
        "type": kind,
        "name": event.name,
        "ltime": event.ltime,
        "payload_size": len(event.payload),
        "payload": event.payload[:PAYLOAD_PREVIEW].decode("utf-8", "replace"),
    }
    if isinstance(event, UserEvent):
        record["coalesce"] = event.coalesce
    elif isinstance(event, Query):
        record["source"] = event.source_node
    return record


def sse_block(record: Record) -> bytes:
    """One ``text/event-stream`` block for ``record`` (JSON has no raw newlines)."""
    data = json.dumps(record, separators=(",", ":"))
    return f"id: {record['id']}\nevent: {record['type']}\ndata: {data}\n\n".encode()


@dataclass(eq=False)
class StreamClient:
    """One connected stream: its bounded queue and whether it was dropped for falling behind."""

    queue: asyncio.Queue[Record | None] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE))
    dropped: bool = False


class StreamsFullError(Exception):
    """``MAX_STREAMS`` clients are already connected."""


class EventHub:
    """The history ring and the set of stream clients (use it on the event loop)."""

    def __init__(
        self,
        log: logging.Logger,
        *,
        history: int = HISTORY,
        max_streams: int = MAX_STREAMS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._log = log
        self._history: deque[Record] = deque(maxlen=history)
        self._max_streams = max_streams
        self._clients: set[StreamClient] = set()
        self._clock = clock
        # ids keep increasing across agent restarts (a reconnecting page sends the last id it
        # saw from the previous process): the first is the start time in milliseconds
        self._seq = int(clock() * 1000)
        self._unsubscribe: Unsubscribe | None = None
        self.dropped_clients = 0

    def attach(self, backend: AgentBackend) -> None:
        """Start recording the backend's events."""
        self._unsubscribe = backend.subscribe_events(self.publish)

    def detach(self) -> None:
        """Stop recording (the server is closing)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def clients(self) -> int:
        """How many streams are connected."""
        return len(self._clients)

    def history(self, after: int = 0) -> list[Record]:
        """The kept records with an id above ``after``, oldest first."""
        return [r for r in self._history if r["id"] > after]

    def publish(self, event: AgentEvent) -> None:
        """Record ``event`` and queue it for every client (a listener: never blocks)."""
        self._seq += 1
        record = event_record(self._seq, event, self._clock())
        self._history.append(record)
        for client in list(self._clients):
            if client.dropped:
                continue
            try:
                client.queue.put_nowait(record)
            except asyncio.QueueFull:
                self._drop(client, "queue full")

    def open(self) -> StreamClient:
        """Register a new stream client; raises ``StreamsFullError`` at the bound."""
        if len(self._clients) >= self._max_streams:
            raise StreamsFullError(f"at most {self._max_streams} event streams")
        client = StreamClient()
        self._clients.add(client)
        return client

    def close(self, client: StreamClient) -> None:
        """Forget ``client`` (its connection ended)."""
        self._clients.discard(client)

    def _drop(self, client: StreamClient, why: str) -> None:
        client.dropped = True
        # wake the client's pump at once: make room and queue the end marker
        with contextlib.suppress(asyncio.QueueEmpty):
            client.queue.get_nowait()
        client.queue.put_nowait(None)
        self.dropped_clients += 1
        self._log.warning("Dropping slow event stream client: %s", why)

    async def pump(
        self,
        client: StreamClient,
        after: int,
        write: Callable[[bytes], None],
        drain: Callable[[], Any],
    ) -> None:
        """Send the history after ``after``, then live records, until the client is dropped
        or the connection fails (``write``/``drain`` are the transport's)."""
        try:
            for record in self.history(after):
                write(sse_block(record))
            await self._drain(client, drain)
            while not client.dropped:
                try:
                    item = await asyncio.wait_for(client.queue.get(), PING_INTERVAL)
                except TimeoutError:
                    write(b": ping\n\n")
                else:
                    if item is None:
                        break
                    write(sse_block(item))
                await self._drain(client, drain)
        finally:
            self.close(client)

    async def _drain(self, client: StreamClient, drain: Callable[[], Any]) -> None:
        try:
            await asyncio.wait_for(drain(), WRITE_TIMEOUT)
        except TimeoutError:
            self._drop(client, f"write not drained in {WRITE_TIMEOUT:g}s")


def last_event_id(headers: list[tuple[bytes, bytes]]) -> int:
    """The ``Last-Event-ID`` request header as an int (0 when absent or not a number)."""
    for name, value in headers:
        if name.lower() == b"last-event-id":
            text = value.decode("ascii", "replace").strip()
            return int(text) if text.isdigit() and len(text) < 19 else 0
    return 0
