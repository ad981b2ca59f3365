"""An in-memory ``AgentBackend`` for the RPC/HTTP server tests: it behaves, it does not network.

Members live in a dict; operations record what they were asked and change that state the way
the agent would (``force_leave`` marks a failed member left, ``set_tags`` updates the local
member and emits a ``member-update``, ``user_event`` delivers the event to subscribers first).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

import msgpack
from serf_agent.backend import (
    AgentEvent,
    BackendError,
    EventListener,
    LogListener,
    QueryRecord,
    Unsubscribe,
)
from serf_agent.metrics import Metrics
from serf_agent.rpc import start_rpc_server
from serf_proto.events import (
    KeyOpCompleted,
    MemberEvent,
    MemberEventType,
    Query,
    QueryAck,
    QueryResponse,
    UserEvent,
)
from serf_proto.types import Address, Member, MemberStatus

USER_EVENT_LIMIT = 512


@dataclass(frozen=True)
class FakeCoordinate:
    vec: tuple[float, ...]
    error: float
    adjustment: float
    height: float


@dataclass
class FakeBackend:
    """A three-node cluster seen from ``n1``; every call is recorded in ``calls``."""

    name: str = "n1"
    members_by_name: dict[str, Member] = field(default_factory=dict)
    calls: list[tuple[object, ...]] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=lambda: [b"k" * 16])
    reachable: set[str] = field(default_factory=lambda: {"127.0.0.1:7947"})
    query_records: list[QueryRecord] = field(default_factory=list)
    responses: dict[int, bytes] = field(default_factory=dict)
    log_lines: list[str] = field(default_factory=list)
    metrics_registry: Metrics = field(default_factory=Metrics)
    shut_down: asyncio.Event = field(default_factory=asyncio.Event)
    _event_listeners: list[EventListener] = field(default_factory=list)
    _log_listeners: list[LogListener] = field(default_factory=list)
    _ltime: int = 0

    @classmethod
    def cluster(cls) -> FakeBackend:
        backend = cls()
        for i, (name, tags) in enumerate(
            [
                ("n1", {"role": "web", "dc": "east"}),
                ("n2", {"role": "db", "dc": "west"}),
                ("n3", {"role": "cache"}),
            ]
        ):
            backend.members_by_name[name] = Member(
                name, Address("127.0.0.1", 7946 + i), tags, MemberStatus.ALIVE, (1, 5, 2), (2, 5, 5)
            )
        return backend

    # -- AgentBackend -------------------------------------------------------------------------

    @property
    def metrics(self) -> Metrics:
        return self.metrics_registry

    def members(self) -> list[Member]:
        return list(self.members_by_name.values())

    def local_member(self) -> Member:
        return self.members_by_name[self.name]

    def stats(self) -> dict[str, dict[str, str]]:
        members = self.members()
        return {
            "agent": {"name": self.name},
            "runtime": {
                "os": "linux",
                "arch": "amd64",
                "version": "python3",
                "max_procs": "2",
                "goroutines": "3",
                "cpu_count": "2",
            },
            "serf": {
                "members": str(len(members)),
                "failed": "0",
                "left": "0",
                "health_score": "0",
                "member_time": "4",
                "event_time": str(self._ltime),
                "query_time": "1",
                "intent_queue": "0",
                "event_queue": "0",
                "query_queue": "0",
                "encrypted": "false",
                "coordinate_resets": "0",
            },
            "tags": dict(self.local_member().tags),
            "event_handlers": {},
        }

    def get_coordinate(self, node: str) -> FakeCoordinate | None:
        if node not in self.members_by_name:
            return None
        return FakeCoordinate((0.001,) * 8, 0.5, 0.0001, 0.00001)

    async def join(self, addrs: list[str], replay: bool) -> int:
        self.calls.append(("join", tuple(addrs), replay))
        ok = [a for a in addrs if a in self.reachable]
        if not ok:
            lines = "".join(
                f"\t* Failed to join {a.rsplit(':', 1)[0]}: dial tcp {a}: connect: connection refused\n"
                for a in addrs
            )
            n = len(addrs)
            raise BackendError(f"{n} error{'s' if n != 1 else ''} occurred:\n{lines}\n")
        return len(ok)

    async def leave(self) -> None:
        self.calls.append(("leave",))
        local = self.local_member()
        self.members_by_name[self.name] = replace(local, status=MemberStatus.LEFT)

    async def shutdown(self) -> None:
        self.calls.append(("shutdown",))
        self.shut_down.set()

    async def force_leave(self, node: str, prune: bool) -> None:
        self.calls.append(("force-leave", node, prune))
        member = self.members_by_name.get(node)
        if member is None or member.status is not MemberStatus.FAILED:
            return
        if prune:
            del self.members_by_name[node]
        else:
            self.members_by_name[node] = replace(member, status=MemberStatus.LEFT)

    async def user_event(self, name: str, payload: bytes, coalesce: bool) -> None:
        if len(name) + len(payload) > USER_EVENT_LIMIT:
            raise BackendError(
                f"user event exceeds configured limit of {USER_EVENT_LIMIT} bytes before encoding"
            )
        self.calls.append(("event", name, payload, coalesce))
        self._ltime += 1
        self.emit(UserEvent(self._ltime, name, payload, coalesce))

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
        if len(name) + len(payload) > 1024:
            raise BackendError("query exceeds limit of 1024 bytes")
        self.calls.append(
            (
                "query",
                name,
                payload,
                tuple(filter_nodes),
                dict(filter_tags),
                request_ack,
                relay_factor,
                timeout,
            )
        )
        records = [
            r
            for r in self.query_records
            if (not filter_nodes or r.node in filter_nodes)
            and (request_ack or not isinstance(r, QueryAck))
        ]
        return _replay(records, timeout or 0.05)

    async def respond(self, query: Query, payload: bytes) -> None:
        if len(payload) > 1024:
            raise BackendError("response exceeds limit of 1024 bytes")
        if query.id in self.responses:
            raise BackendError("response already sent")
        self.responses[query.id] = payload

    async def set_tags(self, tags: dict[str, str]) -> None:
        self.calls.append(("tags", dict(tags)))
        member = replace(self.local_member(), tags=dict(tags))
        self.members_by_name[self.name] = member
        self.emit(MemberEvent(MemberEventType.UPDATE, (member,)))

    async def install_key(self, key: bytes) -> KeyOpCompleted:
        if key not in self.keys:
            self.keys.append(key)
        return self._key_result("install")

    async def use_key(self, key: bytes) -> KeyOpCompleted:
        if key not in self.keys:
            return self._key_result("use", "Requested key is not in the keyring")
        self.keys.remove(key)
        self.keys.insert(0, key)
        return self._key_result("use")

    async def remove_key(self, key: bytes) -> KeyOpCompleted:
        if key == self.keys[0]:
            return self._key_result("remove", "Removing the primary key is not allowed")
        if key in self.keys:
            self.keys.remove(key)
        return self._key_result("remove")

    async def list_keys(self) -> KeyOpCompleted:
        n = len(self.members_by_name)
        return replace(
            self._key_result("list"),
            keys={base64.b64encode(k).decode(): n for k in self.keys},
        )

    def _key_result(self, kind: str, failure: str | None = None) -> KeyOpCompleted:
        n = len(self.members_by_name)
        messages = {name: failure for name in self.members_by_name} if failure else {}
        return KeyOpCompleted(0, kind, n, n, n if failure else 0, messages)

    def subscribe_events(self, listener: EventListener) -> Unsubscribe:
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    def subscribe_logs(self, listener: LogListener) -> tuple[list[str], Unsubscribe]:
        self._log_listeners.append(listener)
        return list(self.log_lines[-512:]), lambda: self._log_listeners.remove(listener)

    # -- test helpers -------------------------------------------------------------------------

    def emit(self, event: AgentEvent) -> None:
        for listener in list(self._event_listeners):
            listener(event)

    def log(self, line: str) -> None:
        self.log_lines.append(line)
        for listener in list(self._log_listeners):
            listener(line)

    @property
    def subscriber_count(self) -> int:
        return len(self._event_listeners)

    def query_event(self, name: str, payload: bytes, deadline: float, qid: int = 7) -> Query:
        return Query(1, qid, name, payload, "n2", Address("127.0.0.1", 7947), deadline)


async def _replay(records: list[QueryRecord], timeout: float) -> AsyncIterator[QueryRecord]:
    for record in records:
        yield record
    await asyncio.sleep(timeout)


def response(node: str, payload: bytes) -> QueryResponse:
    return QueryResponse(0, node, payload)


class RawClient:
    """A bare msgpack client for driving the server byte by byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.unpacker = msgpack.Unpacker(raw=False)

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, *objs: object) -> None:
        for obj in objs:
            self.writer.write(msgpack.packb(obj, use_bin_type=True))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, timeout: float = 5.0) -> object:
        """The next object; raises ``EOFError`` if the server closed the connection."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    return self.unpacker.unpack()
                except msgpack.OutOfData:
                    data = await self.reader.read(65536)
                    if not data:
                        raise EOFError from None
                    self.unpacker.feed(data)

    async def handshake(self, seq: int = 0) -> None:
        await self.send({"Command": "handshake", "Seq": seq}, {"Version": 1})
        assert await self.recv() == {"Error": "", "Seq": seq}

    async def closed_by_server(self, timeout: float = 5.0) -> bool:
        try:
            await self.recv(timeout)
        except (EOFError, ConnectionError):
            return True
        return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(
    backend: FakeBackend | None = None, auth_key: str | None = None
) -> AsyncIterator[tuple[FakeBackend, int]]:
    """Run an RPC server for ``backend`` on a free loopback port."""
    backend = backend or FakeBackend.cluster()
    server = await start_rpc_server(backend, "127.0.0.1", 0, auth_key=auth_key)
    try:
        yield backend, server.address[1]
    finally:
        server.close()
        await server.wait_closed()


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds (deadline ``timeout`` seconds)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)
