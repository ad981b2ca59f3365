"""The async library API: one Serf node on real sockets, driven by the asyncio loop.

``SerfNode`` owns a pure ``serf_proto.serf.SerfNode`` (the core) and a ``Transport`` (the
sockets and the timer). Every method feeds the core with ``now = loop.time()`` and then pumps
its outputs, so a call returns after its datagrams are handed to the kernel. Every non-I/O
output first goes to the output listeners (``add_output_listener``: how a program persists
``SnapshotAppend`` and ``KeyringChanged``); then operation results (``JoinCompleted``,
``LeaveCompleted``, ``KeyOpCompleted``) resolve futures the awaiting method returns, query
answers flow into the ``QueryHandle`` of that query, and member events, user events and queries
to answer are copied to every ``events()`` subscriber. A ``NodeShutdown`` (a lost name
conflict) stops the node; ``shutdown_reason`` says why.

Everything here runs on the loop's thread; no method blocks.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar, overload

from serf_proto import (
    Address,
    Coordinate,
    Event,
    JoinCompleted,
    KeyOpCompleted,
    LeaveCompleted,
    Member,
    MemberEvent,
    NodeShutdown,
    Query,
    QueryAck,
    QueryDone,
    QueryResponse,
    SerfError,
    UserEvent,
    distance,
)
from serf_proto.memberlist import MemberlistStats
from serf_proto.serf import QueryParams, RecoveredState, SerfConfig, SerfState
from serf_proto.serf import SerfNode as CoreNode

from serf_asyncio.addresses import (
    DEFAULT_PORT,
    advertise_address,
    is_unspecified,
    resolve_all,
)
from serf_asyncio.streams import NodeEvent, NodeStopped, QueryHandle, Subscription
from serf_asyncio.transport import BoundSockets, Transport, TransportStats, bind_sockets

__all__ = [
    "JoinError",
    "LeaveError",
    "NodeCounters",
    "NodeEvent",
    "NodeStopped",
    "OutputListener",
    "QueryHandle",
    "SerfNode",
    "Subscription",
    "start_node",
]

log = logging.getLogger("serf_asyncio.node")

OutputListener = Callable[[Event], None]
"""Called with every non-I/O output of the core, in order (see ``add_output_listener``)."""

T = TypeVar("T")
K = TypeVar("K", MemberEvent, UserEvent, Query)


class JoinError(RuntimeError):
    """No join target answered; ``errors`` says why each one failed."""

    def __init__(self, errors: Iterable[str]) -> None:
        self.errors = tuple(errors)
        detail = "; ".join(self.errors) or "no addresses to join"
        super().__init__(f"failed to join the cluster: {detail}")


class LeaveError(RuntimeError):
    """The graceful leave finished with an error (the node has still left)."""


@dataclass(frozen=True, slots=True)
class NodeCounters:
    """Cumulative counters of a running node (``SerfNode.counters()``), copied at the call.

    ``memberlist``: the membership layer's probes, acks, suspicions, push/pulls and traffic;
    ``serf``: the Serf layer's counters by Go's metric name without ``serf.`` (e.g.
    ``member.flap``); ``dropped``: refused remote input by reason, both layers summed;
    ``transport``: what the socket binding did.
    """

    memberlist: MemberlistStats
    serf: Mapping[str, int]
    dropped: Mapping[str, int]
    transport: TransportStats


class SerfNode:
    """A Serf cluster member on UDP+TCP: ``async with SerfNode(config) as node: ...``.

    ``config`` is a ``serf_proto.serf.SerfConfig``; its memberlist ``bind_addr``/``bind_port``
    say where to listen (port 0 picks a free port), ``advertise_addr``/``advertise_port`` what
    to tell peers (empty: the bind address, or for a wildcard bind the first private IPv4).
    ``leave_on_exit`` makes leaving the ``async with`` block leave the cluster gracefully before
    shutting down (otherwise peers see the node fail).
    """

    def __init__(
        self,
        config: SerfConfig,
        *,
        rng: random.Random | None = None,
        recovered: RecoveredState | None = None,
        leave_on_exit: bool = True,
    ) -> None:
        self._config = config
        self._rng = rng or random.Random()
        self._recovered = recovered
        self.leave_on_exit = leave_on_exit
        self._core: CoreNode | None = None
        self._transport: Transport | None = None
        self._ops: dict[int, asyncio.Future[Any]] = {}
        self._queries: dict[int, QueryHandle] = {}
        self._subscribers: set[Subscription[Any]] = set()
        self._listeners: list[OutputListener] = []
        self._stopped = asyncio.Event()
        self._stopping = False
        self._shutdown_reason: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind the gossip port and start the core.

        Raises ``AddressError`` when no address can be advertised and ``OSError`` when the
        port cannot be bound (its message names the address).
        """
        if self._core is not None:
            raise RuntimeError("node already started")
        ml = self._config.memberlist
        adv_text = None
        if ml.advertise_addr:
            adv_text = f"[{ml.advertise_addr}]" if ":" in ml.advertise_addr else ml.advertise_addr
            if ml.advertise_port:
                adv_text += f":{ml.advertise_port}"
        # Choose the advertised host before binding: it fails early when there is none.
        advertise_address(ml.bind_addr, ml.bind_port, adv_text)
        try:
            sockets: BoundSockets = bind_sockets(ml.bind_addr, ml.bind_port)
        except OSError as exc:
            where = str(Address(ml.bind_addr, ml.bind_port))
            raise OSError(exc.errno, f"cannot bind {where}: {exc.strerror or exc}") from exc
        try:
            port = sockets.address.port
            adv = advertise_address(ml.bind_addr, port, adv_text)
            if is_unspecified(ml.bind_addr) or ml.bind_port == 0 or ml.advertise_addr:
                ml = ml.replace(bind_port=port, advertise_addr=adv.host, advertise_port=adv.port)
                self._config = self._config.replace(memberlist=ml)
            loop = asyncio.get_running_loop()
            self._core = CoreNode(
                self._config, now=loop.time(), rng=self._rng, recovered=self._recovered
            )
            self._transport = Transport(self._core, self._on_output, loop=loop)
            await self._transport.start(ml.bind_addr, port, sockets=sockets)
        except BaseException:
            sockets.close()
            self._core = None
            self._transport = None
            raise

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.leave_on_exit and exc_type is None and self.running:
            try:
                await self.leave()
            except (LeaveError, SerfError, NodeStopped) as err:
                log.warning("leave on exit failed: %s", err)
        await self.shutdown()

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``shutdown()``."""
        return self._core is not None and not self._stopping

    @property
    def shutdown_reason(self) -> str | None:
        """Why the node stopped by itself (e.g. ``lost name conflict resolution``), else None."""
        return self._shutdown_reason

    async def shutdown(self) -> None:
        """Stop at once (without a leave unless one ran): close sockets, end every iterator."""
        if self._stopping or self._core is None or self._transport is None:
            return
        self._stopping = True
        self._core.shutdown(self._transport.now())
        self._transport.pump()
        await self._transport.close()
        self._finish()

    def _finish(self) -> None:
        for fut in self._ops.values():
            if not fut.done():
                fut.set_exception(NodeStopped("node shut down"))
        self._ops.clear()
        for handle in self._queries.values():
            if not handle.finished:
                handle._offer(QueryDone(handle.id))
        self._queries.clear()
        for sub in list(self._subscribers):
            sub.close()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        """Return once the node has shut down (by ``shutdown()`` or by itself)."""
        await self._stopped.wait()

    # ------------------------------------------------------------------ plumbing

    @property
    def core(self) -> CoreNode:
        """The pure Serf core (read it freely; drive it only through this object)."""
        if self._core is None or self._stopping:
            raise NodeStopped("node is not running")
        return self._core

    def _now(self) -> float:
        assert self._transport is not None
        return self._transport.now()

    def _pump(self) -> None:
        if self._transport is not None:
            self._transport.pump()

    def add_output_listener(self, listener: OutputListener) -> Callable[[], None]:
        """Call ``listener`` with every non-I/O output of the core; returns a remover.

        That is every event of ``serf_proto.events``: member and user events and queries
        (internal ``_serf_*`` ones excluded), operation results, ``QueryAck``/``QueryResponse``
        /``QueryDone``, and the raw outputs only a program that persists state needs:
        ``SnapshotAppend`` (with ``SerfConfig(snapshot=True)``), ``KeyringChanged`` and
        ``NodeShutdown``. Listeners run synchronously on the loop's thread, in output order,
        before the node handles the output itself; they must not block. Register before
        ``start()`` to see what the core emits while starting (its own join, the first
        snapshot records). A listener that raises is logged and skipped.
        """
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def _on_output(self, out: object) -> None:
        for listener in list(self._listeners):
            try:
                listener(out)  # type: ignore[arg-type]  # the core emits only Events here
            except Exception:
                log.exception("output listener failed")
        if isinstance(out, JoinCompleted | LeaveCompleted | KeyOpCompleted):
            fut = self._ops.pop(out.op, None)
            if fut is not None and not fut.done():
                fut.set_result(out)
        elif isinstance(out, QueryAck | QueryResponse | QueryDone):
            handle = self._queries.get(out.qid)
            if handle is not None:
                handle._offer(out)
                if isinstance(out, QueryDone):
                    del self._queries[out.qid]
        elif isinstance(out, MemberEvent | UserEvent | Query):
            for sub in list(self._subscribers):
                sub._offer(out)
        elif isinstance(out, NodeShutdown):
            log.error("node shut itself down: %s", out.reason)
            self._shutdown_reason = out.reason
            task = asyncio.get_running_loop().create_task(self.shutdown())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _operation(self, op: int, kind: type[T]) -> T:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ops[op] = fut
        self._pump()
        try:
            result = await fut
        finally:
            # Cancelled or not, nothing waits for this operation any more; the core finishes
            # it on its own and its result is then ignored.
            self._ops.pop(op, None)
        assert isinstance(result, kind)
        return result

    # ------------------------------------------------------------------ identity and reads

    @property
    def name(self) -> str:
        """This node's name."""
        return self._config.node_name

    @property
    def config(self) -> SerfConfig:
        """The configuration in force (bind port and advertise address filled in)."""
        return self._config

    @property
    def address(self) -> Address:
        """The address peers reach this node at (advertised)."""
        return self._config.memberlist.advertise

    @property
    def bind_address(self) -> Address:
        """Where the sockets listen."""
        if self._transport is None or self._transport.local_address is None:
            raise NodeStopped("node is not running")
        return self._transport.local_address

    @property
    def state(self) -> SerfState:
        """The core's lifecycle state (alive, leaving, left, shutdown)."""
        if self._core is None:
            raise NodeStopped("node is not running")
        return self._core.state

    def members(self) -> list[Member]:
        """Every known member, whatever its status (left and failed ones until reaped)."""
        return self.core.members()

    def local_member(self) -> Member:
        """This node's own member entry."""
        return self.core.local_member()

    def stats(self) -> dict[str, str]:
        """Go's ``Serf.Stats()`` keys plus the transport's counters, all as strings."""
        out = dict(self.core.stats())
        assert self._transport is not None
        for key, value in vars_of(self._transport.stats).items():
            out[f"transport_{key}"] = str(value)
        return out

    def counters(self) -> NodeCounters:
        """The cumulative counters of both layers and the transport (a copy)."""
        core = self.core
        assert self._transport is not None
        ml = dataclasses.replace(core.memberlist.stats)
        ml.dropped = collections.Counter(ml.dropped)
        dropped = {str(reason): count for reason, count in ml.dropped.items()}
        for reason, count in core.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + count
        return NodeCounters(
            memberlist=ml,
            serf=dict(core.counters),
            dropped=dropped,
            transport=dataclasses.replace(self._transport.stats),
        )

    def encrypted(self) -> bool:
        """Whether gossip is encrypted (the keyring has a key)."""
        return self.core.encryption_enabled()

    def coordinate(self) -> Coordinate:
        """This node's Vivaldi coordinate (raises ``InvalidState`` when disabled)."""
        return self.core.coordinate()

    def cached_coordinate(self, name: str) -> Coordinate | None:
        """The last coordinate seen for ``name``, or None."""
        return self.core.cached_coordinate(name)

    def rtt(self, a: str, b: str | None = None) -> float | None:
        """Estimated round-trip time in seconds between ``a`` and ``b`` (default: this node).

        None when a coordinate is unknown.
        """
        first = self.cached_coordinate(a)
        second = self.cached_coordinate(b or self.name)
        if b is None and second is None:
            second = self.coordinate()
        if first is None or second is None:
            return None
        return distance(first, second)

    # ------------------------------------------------------------------ commands

    async def join(
        self,
        targets: Iterable[str | Address] | str | Address,
        *,
        ignore_old: bool = False,
        default_port: int = DEFAULT_PORT,
    ) -> int:
        """Join a cluster through ``targets`` (``host[:port]``, ``[v6]:port`` or ``Address``).

        Names are resolved; the port defaults to 7946. Returns how many nodes answered; raises
        :class:`JoinError` when none did. ``ignore_old`` skips user events sent before we
        joined (Go's ``ignoreOld``; the agent's ``-replay`` is its negation). Cancelling the
        call stops the wait only: exchanges already started finish in the background (a node
        that answers still joins) and their result is dropped; nothing is left behind.
        """
        if isinstance(targets, str | Address):
            targets = [targets]
        addrs, errors = await resolve_all(targets, default_port)
        if not addrs:
            raise JoinError(errors)
        op = self.core.join(addrs, self._now(), ignore_old=ignore_old)
        result = await self._operation(op, JoinCompleted)
        if result.joined == 0:
            raise JoinError([*errors, *result.errors])
        return result.joined

    async def leave(self) -> None:
        """Leave the cluster gracefully; peers see the node ``left``.

        Waits for the leave to be gossiped (at most ``broadcast_timeout``) and propagated.
        Raises ``InvalidState`` while a leave runs, :class:`LeaveError` on a reported error.
        Cancelling the call stops the wait only: the leave has begun and runs to its end
        (the node is ``leaving``, then ``left``); nothing is left behind.
        """
        op = self.core.leave(self._now())
        result = await self._operation(op, LeaveCompleted)
        if result.error:
            raise LeaveError(result.error)

    def user_event(self, name: str, payload: bytes = b"", *, coalesce: bool = True) -> None:
        """Gossip a user event; raises ``PayloadTooLarge`` over the size limit."""
        self.core.user_event(name, payload, coalesce, self._now())
        self._pump()

    def query(
        self,
        name: str,
        payload: bytes = b"",
        *,
        filter_nodes: Iterable[str] = (),
        filter_tags: Mapping[str, str] | None = None,
        request_ack: bool = False,
        relay_factor: int = 0,
        timeout: float = 0.0,
    ) -> QueryHandle:
        """Send a query; iterate the returned handle for acks and responses.

        ``timeout`` is seconds (0: Go's default for the cluster size); ``filter_tags`` maps
        tag names to regular expressions. Raises ``PayloadTooLarge`` or ``InvalidState``.
        """
        params = QueryParams(
            filter_nodes=tuple(filter_nodes),
            filter_tags=dict(filter_tags or {}),
            request_ack=request_ack,
            relay_factor=relay_factor,
            timeout=timeout,
        )
        now = self._now()
        qid = self.core.query(name, payload, params, now)
        handle = QueryHandle(qid, name, now + (timeout or self.core.default_query_timeout()))
        self._queries[qid] = handle
        self._pump()
        return handle

    def respond(self, query: Query, payload: bytes = b"") -> None:
        """Answer a ``Query`` event; raises ``UnknownQuery`` (answered already),
        ``InvalidState`` (past its deadline) or ``PayloadTooLarge``."""
        self.core.respond(query, payload, self._now())
        self._pump()

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Replace this node's tags; every member sees a ``member-update``."""
        self.core.set_tags(tags, self._now())
        self._pump()

    def force_leave(self, name: str, *, prune: bool = False) -> None:
        """Mark a (failed) member ``left``; ``prune`` removes it from every member list."""
        self.core.force_leave(name, prune, self._now())
        self._pump()

    async def install_key(self, key: str | bytes) -> KeyOpCompleted:
        """Install ``key`` (base64 or raw bytes) on every member; returns the tally."""
        return await self._operation(self.core.install_key(key, self._now()), KeyOpCompleted)

    async def use_key(self, key: str | bytes) -> KeyOpCompleted:
        """Make the installed ``key`` primary on every member; returns the tally."""
        return await self._operation(self.core.use_key(key, self._now()), KeyOpCompleted)

    async def remove_key(self, key: str | bytes) -> KeyOpCompleted:
        """Remove ``key`` from every member (never the primary); returns the tally."""
        return await self._operation(self.core.remove_key(key, self._now()), KeyOpCompleted)

    async def list_keys(self) -> KeyOpCompleted:
        """Ask every member for its keys; ``keys`` counts the holders of each key."""
        return await self._operation(self.core.list_keys(self._now()), KeyOpCompleted)

    def keys(self) -> tuple[bytes, ...]:
        """This node's keyring, primary first (empty when encryption is off)."""
        ring = self.core.keyring
        return tuple(ring.keys) if ring is not None else ()

    # ------------------------------------------------------------------ events

    @overload
    def events(self, *, maxsize: int = 0) -> Subscription[NodeEvent]: ...
    @overload
    def events(self, kind: type[K], /, *, maxsize: int = 0) -> Subscription[K]: ...
    @overload
    def events(
        self,
        *kinds: type[MemberEvent] | type[UserEvent] | type[Query],
        maxsize: int = 0,
    ) -> Subscription[NodeEvent]: ...

    def events(self, *kinds: type[Any], maxsize: int = 0) -> Subscription[Any]:
        """Subscribe to node events (all kinds, or only ``kinds``); ``maxsize`` 0 = unbounded.

        Each call makes an independent subscriber that sees every event from now on.
        ``events(UserEvent)`` is a ``Subscription[UserEvent]``: it yields ``UserEvent`` only.
        """
        sub: Subscription[Any] = Subscription(
            kinds or (MemberEvent, UserEvent, Query), maxsize, self._subscribers.discard
        )
        if self._stopped.is_set():
            sub.close()
        else:
            self._subscribers.add(sub)
        return sub


def vars_of(obj: object) -> dict[str, object]:
    """The fields of a slotted dataclass instance, by name."""
    names = getattr(obj, "__slots__", ())
    return {name: getattr(obj, name) for name in names}


@contextlib.asynccontextmanager
async def start_node(
    config: SerfConfig,
    *,
    rng: random.Random | None = None,
    recovered: RecoveredState | None = None,
    leave_on_exit: bool = True,
) -> AsyncIterator[SerfNode]:
    """``async with start_node(config) as node:``: the same as ``async with SerfNode(...)``."""
    async with SerfNode(config, rng=rng, recovered=recovered, leave_on_exit=leave_on_exit) as node:
        yield node
