"""What a node hands its users over time: event subscriptions and the answers to a query.

``Subscription`` is one subscriber's async iterator of node events (``SerfNode.events()``);
``QueryHandle`` collects the acks and responses of one query (``SerfNode.query()``). Both are
fed by the node on the loop's thread and end when the node shuts down.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Self, TypeVar

from serf_proto import MemberEvent, Query, QueryAck, QueryDone, QueryResponse, UserEvent

__all__ = ["NodeEvent", "NodeStopped", "QueryHandle", "Subscription"]

NodeEvent = MemberEvent | UserEvent | Query
"""What ``events()`` yields: membership changes, user events and queries to answer."""

E = TypeVar("E", MemberEvent, UserEvent, Query, NodeEvent)


class NodeStopped(RuntimeError):  # noqa: N818
    """The node is not running (not started yet, or shut down)."""


_CLOSED = object()


class Subscription(Generic[E]):
    """One subscriber's stream of node events (an async iterator; ends at shutdown).

    ``maxsize`` bounds the backlog; when a slow subscriber's queue is full the oldest event is
    dropped and counted in ``dropped``. Close it with ``close()`` or ``async with``. It is
    typed by what it yields: ``Subscription[UserEvent]`` for ``node.events(UserEvent)``.
    """

    def __init__(
        self,
        kinds: tuple[type[Any], ...],
        maxsize: int,
        on_close: Callable[[Subscription[Any]], None],
    ) -> None:
        self._on_close = on_close
        self._kinds = kinds
        self._items: collections.deque[object] = collections.deque()
        self._maxsize = maxsize
        self._ready = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _offer(self, item: object) -> None:
        if self.closed:
            return
        if item is not _CLOSED and not isinstance(item, self._kinds):
            return
        if item is not _CLOSED and self._maxsize and len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        """Stop receiving; iteration ends once the backlog is consumed."""
        if not self.closed:
            self._offer(_CLOSED)
            self.closed = True
            self._on_close(self)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if item is _CLOSED:
            self._items.appendleft(_CLOSED)
            raise StopAsyncIteration
        return item  # type: ignore[return-value]  # _offer admits only the subscribed kinds

    async def get(self, timeout: float | None = None) -> E:
        """The next event; raises ``TimeoutError`` after ``timeout`` seconds, or
        ``NodeStopped`` when the subscription has ended."""
        try:
            async with asyncio.timeout(timeout):
                return await self.__anext__()
        except StopAsyncIteration:
            raise NodeStopped("subscription closed") from None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


@dataclass
class QueryHandle:
    """The answers to one query we sent: iterate it for ``QueryAck``/``QueryResponse`` as they
    arrive; iteration ends at the query's deadline. ``acks`` and ``responses`` keep them all.
    """

    id: int
    name: str
    deadline: float
    acks: list[str] = field(default_factory=list)
    responses: dict[str, bytes] = field(default_factory=dict)
    duplicates: int = 0
    finished: bool = False
    _items: collections.deque[QueryAck | QueryResponse | None] = field(
        default_factory=collections.deque
    )
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def _offer(self, item: QueryAck | QueryResponse | QueryDone) -> None:
        if isinstance(item, QueryDone):
            self.finished = True
            self._items.append(None)
        elif isinstance(item, QueryAck):
            self.acks.append(item.node)
            self._items.append(item)
        else:
            if item.node in self.responses:
                self.duplicates += 1
                return
            self.responses[item.node] = item.payload
            self._items.append(item)
        self._ready.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> QueryAck | QueryResponse:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if item is None:
            self._items.appendleft(None)
            raise StopAsyncIteration
        return item

    async def wait(self) -> dict[str, bytes]:
        """Wait for the deadline; returns every response by node name."""
        async for _ in self:
            pass
        return self.responses
