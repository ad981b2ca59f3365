"""A blocking client for the Serf agent's msgpack RPC protocol (what ``serf`` commands use).

Wire format (see the agent's RPC reference): every request is a msgpack header
``{"Command": str, "Seq": int}`` optionally followed by a body map; every reply is a header
``{"Seq": int, "Error": str}`` optionally followed by a body. Streams (``stream``, ``monitor``,
``query``) keep sending header+record pairs under the Seq of the request that opened them, so
the reader demultiplexes by Seq and queues records of other open streams while it waits.

The client behaves as Go's ``client.RPCClient``: it dials with a 10 s timeout, handshakes
(``Version: 1``) with Seq 1, authenticates when a token is given, and reports an agent that
hangs up (or sends something undecodable) as ``client closed``. It only needs ``socket`` and
``msgpack``, so commands start fast.
"""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Iterator, Mapping, Sequence

import msgpack

from serf_cli.dial import dial

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: ``-rpc-addr`` default when ``SERF_RPC_ADDR`` is unset or empty.
DEFAULT_RPC_ADDR = "127.0.0.1:7373"
#: Go client's dial and write timeout, seconds.
DEFAULT_TIMEOUT = 10.0
#: The IPC version the agent speaks.
IPC_VERSION = 1

#: Replies that never carry a body, whatever the command.
_BODYLESS_ERRORS = frozenset(
    {"Authentication required", "Handshake required", "Unsupported command"}
)


def default_rpc_addr() -> str:
    """``$SERF_RPC_ADDR`` or ``127.0.0.1:7373``."""
    return os.environ.get("SERF_RPC_ADDR") or DEFAULT_RPC_ADDR


def default_rpc_auth() -> str:
    """``$SERF_RPC_AUTH`` or empty."""
    return os.environ.get("SERF_RPC_AUTH", "")


class RPCError(Exception):
    """The agent answered with a non-empty ``Error``; ``str()`` is that text."""


class ClientClosedError(RPCError):
    """The connection ended (or sent garbage) before the reply; Go says ``client closed``."""

    def __init__(self) -> None:
        super().__init__("client closed")


class _Record:
    """A plain value object: equal when all its fields are (kept light: no dataclasses)."""

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(repr(getattr(self, f)) for f in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Member(_Record):
    """One member record as the agent reports it (``addr`` is the raw IP, 4 or 16 bytes)."""

    __slots__ = (
        "addr",
        "delegate_cur",
        "delegate_max",
        "delegate_min",
        "name",
        "port",
        "protocol_cur",
        "protocol_max",
        "protocol_min",
        "status",
        "tags",
    )

    def __init__(
        self,
        name: str,
        addr: bytes,
        port: int,
        tags: dict[str, str],
        status: str,
        protocol_min: int,
        protocol_max: int,
        protocol_cur: int,
        delegate_min: int,
        delegate_max: int,
        delegate_cur: int,
    ) -> None:
        self.name = name
        self.addr = addr
        self.port = port
        self.tags = tags
        self.status = status
        self.protocol_min = protocol_min
        self.protocol_max = protocol_max
        self.protocol_cur = protocol_cur
        self.delegate_min = delegate_min
        self.delegate_max = delegate_max
        self.delegate_cur = delegate_cur

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> Member:
        """Build from a decoded ``Member`` map, tolerating missing keys as Go's zero values."""
        addr = rec.get("Addr") or b""
        return cls(
            name=str(rec.get("Name", "")),
            addr=bytes(addr) if isinstance(addr, bytes | bytearray) else str(addr).encode(),
            port=int(rec.get("Port", 0)),
            tags={str(k): str(v) for k, v in (rec.get("Tags") or {}).items()},
            status=str(rec.get("Status", "")),
            protocol_min=int(rec.get("ProtocolMin", 0)),
            protocol_max=int(rec.get("ProtocolMax", 0)),
            protocol_cur=int(rec.get("ProtocolCur", 0)),
            delegate_min=int(rec.get("DelegateMin", 0)),
            delegate_max=int(rec.get("DelegateMax", 0)),
            delegate_cur=int(rec.get("DelegateCur", 0)),
        )


class KeyResponse(_Record):
    """Reply body of the key commands; ``error`` is the header's error text ("" = success)."""

    __slots__ = ("error", "keys", "messages", "num_err", "num_nodes", "num_resp")

    def __init__(
        self,
        error: str,
        messages: dict[str, str],
        keys: dict[str, int],
        num_nodes: int,
        num_err: int,
        num_resp: int,
    ) -> None:
        self.error = error
        self.messages = messages
        self.keys = keys
        self.num_nodes = num_nodes
        self.num_err = num_err
        self.num_resp = num_resp


class Coordinate(_Record):
    """A Vivaldi network coordinate (seconds)."""

    __slots__ = ("adjustment", "error", "height", "vec")

    def __init__(self, vec: list[float], error: float, adjustment: float, height: float) -> None:
        self.vec = vec
        self.error = error
        self.adjustment = adjustment
        self.height = height


class QueryRecord(_Record):
    """One query stream record: ``kind`` is ``ack`` or ``response``."""

    __slots__ = ("kind", "payload", "sender")

    def __init__(self, kind: str, sender: str, payload: bytes) -> None:
        self.kind = kind
        self.sender = sender
        self.payload = payload


class RPCClient:
    """One connection to an agent. Use :meth:`connect`; close with :meth:`close` or ``with``."""

    def __init__(self, sock: socket.socket, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._sock = sock
        self._timeout = timeout
        self._unpacker = msgpack.Unpacker(raw=False, unicode_errors="surrogateescape")
        self._seq = 0
        self._streams: dict[int, deque[dict[str, Any]]] = {}
        self._closed = False

    @classmethod
    def connect(cls, addr: str, auth: str = "", timeout: float = DEFAULT_TIMEOUT) -> RPCClient:
        """Dial ``addr``, handshake and (if ``auth``) authenticate; raise on any failure."""
        client = cls(dial(addr, timeout), timeout)
        try:
            client.call("handshake", {"Version": IPC_VERSION})
            if auth:
                client.call("auth", {"AuthKey": auth})
        except BaseException:
            client.close()
            raise
        return client

    def __enter__(self) -> RPCClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if not self._closed:
            self._closed = True
            self._sock.close()

    # -- framing -------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _send(self, command: str, seq: int, body: Mapping[str, Any] | None) -> None:
        if self._closed:
            raise ClientClosedError
        data = msgpack.packb({"Command": command, "Seq": seq}, use_bin_type=True)
        if body is not None:
            data += msgpack.packb(body, use_bin_type=True)
        try:
            self._sock.settimeout(self._timeout)
            self._sock.sendall(data)
        except OSError:
            self.close()
            raise ClientClosedError from None

    def _read_object(self) -> Any:
        """Block until one whole msgpack object has arrived; raise ``ClientClosedError`` at EOF."""
        while True:
            try:
                return next(self._unpacker)
            except StopIteration:
                pass
            except (ValueError, msgpack.UnpackException):
                self.close()
                raise ClientClosedError from None
            if self._closed:
                raise ClientClosedError
            try:
                self._sock.settimeout(None)
                chunk = self._sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                raise ClientClosedError
            self._unpacker.feed(chunk)

    def _read_header(self) -> tuple[int, str]:
        header = self._read_object()
        if isinstance(header, Mapping):
            seq, error = header.get("Seq", 0), header.get("Error", "")
        elif isinstance(header, list | tuple) and len(header) == 2:
            seq, error = header  # a struct sent as an array: fields in order (Seq, Error)
        else:
            self.close()
            raise ClientClosedError
        if not isinstance(seq, int) or not isinstance(error, str):
            self.close()
            raise ClientClosedError
        return seq, error

    def _await_reply(self, seq: int) -> str:
        """Read until the header for ``seq``; queue records of open streams met on the way."""
        while True:
            got, error = self._read_header()
            if got == seq:
                return error
            stream = self._streams.get(got)
            if stream is not None and not error:
                record = self._read_object()
                stream.append(record if isinstance(record, dict) else {})

    def call(
        self, command: str, body: Mapping[str, Any] | None = None, *, reply_body: bool = False
    ) -> Any:
        """Send one request and wait for its reply; return the reply body (or ``None``).

        Raises :class:`RPCError` with the agent's text when ``Error`` is set. For commands whose
        reply body is sent even on error (``join``, key operations) use :meth:`call_with_body`.
        """
        error, result = self.call_with_body(command, body, reply_body=reply_body)
        if error:
            raise RPCError(error)
        return result

    def call_with_body(
        self, command: str, body: Mapping[str, Any] | None = None, *, reply_body: bool = True
    ) -> tuple[str, Any]:
        """Send one request; return ``(error text, reply body)`` without raising on ``Error``."""
        seq = self._next_seq()
        self._send(command, seq, body)
        error = self._await_reply(seq)
        result = None
        if reply_body and error not in _BODYLESS_ERRORS:
            result = self._read_object()
        return error, result

    # -- plain commands ------------------------------------------------------------------

    def members(self) -> list[Member]:
        """All members the agent knows (``members``)."""
        body = self.call("members", reply_body=True) or {}
        return [Member.from_record(m) for m in body.get("Members") or []]

    def members_filtered(
        self, tags: Mapping[str, str], status: str = "", name: str = ""
    ) -> list[Member]:
        """Members matching anchored regexes (``members-filtered``)."""
        request = {"Tags": dict(tags), "Status": status, "Name": name}
        body = self.call("members-filtered", request, reply_body=True) or {}
        return [Member.from_record(m) for m in body.get("Members") or []]

    def user_event(self, name: str, payload: bytes | None, coalesce: bool) -> None:
        """Fire a user event (``event``)."""
        self.call("event", {"Name": name, "Payload": payload, "Coalesce": coalesce})

    def force_leave(self, node: str, prune: bool = False) -> None:
        """Force a member into ``left`` (or drop it with ``prune``)."""
        self.call("force-leave", {"Node": node, "Prune": prune})

    def join(self, addrs: Sequence[str], replay: bool) -> tuple[int, str]:
        """Join the given addresses; return (nodes contacted, error text or "")."""
        error, body = self.call_with_body("join", {"Existing": list(addrs), "Replay": replay})
        num = int((body or {}).get("Num", 0)) if isinstance(body, Mapping) else 0
        return num, error

    def leave(self) -> None:
        """Ask the agent to leave gracefully and shut down."""
        self.call("leave")

    def update_tags(self, tags: Mapping[str, str], delete: Sequence[str]) -> None:
        """Set and delete tags of the agent's node (``tags``)."""
        self.call("tags", {"Tags": dict(tags), "DeleteTags": list(delete)})

    def stats(self) -> dict[str, dict[str, str]]:
        """The agent's ``stats`` map of maps."""
        body = self.call("stats", reply_body=True) or {}
        return {
            str(section): {str(k): str(v) for k, v in (values or {}).items()}
            for section, values in body.items()
        }

    def get_coordinate(self, node: str) -> Coordinate | None:
        """The network coordinate of ``node``, or ``None`` when the agent has none."""
        body = self.call("get-coordinate", {"Node": node}, reply_body=True) or {}
        if not body.get("Ok"):
            return None
        coord = body.get("Coord") or {}
        return Coordinate(
            vec=[float(v) for v in coord.get("Vec") or []],
            error=float(coord.get("Error", 0.0)),
            adjustment=float(coord.get("Adjustment", 0.0)),
            height=float(coord.get("Height", 0.0)),
        )

    def key_operation(self, command: str, key: str | None = None) -> KeyResponse:
        """Run ``install-key``/``use-key``/``remove-key`` (with ``key``) or ``list-keys``."""
        body_in = None if key is None else {"Key": key}
        error, body = self.call_with_body(command, body_in)
        if error == "Authentication required":
            raise RPCError(error)
        body = body if isinstance(body, Mapping) else {}
        return KeyResponse(
            error=error,
            messages={str(k): str(v) for k, v in (body.get("Messages") or {}).items()},
            keys={str(k): int(v) for k, v in (body.get("Keys") or {}).items()},
            num_nodes=int(body.get("NumNodes", 0)),
            num_err=int(body.get("NumErr", 0)),
            num_resp=int(body.get("NumResp", 0)),
        )

    # -- streams -------------------------------------------------------------------------

    def _open_stream(self, command: str, body: Mapping[str, Any]) -> int:
        seq = self._next_seq()
        self._streams[seq] = deque()
        self._send(command, seq, body)
        error = self._await_reply(seq)
        if error:
            del self._streams[seq]
            raise RPCError(error)
        return seq

    def stream(self, event_filter: str) -> int:
        """Open an event stream; return its handle (the Seq) for :meth:`next_record`."""
        return self._open_stream("stream", {"Type": event_filter})

    def monitor(self, log_level: str) -> int:
        """Open a log monitor; return its handle (the Seq) for :meth:`next_record`."""
        return self._open_stream("monitor", {"LogLevel": log_level})

    def next_record(self) -> tuple[int, dict[str, Any]]:
        """Block for the next record of any open stream; return (handle, record)."""
        for seq, queued in self._streams.items():
            if queued:
                return seq, queued.popleft()
        while True:
            seq, error = self._read_header()
            if seq in self._streams and not error:
                record = self._read_object()
                return seq, record if isinstance(record, dict) else {}

    def query(
        self,
        name: str,
        payload: bytes | None = None,
        *,
        filter_nodes: Sequence[str] | None = None,
        filter_tags: Mapping[str, str] | None = None,
        request_ack: bool = True,
        relay_factor: int = 0,
        timeout_ns: int = 0,
    ) -> Iterator[QueryRecord]:
        """Start a query; the returned iterator yields acks and responses as they arrive.

        Raises :class:`RPCError` at once when the agent refuses the query. The iterator ends
        after the agent's ``done`` record (the query's deadline).
        """
        request = {
            "FilterNodes": list(filter_nodes) if filter_nodes is not None else None,
            "FilterTags": dict(filter_tags) if filter_tags is not None else None,
            "RequestAck": request_ack,
            "RelayFactor": relay_factor,
            "Timeout": timeout_ns,
            "Name": name,
            "Payload": payload,
        }
        seq = self._open_stream("query", request)
        return self._query_records(seq)

    def _query_records(self, seq: int) -> Iterator[QueryRecord]:
        stream = self._streams[seq]
        try:
            while True:
                if stream:
                    record = stream.popleft()
                else:
                    got, error = self._read_header()
                    if got != seq or error:
                        continue
                    raw = self._read_object()
                    record = raw if isinstance(raw, dict) else {}
                kind = str(record.get("Type", ""))
                payload = record.get("Payload") or b""
                if isinstance(payload, str):
                    payload = payload.encode("utf-8", "surrogateescape")
                if kind == "done":
                    return
                yield QueryRecord(kind, str(record.get("From", "")), bytes(payload))
        finally:
            self._streams.pop(seq, None)

    def stop(self, handle: int) -> None:
        """End a stream or monitor (``stop``)."""
        self._streams.pop(handle, None)
        self.call("stop", {"Stop": handle})
