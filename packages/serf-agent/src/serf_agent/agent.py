"""The ``Agent``: one Serf node on asyncio sockets, with handlers, snapshot, keyring and servers.

The agent owns the node's files and processes and answers the RPC and HTTP servers through the
``AgentBackend`` protocol. Its parts, in the order ``start`` wires them:

* the snapshot file (``snapshot_file``): read for the node's recovered clocks and members,
  then fed with the ``SnapshotAppend`` records the core emits;
* the Serf core (``serf_proto.serf.SerfNode``) bound to UDP and TCP by
  ``serf_asyncio.transport.Transport``; every non-I/O output comes back to ``_on_output``:
  operation results complete the futures of the coroutines that started them, events go to
  the RPC stream listeners, the metrics and the handler runner, keyring changes rewrite the
  keyring file;
* the handler runner (``handlers``), which never blocks the node;
* the RPC server, the optional HTTP endpoint and mDNS discovery.

Everything runs on one event loop; the core is only touched from it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import ipaddress
import json
import logging
import os
import random
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

from serf_proto.config import MemberlistConfig
from serf_proto.errors import SerfError
from serf_proto.events import (
    JoinCompleted,
    KeyOpCompleted,
    KeyringChanged,
    LeaveCompleted,
    MemberEvent,
    NodeShutdown,
    Query,
    QueryAck,
    QueryDone,
    QueryResponse,
    SnapshotAppend,
    UserEvent,
)
from serf_proto.gocompat import join_host_port, split_host_port
from serf_proto.serf.config import SerfConfig
from serf_proto.serf.node import SerfNode
from serf_proto.serf.query import INTERNAL_QUERY_PREFIX, QueryParams
from serf_proto.serf.snapshot import PreviousNode, RecoveredState, parse_address, parse_snapshot
from serf_proto.types import Address, Member
from serf_proto.wire import Coordinate

from serf_agent.backend import (
    AgentEvent,
    BackendError,
    EventListener,
    LogListener,
    QueryRecord,
    Unsubscribe,
)
from serf_agent.build_info import agent_build_info
from serf_agent.config import AgentConfig
from serf_agent.handlers import HandlerRunner, HandlerSpec, event_type, handlers_info
from serf_agent.keyring_file import StartupState, write_keyring, write_tags
from serf_agent.logging_setup import AgentLogging
from serf_agent.metrics import Metrics, mirror_core_stats
from serf_agent.rpc.stats import runtime_section
from serf_agent.settings import NetworkSettings, private_address
from serf_agent.snapshot_file import SnapshotFile, previously_failed

logger = logging.getLogger("serf_agent.agent")

#: The RPC server's default port when ``rpc_addr`` has none.
DEFAULT_RPC_PORT = 7373


class AgentStartError(Exception):
    """The agent could not start (bind failed, ...); ``str()`` is the message Go prints."""


def multierror(errors: list[str]) -> str:
    """Go ``go-multierror`` text: ``1 error occurred:\\n\\t* ...\\n\\n``."""
    head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
    body = "".join(f"\n\t* {e}" for e in errors)
    return f"{head}{body}\n\n"


def go_event_text(event: AgentEvent) -> str:
    """Go's ``Event.String()``: ``member-join``, ``user-event: deploy``, ``query: load``."""
    if isinstance(event, UserEvent):
        return f"user-event: {event.name}"
    if isinstance(event, Query):
        return f"query: {event.name}"
    return event_type(event)


class Agent:
    """A running ``serf agent``: implements ``serf_agent.backend.AgentBackend``.

    Construct it with checked settings (``command.main`` does), then ``await start()``;
    ``await shutdown()`` stops everything. ``wait_shutdown()`` returns when the agent stopped
    by itself (RPC ``leave``, a lost name conflict).
    """

    def __init__(
        self,
        config: AgentConfig,
        network: NetworkSettings,
        handlers: list[HandlerSpec],
        state: StartupState,
        logs: AgentLogging | None = None,
    ) -> None:
        self.config = config
        self.network = network
        self.logs = logs
        self.logger = logger
        self.metrics = Metrics()
        self._handler_specs = list(handlers)
        self._startup_handlers = list(handlers)
        self._state = state
        self._core: SerfNode | None = None
        self._transport: Any = None
        self._runner: HandlerRunner | None = None
        self._snapshot: SnapshotFile | None = None
        self._listeners: dict[int, EventListener] = {}
        self._next_listener = 0
        self._ops: dict[int, asyncio.Future[Any]] = {}
        self._queries: dict[int, asyncio.Queue[QueryRecord | None]] = {}
        self._rpc: Any = None
        self._http: Any = None
        self._discovery: Any = None
        self._stopped: asyncio.Event | None = None
        self._shutting_down = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.rpc_display = config.rpc_addr
        self.http_display = ""
        self.bind_display = network.bind_display

    # ------------------------------------------------------------------ properties

    @property
    def primary_key(self) -> bytes | None:
        """The key gossip starts with (``-encrypt`` or the keyring file's first key)."""
        return self._state.keys[0] if self._state.keys else None

    @property
    def encrypted(self) -> bool:
        """Whether gossip is encrypted."""
        if self._core is not None:
            return self._core.encryption_enabled()
        return bool(self._state.keys)

    @property
    def core(self) -> SerfNode:
        """The Serf core (after ``start``)."""
        if self._core is None:
            raise BackendError("agent is not running")
        return self._core

    def _now(self) -> float:
        if self._transport is not None:
            return float(self._transport.now())
        return asyncio.get_running_loop().time()

    def _pump(self) -> None:
        if self._transport is not None:
            self._transport.pump()

    # ------------------------------------------------------------------ lifecycle

    def _serf_config(self) -> SerfConfig:
        config, network = self.config, self.network
        ml_overrides: dict[str, Any] = {
            "bind_addr": network.bind_host,
            "bind_port": network.bind_port,
            "enable_compression": config.enable_compression,
        }
        if network.advertise_host is not None:
            ml_overrides["advertise_addr"] = network.advertise_host
            ml_overrides["advertise_port"] = network.advertise_port or 0
        elif network.bind_host in ("0.0.0.0", "::"):
            private = private_address()
            if private is None:
                raise AgentStartError(
                    "Error creating Serf: Failed to create memberlist: "
                    "No private IP address found, and explicit IP not provided"
                )
            ml_overrides["advertise_addr"] = private
        if config.label:
            ml_overrides["label"] = config.label
        memberlist = MemberlistConfig.profile(network.profile, config.node_name, **ml_overrides)
        overrides: dict[str, Any] = {
            "tags": dict(self._state.tags),
            "protocol_version": config.protocol,
            "keys": tuple(self._state.keys),
            "broadcast_timeout": config.broadcast_timeout,
            "enable_name_conflict_resolution": not config.disable_name_resolution,
            "rejoin_after_leave": config.rejoin_after_leave,
            "snapshot": bool(config.snapshot_path),
        }
        if config.query_response_size_limit:
            overrides["query_response_size_limit"] = config.query_response_size_limit
        if config.query_size_limit:
            overrides["query_size_limit"] = config.query_size_limit
        if config.user_event_size_limit:
            overrides["user_event_size_limit"] = config.user_event_size_limit
        for key in ("reconnect_interval", "reconnect_timeout", "tombstone_timeout"):
            if getattr(config, key):
                overrides[key] = getattr(config, key)
        return SerfConfig.for_agent(memberlist, **overrides)

    async def start(self) -> None:
        """Open the snapshot, create the node and bind gossip; raises :class:`AgentStartError`."""
        from serf_asyncio.transport import Transport

        self._stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        recovered: RecoveredState | None = None
        failed: list[PreviousNode] = []
        if self.config.snapshot_path:
            self._snapshot = SnapshotFile(
                self.config.snapshot_path, rejoin_after_leave=self.config.rejoin_after_leave
            )
            try:
                text = self._snapshot.open()
            except OSError as exc:
                reason = os.strerror(exc.errno) if exc.errno else str(exc)
                raise AgentStartError(
                    "Error creating Serf: Failed to setup snapshot: failed to open snapshot: "
                    f"open {self.config.snapshot_path}: {reason[:1].lower()}{reason[1:]}"
                ) from None
            recovered = parse_snapshot(text, rejoin_after_leave=self.config.rejoin_after_leave)
            if self.config.rejoin_failed:
                failed = [p for p in previously_failed(text) if p.name != self.config.node_name]
        try:
            serf_config = self._serf_config()
        except (ValueError, SerfError) as exc:
            raise AgentStartError(f"Error creating Serf: {exc}") from None
        logger.info("Serf agent starting")
        own_rejoin = self.config.rejoin_failed and recovered is not None
        core_recovered = (
            dataclasses.replace(recovered, alive=()) if own_rejoin and recovered else recovered
        )
        self._core = SerfNode(
            serf_config, now=loop.time(), rng=random.Random(), recovered=core_recovered
        )
        self._transport = Transport(self._core, self._on_output)
        try:
            bound = await self._transport.start(self.network.bind_host, self.network.bind_port)
        except OSError as exc:
            self._core = None
            host, port = self.network.bind_host, self.network.bind_port
            raise AgentStartError(
                "Error creating Serf: Failed to create memberlist: Could not set up network "
                f'transport: failed to obtain an address: Failed to start TCP listener on "{host}" '
                f"port {port}: "
                f"listen tcp {join_host_port(host, port)}: {_bind_error(exc)}"
            ) from None
        self.bind_display = join_host_port(self.network.bind_host, bound.port)
        self._runner = HandlerRunner(
            self._handler_specs,
            self._self_info,
            self._handler_respond,
            concurrent=self.config.concurrent_handlers,
            on_result=self._handler_result,
        )
        self.metrics.add_collector(self._collect_metrics)
        for key in ("statsite_addr", "statsd_addr"):
            if getattr(self.config, key):
                logger.warning(
                    "%s is not supported and is ignored; serve metrics with -http-addr", key
                )
        if own_rejoin and recovered is not None:
            self._spawn(self._rejoin(list(recovered.alive), failed))

    async def start_rpc(self) -> None:
        """Listen for RPC clients on ``rpc_addr``; raises :class:`AgentStartError`."""
        from serf_agent.rpc import start_rpc_server

        host, port = _listen_parts(self.config.rpc_addr, DEFAULT_RPC_PORT)
        try:
            self._rpc = await start_rpc_server(self, host, port, self.config.rpc_auth or None)
        except OSError as exc:
            raise AgentStartError(
                f"listen tcp {self.config.rpc_addr}: {_bind_error(exc)}"
            ) from None
        bound_host, bound_port = self._rpc.address
        self.rpc_display = join_host_port(bound_host, bound_port)

    async def start_http(self) -> None:
        """Serve the HTTP endpoint on ``http_addr``; raises :class:`AgentStartError`."""
        from serf_agent.http import start_http_server

        host, port = _listen_parts(self.config.http_addr, 0)
        try:
            self._http = await start_http_server(self, host, port)
        except OSError as exc:
            raise AgentStartError(
                f"listen tcp {self.config.http_addr}: {_bind_error(exc)}"
            ) from None
        address = getattr(self._http, "address", None)
        self.http_display = join_host_port(*address) if address else self.config.http_addr

    async def start_discovery(self) -> None:
        """Start mDNS discovery when ``discover`` is set; raises :class:`AgentStartError`."""
        if not self.config.discover:
            return
        from serf_agent.discovery import MdnsDiscovery

        local = self.core.local_member().addr
        interface_ip = self.network.bind_host if self.config.interface else None
        discovery = MdnsDiscovery(
            self.config.discover,
            self.config.node_name,
            local.host,
            local.port,
            lambda addrs: self.join(addrs, self.config.replay_on_join),
            interface_ip=interface_ip,
        )
        try:
            await discovery.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                await discovery.close()
            raise AgentStartError(str(exc)) from None
        self._discovery = discovery

    async def wait_shutdown(self) -> None:
        """Return once the agent has shut down."""
        assert self._stopped is not None
        await self._stopped.wait()

    async def shutdown(self) -> None:
        """Stop servers, handlers and the node (without a leave); never raises."""
        if self._shutting_down:
            if self._stopped is not None:
                await self._stopped.wait()
            return
        self._shutting_down = True
        logger.info("requesting serf shutdown")
        for server in (self._rpc, self._http):
            if server is not None:
                with contextlib.suppress(Exception):
                    server.close()
                    await server.wait_closed()
        if self._discovery is not None:
            with contextlib.suppress(Exception):
                await self._discovery.close()
        if self._core is not None and self._transport is not None:
            with contextlib.suppress(Exception):
                self._core.shutdown(self._now())
                self._pump()
            with contextlib.suppress(Exception):
                await self._transport.close()
        if self._runner is not None:
            await self._runner.close()
        for task in list(self._tasks):
            task.cancel()
        for fut in self._ops.values():
            if not fut.done():
                fut.set_exception(BackendError("agent is shutting down"))
        for queue in self._queries.values():
            queue.put_nowait(None)
        if self._snapshot is not None:
            self._snapshot.close()
        logger.info("shutdown complete")
        if self._stopped is not None:
            self._stopped.set()

    # ------------------------------------------------------------------ outputs of the core

    def _on_output(self, out: object) -> None:
        if isinstance(out, JoinCompleted | LeaveCompleted | KeyOpCompleted):
            fut = self._ops.pop(out.op, None)
            if fut is not None and not fut.done():
                fut.set_result(out)
        elif isinstance(out, QueryAck | QueryResponse):
            queue = self._queries.get(out.qid)
            if queue is not None:
                queue.put_nowait(out)
        elif isinstance(out, QueryDone):
            done = self._queries.pop(out.qid, None)
            if done is not None:
                done.put_nowait(None)
        elif isinstance(out, SnapshotAppend):
            if self._snapshot is not None:
                if getattr(out, "compact", False):
                    self._snapshot.replace(out.lines)
                else:
                    self._snapshot.append(out.lines)
        elif isinstance(out, KeyringChanged):
            self._keyring_changed(out.keys)
        elif isinstance(out, NodeShutdown):
            logger.warning("Serf shutdown detected, quitting: %s", out.reason)
            self._spawn(self.shutdown())
        elif isinstance(out, MemberEvent | UserEvent | Query):
            self._deliver(out)

    def _deliver(self, event: AgentEvent) -> None:
        if isinstance(event, Query) and event.name.startswith(INTERNAL_QUERY_PREFIX):
            return
        logger.info("Received event: %s", go_event_text(event))
        self.metrics.inc("serf_events_total", type=event_type(event))
        for listener in list(self._listeners.values()):
            try:
                listener(event)
            except Exception:
                logger.exception("event listener failed")
        if self._runner is not None:
            self._runner.submit(event)

    def _keyring_changed(self, keys: tuple[bytes, ...]) -> None:
        if not self.config.keyring_file:
            return
        encoded = [base64.b64encode(k).decode("ascii") for k in keys]
        try:
            write_keyring(self.config.keyring_file, encoded)
        except OSError as exc:
            logger.error("Failed to write keyring file: %s", exc)

    def _handler_result(self, event: str, outcome: str, seconds: float) -> None:
        self.metrics.inc("serf_handler_runs_total", event=event, outcome=outcome)
        self.metrics.observe("serf_handler_duration_seconds", seconds, event=event)

    def dump_metrics(self, stream: Any) -> None:
        """Write the metrics in Prometheus text to ``stream`` (SIGUSR1, like Go's dump)."""
        with contextlib.suppress(OSError, ValueError):
            stream.write(self.metrics.render())
            stream.flush()

    def _self_info(self) -> tuple[str, Mapping[str, str]]:
        if self._core is None:
            return self.config.node_name, dict(self._state.tags)
        return self.config.node_name, self._core.tags

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _operation(self, op: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._ops[op] = fut
        self._pump()
        return fut

    # ------------------------------------------------------------------ reads (AgentBackend)

    def members(self) -> list[Member]:
        """Every known member."""
        return self.core.members()

    def local_member(self) -> Member:
        """This agent's member record."""
        return self.core.local_member()

    def stats(self) -> dict[str, dict[str, str]]:
        """Go's ``Agent.Stats()`` sections, every value a string."""
        core = self.core
        return {
            "agent": {"name": self.config.node_name, **agent_build_info()},
            "runtime": runtime_section(),
            "serf": core.stats(),
            "tags": dict(core.tags),
            "event_handlers": handlers_info(self._startup_handlers),
        }

    def get_coordinate(self, node: str) -> Coordinate | None:
        """The cached coordinate of ``node`` (ours included), or None."""
        try:
            if node == self.config.node_name:
                return self.core.coordinate()
            return self.core.cached_coordinate(node)
        except SerfError:
            return None

    # ------------------------------------------------------------------ operations

    async def join(self, addrs: list[str], replay: bool) -> int:
        """Join through ``addrs``; returns how many answered (raises when none did)."""
        logger.info("joining: [%s] replay: %s", " ".join(addrs), str(replay).lower())
        resolved: list[Address] = []
        errors: list[str] = []
        for text in addrs:
            try:
                resolved.extend(await self._resolve(text))
            except ValueError as exc:
                errors.append(f"Failed to resolve {text}: {exc}")
        if not resolved:
            raise BackendError(multierror(errors or ["no addresses to join"]))
        try:
            op = self.core.join(resolved, self._now(), ignore_old=not replay)
        except SerfError as exc:
            raise BackendError(str(exc)) from None
        result: JoinCompleted = await self._operation(op)
        if result.joined == 0:
            raise BackendError(multierror([*errors, *result.errors]))
        logger.info("joined: %d nodes", result.joined)
        return result.joined

    async def _resolve(self, text: str) -> list[Address]:
        """``host``, ``host:port`` or ``[v6]:port``; the port defaults to our bind port."""
        try:
            host, port_text = split_host_port(text)
        except ValueError:
            host, port_text = text.strip("[]"), str(self.network.bind_port)
        port = int(port_text) if port_text.isdigit() else self.network.bind_port
        try:
            return [Address(str(ipaddress.ip_address(host)), port)]
        except ValueError:
            pass  # a host name: resolve it without blocking the loop
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ValueError(f"lookup {host}: {exc.strerror}") from None
        return [Address(str(info[4][0]), port) for info in infos[:1]]

    async def leave(self) -> None:
        """Leave gracefully (fsyncs the snapshot's ``leave`` record)."""
        logger.info("requesting graceful leave from Serf")
        try:
            op = self.core.leave(self._now())
        except SerfError as exc:
            raise BackendError(str(exc)) from None
        result: LeaveCompleted = await self._operation(op)
        if self._snapshot is not None:
            self._snapshot.sync()
        if result.error:
            raise BackendError(result.error)

    async def force_leave(self, node: str, prune: bool) -> None:
        """Declare ``node`` left; ``prune`` forgets it."""
        logger.info("Force leaving node: %s", node)
        try:
            self.core.force_leave(node, prune, self._now())
        except SerfError as exc:
            raise BackendError(str(exc)) from None
        self._pump()

    async def user_event(self, name: str, payload: bytes, coalesce: bool) -> None:
        """Fire a user event."""
        logger.debug(
            "Requesting user event send: %s. Coalesced: %s. Payload: %s",
            name,
            "true" if coalesce else "false",
            json.dumps(payload.decode("utf-8", "replace"), ensure_ascii=False),
        )
        try:
            self.core.user_event(name, payload, coalesce, self._now())
        except SerfError as exc:
            raise BackendError(str(exc)) from None
        self.metrics.inc("serf_user_events_sent_total")
        self._pump()

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
        """Start a query and return its acks and responses as they arrive."""
        try:
            params = QueryParams(
                filter_nodes=tuple(filter_nodes),
                filter_tags=dict(filter_tags),
                request_ack=request_ack,
                relay_factor=relay_factor,
                timeout=timeout,
            )
            qid = self.core.query(name, payload, params, self._now())
        except (SerfError, ValueError) as exc:
            raise BackendError(str(exc)) from None
        queue: asyncio.Queue[QueryRecord | None] = asyncio.Queue()
        self._queries[qid] = queue
        self.metrics.inc("serf_queries_sent_total")
        self._pump()
        return _drain(queue)

    async def respond(self, query: Query, payload: bytes) -> None:
        """Answer a query this agent delivered."""
        try:
            self.core.respond(query, payload, self._now())
        except SerfError as exc:
            raise BackendError(str(exc)) from None
        self._pump()

    async def _handler_respond(self, query: Query, payload: bytes) -> None:
        """A handler's answer; Go words a too-large one as a key-query failure."""
        try:
            await self.respond(query, payload)
        except BackendError as exc:
            if "exceeds limit" in str(exc):
                raise BackendError(f"failed to respond to key query: {exc}") from None
            raise

    async def set_tags(self, tags: dict[str, str]) -> None:
        """Replace the tags, persisting the tags file first (as Go does)."""
        if self.config.tags_file:
            try:
                write_tags(self.config.tags_file, tags)
            except OSError as exc:
                message = f"Failed to write tags file: {exc}"
                logger.error(message)
                raise BackendError(message) from None
        try:
            self.core.set_tags(tags, self._now())
        except SerfError as exc:
            raise BackendError(str(exc)) from None
        self._pump()

    async def _key_op(self, kind: str, key: bytes | None) -> KeyOpCompleted:
        core = self.core
        now = self._now()
        try:
            if kind == "install":
                logger.info("Initiating key installation")
                op = core.install_key(key or b"", now)
            elif kind == "use":
                logger.info("Initiating primary key change")
                op = core.use_key(key or b"", now)
            elif kind == "remove":
                logger.info("Initiating key removal")
                op = core.remove_key(key or b"", now)
            else:
                logger.info("Initiating key listing")
                op = core.list_keys(now)
        except SerfError as exc:
            raise BackendError(str(exc)) from None
        result: KeyOpCompleted = await self._operation(op)
        return result

    async def install_key(self, key: bytes) -> KeyOpCompleted:
        """Install ``key`` cluster-wide."""
        return await self._key_op("install", key)

    async def use_key(self, key: bytes) -> KeyOpCompleted:
        """Make ``key`` primary cluster-wide."""
        return await self._key_op("use", key)

    async def remove_key(self, key: bytes) -> KeyOpCompleted:
        """Remove ``key`` cluster-wide."""
        return await self._key_op("remove", key)

    async def list_keys(self) -> KeyOpCompleted:
        """List the keys of every node."""
        return await self._key_op("list", None)

    # ------------------------------------------------------------------ subscriptions

    def subscribe_events(self, listener: EventListener) -> Unsubscribe:
        """Call ``listener`` for every delivered event from now on."""
        key = self._next_listener
        self._next_listener += 1
        self._listeners[key] = listener
        return lambda: self._listeners.pop(key, None) and None

    def subscribe_logs(self, listener: LogListener) -> tuple[list[str], Unsubscribe]:
        """Register ``listener`` for new log lines; returns the recent lines too."""
        if self.logs is None:
            return [], lambda: None
        tap = self.logs.tap
        recent = tap.recent_lines()
        unsubscribe = tap.subscribe("TRACE", listener, replay=False)
        return recent, unsubscribe

    # ------------------------------------------------------------------ reload

    def update_handlers(self, handlers: list[HandlerSpec]) -> None:
        """Use a new handler list (SIGHUP); ``serf info`` keeps listing the start-up ones."""
        self._handler_specs = list(handlers)
        if self._runner is not None:
            self._runner.update_specs(handlers)

    # ------------------------------------------------------------------ rejoin (rejoin_failed)

    async def _rejoin(self, alive: list[PreviousNode], failed: list[PreviousNode]) -> None:
        """Rejoin previously alive members one at a time, then previously failed ones."""
        me = self.config.node_name
        candidates = [p for p in alive if p.name != me]
        random.shuffle(candidates)
        tail = list(failed)
        random.shuffle(tail)
        for index, previous in enumerate([*candidates, *tail]):
            if index == len(candidates) and tail:
                logger.info("No previously alive node answered; trying previously failed nodes")
            try:
                addr = parse_address(previous.addr)
            except ValueError:
                logger.warning("Failed to parse previous node address %s", previous)
                continue
            logger.info("Attempting re-join to previously known node: %s", previous)
            try:
                op = self.core.join([addr], self._now(), ignore_old=True)
            except SerfError:
                return
            result: JoinCompleted = await self._operation(op)
            if result.joined > 0:
                logger.info("Re-joined to previously known node: %s", previous)
                return
        if candidates or tail:
            logger.warning("Failed to re-join any previously known node")

    def _collect_metrics(self, metrics: Metrics) -> None:
        """Mirror the counters the core keeps into the metrics registry (before a scrape)."""
        core = self._core
        if core is not None:
            mirror_core_stats(metrics, core.memberlist.stats, core.dropped)


async def _drain(queue: asyncio.Queue[QueryRecord | None]) -> AsyncIterator[QueryRecord]:
    while True:
        item = await queue.get()
        if item is None:
            return
        yield item


def _listen_parts(address: str, default_port: int) -> tuple[str, int]:
    try:
        host, port = split_host_port(address)
    except ValueError:
        return address.strip("[]"), default_port
    return host, int(port) if port else default_port


def _bind_error(exc: OSError) -> str:
    """Go's ``bind: address already in use`` style text for a failed bind."""
    if exc.errno is not None:
        text = os.strerror(exc.errno)
        return f"bind: {text[0].lower()}{text[1:]}"
    return str(exc)
