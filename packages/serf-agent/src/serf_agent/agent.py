"""The ``Agent``: one Serf node on asyncio sockets, with handlers, snapshot, keyring and servers.

The agent is a ``serf_asyncio.SerfNode`` plus the file and process work around it, and answers
the RPC and HTTP servers through the ``AgentBackend`` protocol. Its parts, in the order
``start`` wires them:

* the snapshot file (``snapshot_file``): its text is parsed for the node's recovered clocks and
  members (the node rejoins them itself), then the ``SnapshotAppend`` outputs are written to it;
* the node, built from the agent's settings with ``SerfConfig.build``; its output listener
  (``_on_output``) passes events to the RPC stream listeners, the metrics and the handler
  runner, writes snapshot records and keyring changes, and stops the agent on ``NodeShutdown``;
* the handler runner (``handlers``), which never blocks the node;
* the RPC server, the optional HTTP endpoint and mDNS discovery.

Everything runs on one event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from serf_asyncio import (
    AddressError,
    JoinError,
    KeyOpCompleted,
    KeyringChanged,
    LeaveError,
    MemberEvent,
    NodeShutdown,
    NodeStopped,
    Query,
    RecoveredState,
    SerfNode,
    SnapshotAppend,
    UserEvent,
    parse_snapshot,
)
from serf_proto import Address, Member, SerfError
from serf_proto.gocompat import join_host_port, split_host_port
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
from serf_agent.settings import (
    NetworkSettings,
    interface_addresses,
    node_config,
    resume_incarnation,
)
from serf_agent.snapshot_file import SnapshotFile

logger = logging.getLogger("serf_agent.agent")

#: The RPC server's default port when ``rpc_addr`` has none.
DEFAULT_RPC_PORT = 7373

T = TypeVar("T")


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
        self.metrics = Metrics(labels=config.metric_labels)
        self._handler_specs = list(handlers)
        self._startup_handlers = list(handlers)
        self._state = state
        self._node: SerfNode | None = None
        self._runner: HandlerRunner | None = None
        self._snapshot: SnapshotFile | None = None
        self._listeners: dict[int, EventListener] = {}
        self._next_listener = 0
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
        if self._node is not None and self._node.running:
            return self._node.encrypted()
        return bool(self._state.keys)

    @property
    def node(self) -> SerfNode:
        """The running node (after ``start``)."""
        if self._node is None or not self._node.running:
            raise BackendError("agent is not running")
        return self._node

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T:
        """Run a node command; the node's errors become ``BackendError`` with their text."""
        try:
            return await command()
        except (SerfError, LeaveError, NodeStopped, ValueError) as exc:
            raise BackendError(str(exc)) from None

    def _do(self, command: Callable[[SerfNode], object]) -> None:
        """Run a synchronous node command, translating its errors like :meth:`_call`."""
        try:
            command(self.node)
        except (SerfError, NodeStopped, ValueError) as exc:
            raise BackendError(str(exc)) from None

    # ------------------------------------------------------------------ lifecycle

    def _open_snapshot(self) -> RecoveredState | None:
        if not self.config.snapshot_path:
            return None
        self._snapshot = SnapshotFile(self.config.snapshot_path)
        try:
            text = self._snapshot.open()
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise AgentStartError(
                "Error creating Serf: Failed to setup snapshot: failed to open snapshot: "
                f"open {self.config.snapshot_path}: {reason[:1].lower()}{reason[1:]}"
            ) from None
        return parse_snapshot(text, rejoin_after_leave=self.config.rejoin_after_leave)

    async def start(self) -> None:
        """Open the snapshot, create the node and bind gossip; raises :class:`AgentStartError`."""
        self._stopped = asyncio.Event()
        recovered = self._open_snapshot()
        try:
            serf_config = node_config(self.config, self.network, self._state)
            if (
                recovered is not None
                and recovered.size > 0
                and not self.config.disable_self_healing
            ):
                resumed = resume_incarnation(time.time())
                serf_config = serf_config.replace(
                    memberlist=serf_config.memberlist.replace(initial_incarnation=resumed)
                )
        except (ValueError, SerfError) as exc:
            raise AgentStartError(f"Error creating Serf: {exc}") from None
        logger.info("Serf agent starting")
        node = SerfNode(serf_config, recovered=recovered, leave_on_exit=False)
        node.add_output_listener(self._on_output)
        host, port = self.network.bind_host, self.network.bind_port
        try:
            await node.start()
        except AddressError as exc:
            raise AgentStartError(
                f"Error creating Serf: Failed to create memberlist: {exc}"
            ) from None
        except OSError as exc:
            raise AgentStartError(
                "Error creating Serf: Failed to create memberlist: Could not set up network "
                f'transport: failed to obtain an address: Failed to start TCP listener on "{host}" '
                f"port {port}: "
                f"listen tcp {join_host_port(host, port)}: {_bind_error(exc)}"
            ) from None
        self._node = node
        self.bind_display = join_host_port(host, node.bind_address.port)
        self._runner = HandlerRunner(
            self._handler_specs,
            self._self_info,
            self._handler_respond,
            concurrent=self.config.concurrent_handlers,
            on_result=self._handler_result,
            timeout=self.config.handler_timeout or None,
            member_counts=self._member_counts,
        )
        self.metrics.add_collector(self._collect_metrics)
        for key in ("statsite_addr", "statsd_addr"):
            if getattr(self.config, key):
                logger.warning(
                    "%s is not supported and is ignored; serve metrics with -http-addr", key
                )

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

        local = self.node.local_member().addr
        mdns = self.config.mdns
        try:  # Go 0.10: every address of the mDNS interface, else the address on -iface
            addresses = [self.network.bind_host] if self.config.interface else None
            if mdns.interface:
                addresses = interface_addresses(mdns.interface)
            discovery = MdnsDiscovery(
                self.config.discover,
                self.config.node_name,
                local.host,
                local.port,
                lambda addrs: self.join(addrs, self.config.replay_on_join),
                interface_addresses=addresses,
                disable_ipv4=mdns.disable_ipv4,
                disable_ipv6=mdns.disable_ipv6,
            )
        except ValueError as exc:
            raise AgentStartError(str(exc)) from None
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
        if self._node is not None:
            with contextlib.suppress(Exception):
                await self._node.shutdown()
        if self._runner is not None:
            await self._runner.close()
        for task in list(self._tasks):
            task.cancel()
        if self._snapshot is not None:
            self._snapshot.close()
        logger.info("shutdown complete")
        if self._stopped is not None:
            self._stopped.set()

    # ------------------------------------------------------------------ outputs of the core

    def _on_output(self, out: object) -> None:
        if isinstance(out, SnapshotAppend):
            if self._snapshot is not None:
                self._snapshot.write(out.lines, compact=out.compact)
        elif isinstance(out, KeyringChanged):
            self._keyring_changed(out.keys)
        elif isinstance(out, NodeShutdown):
            logger.warning("Serf shutdown detected, quitting: %s", out.reason)
            self._spawn(self.shutdown())
        elif isinstance(out, MemberEvent | UserEvent | Query):
            self._deliver(out)

    def _deliver(self, event: AgentEvent) -> None:
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
        if self._node is None or not self._node.running:
            return self.config.node_name, dict(self._state.tags)
        return self.config.node_name, self._node.local_member().tags

    def _member_counts(self) -> tuple[int, int]:
        if self._node is None or not self._node.running:
            return 1, 1
        members = self._node.members()
        return sum(1 for m in members if m.status == "alive"), len(members)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ reads (AgentBackend)

    def members(self) -> list[Member]:
        """Every known member."""
        return self.node.members()

    def local_member(self) -> Member:
        """This agent's member record."""
        return self.node.local_member()

    def stats(self) -> dict[str, dict[str, str]]:
        """Go's ``Agent.Stats()`` sections, every value a string."""
        node = self.node
        return {
            "agent": {"name": self.config.node_name, **agent_build_info()},
            "runtime": runtime_section(),
            "serf": node.core.stats(),
            "tags": dict(node.local_member().tags),
            "event_handlers": handlers_info(self._startup_handlers),
        }

    def get_coordinate(self, node: str) -> Coordinate | None:
        """The cached coordinate of ``node`` (ours included), or None."""
        try:
            if node == self.config.node_name:
                return self.node.coordinate()
            return self.node.cached_coordinate(node)
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
            joined = await self._call(lambda: self.node.join(resolved, ignore_old=not replay))
        except JoinError as exc:
            raise BackendError(multierror([*errors, *exc.errors])) from None
        logger.info("joined: %d nodes", joined)
        return joined

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
            await self._call(self.node.leave)
        finally:
            if self._snapshot is not None:
                self._snapshot.sync()

    async def force_leave(self, node: str, prune: bool) -> None:
        """Declare ``node`` left; ``prune`` forgets it."""
        logger.info("Force leaving node: %s", node)
        self._do(lambda n: n.force_leave(node, prune=prune))

    async def user_event(self, name: str, payload: bytes, coalesce: bool) -> None:
        """Fire a user event."""
        logger.debug(
            "Requesting user event send: %s. Coalesced: %s. Payload: %s",
            name,
            "true" if coalesce else "false",
            json.dumps(payload.decode("utf-8", "replace"), ensure_ascii=False),
        )
        self._do(lambda n: n.user_event(name, payload, coalesce=coalesce))
        self.metrics.inc("serf_user_events_sent_total")

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
            handle = self.node.query(
                name,
                payload,
                filter_nodes=filter_nodes,
                filter_tags=filter_tags,
                request_ack=request_ack,
                relay_factor=relay_factor,
                timeout=timeout,
            )
        except (SerfError, ValueError) as exc:
            raise BackendError(str(exc)) from None
        self.metrics.inc("serf_queries_sent_total")
        return aiter(handle)

    async def respond(self, query: Query, payload: bytes) -> None:
        """Answer a query this agent delivered."""
        self._do(lambda n: n.respond(query, payload))

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
        self._do(lambda n: n.set_tags(tags))

    async def _key_op(self, kind: str, key: bytes | None) -> KeyOpCompleted:
        node = self.node
        if kind == "install":
            logger.info("Initiating key installation")
            return await self._call(lambda: node.install_key(key or b""))
        if kind == "use":
            logger.info("Initiating primary key change")
            return await self._call(lambda: node.use_key(key or b""))
        if kind == "remove":
            logger.info("Initiating key removal")
            return await self._call(lambda: node.remove_key(key or b""))
        logger.info("Initiating key listing")
        return await self._call(node.list_keys)

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

    def _collect_metrics(self, metrics: Metrics) -> None:
        """Mirror the node's cumulative counters into the metrics registry (before a scrape)."""
        if self._node is not None and self._node.running:
            mirror_core_stats(metrics, self._node.counters())
            depth = self._node.core.memberlist.queue_depth()
            metrics.set("serf_broadcast_queue_depth", depth, queue="memberlist")


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
