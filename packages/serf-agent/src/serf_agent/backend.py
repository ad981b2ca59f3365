"""What the RPC and HTTP servers need from a running agent: the ``AgentBackend`` protocol.

The servers in ``serf_agent.rpc`` and ``serf_agent.http`` never touch a ``SerfNode`` directly.
They talk to the agent through this protocol, so they can be tested against an in-memory fake
and the agent can change its internals freely. Every method either succeeds or raises
``BackendError`` whose text is exactly what Go's agent puts into the RPC ``Error`` field (for
example ``user event exceeds configured limit of 512 bytes before encoding``).

Events reach the servers through listeners: plain, synchronous, non-blocking callables. The
agent calls every registered listener once per event, on the event loop, in delivery order;
a listener must never block or raise (the RPC server only appends to a bounded buffer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from serf_proto import (
    KeyOpCompleted,
    Member,
    MemberEvent,
    Query,
    QueryAck,
    QueryResponse,
    UserEvent,
)

from serf_agent.metrics import Metrics

#: An event a stream subscriber may receive (internal ``_serf_*`` queries are never delivered).
AgentEvent = MemberEvent | UserEvent | Query
#: A record of a running query started by ``AgentBackend.query``.
QueryRecord = QueryAck | QueryResponse

EventListener = Callable[[AgentEvent], None]
LogListener = Callable[[str], None]
Unsubscribe = Callable[[], None]


class BackendError(Exception):
    """An operation failed; ``str(err)`` is Go's error text, sent verbatim to RPC clients."""


class CoordinateView(Protocol):
    """A network coordinate (Vivaldi): Go's ``coordinate.Coordinate`` fields, in seconds."""

    @property
    def vec(self) -> Sequence[float]: ...

    @property
    def error(self) -> float: ...

    @property
    def adjustment(self) -> float: ...

    @property
    def height(self) -> float: ...


class AgentBackend(Protocol):
    """Everything the operator-facing servers need from a running agent.

    Reads are plain methods; operations that wait on the network are coroutines. Failures
    raise ``BackendError`` with Go's exact error text.
    """

    # -- reads -----------------------------------------------------------------------------

    @property
    def metrics(self) -> Metrics:
        """The agent's metrics registry (``serf_agent.metrics``), rendered by ``/metrics``."""
        ...

    def members(self) -> list[Member]:
        """Every known member, including ``left``/``failed`` ones not yet reaped."""
        ...

    def local_member(self) -> Member:
        """This agent's own member record (current tags and status)."""
        ...

    def stats(self) -> dict[str, dict[str, str]]:
        """Go's ``Agent.Stats()``: sections ``agent``, ``runtime``, ``serf``, ``tags``,
        ``event_handlers``; every leaf value is a string (see docs/rpc.md)."""
        ...

    def get_coordinate(self, node: str) -> CoordinateView | None:
        """The cached coordinate of ``node`` (the local node included), or None if unknown."""
        ...

    # -- operations --------------------------------------------------------------------------

    async def join(self, addrs: list[str], replay: bool) -> int:
        """Join the cluster through ``addrs`` (``host``, ``host:port``, ``[v6]:port``; a
        missing port means the local bind port). ``replay`` replays old user events.

        Returns how many addresses were contacted. Raises ``BackendError`` only when none
        worked, with Go's multierror text (``1 error occurred:\\n\\t* Failed to join ...``).
        """
        ...

    async def leave(self) -> None:
        """Leave the cluster gracefully (raises e.g. ``Leave already in progress``)."""
        ...

    async def shutdown(self) -> None:
        """Stop the agent; the RPC ``leave`` command calls it after ``leave()``, whatever
        that returned. Must not raise."""
        ...

    async def force_leave(self, node: str, prune: bool) -> None:
        """Mark a failed member ``left`` (``prune``: forget it entirely). Unknown names are
        not an error."""
        ...

    async def user_event(self, name: str, payload: bytes, coalesce: bool) -> None:
        """Fire a user event (locally first, then gossiped); raises with Go's size texts."""
        ...

    async def query(
        self,
        name: str,
        payload: bytes,
        *,
        filter_nodes: list[str],
        filter_tags: dict[str, str],
        request_ack: bool,
        relay_factor: int,
        timeout: float,
    ) -> AsyncIterator[QueryRecord]:
        """Start a query (``timeout`` seconds, 0 = Go's default) and return its records.

        Raises ``BackendError`` at start (``query exceeds limit of 1024 bytes`` ...). The
        iterator yields acks and responses as they arrive and ends when the query's deadline
        passes. The name has already been checked against the ``_serf_`` prefix.
        """
        ...

    async def respond(self, query: Query, payload: bytes) -> None:
        """Answer ``query`` (an event this agent delivered). Raises ``BackendError`` with
        Go's reason only (``response already sent``, ``response is past the deadline``,
        ``response exceeds limit of 1024 bytes``); RPC adds the ``failed to respond to key
        query: `` prefix itself."""
        ...

    async def set_tags(self, tags: dict[str, str]) -> None:
        """Replace the local tags (persisting ``tags_file`` if configured) and gossip them.
        Raises e.g. ``Encoded length of tags exceeds limit of 512 bytes``."""
        ...

    async def install_key(self, key: bytes) -> KeyOpCompleted:
        """Install ``key`` (16, 24 or 32 raw bytes) cluster-wide; the result is returned even
        when nodes failed (RPC derives ``N/M nodes reported failure`` from it)."""
        ...

    async def use_key(self, key: bytes) -> KeyOpCompleted:
        """Make ``key`` the primary key cluster-wide."""
        ...

    async def remove_key(self, key: bytes) -> KeyOpCompleted:
        """Remove ``key`` cluster-wide."""
        ...

    async def list_keys(self) -> KeyOpCompleted:
        """List the keys every node holds (``keys``: base64 key -> node count)."""
        ...

    # -- subscriptions -----------------------------------------------------------------------

    def subscribe_events(self, listener: EventListener) -> Unsubscribe:
        """Call ``listener`` for every member event (after coalescing), user event and
        user query (never ``_serf_*``) from now on; returns the function that unsubscribes."""
        ...

    def subscribe_logs(self, listener: LogListener) -> tuple[list[str], Unsubscribe]:
        """Register ``listener`` for every new formatted log line (``2024/01/01 00:00:00
        [INFO] agent: ...``, no newline). Returns, atomically with the registration, the
        ring buffer of the last 512 lines (oldest first) and the unsubscribe function."""
        ...
