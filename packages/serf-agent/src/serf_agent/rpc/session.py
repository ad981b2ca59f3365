"""The sans-IO state machine of one RPC (IPC) connection, compatible with Go Serf's agent.

Theory of operation
-------------------
A client sends a continuous stream of msgpack objects: a request *header*
``{"Command", "Seq"}`` followed, for commands that take one, by a *body* map. The agent
answers with a header ``{"Seq", "Error"}`` and, for some commands, a body. There is no
framing besides msgpack itself, so the session feeds bytes into a streaming
``msgpack.Unpacker`` (``receive_data``) and pulls one decoded object at a time.

``next_event(now)`` advances the machine by exactly one request and returns what the binding
has to do:

* ``NEED_DATA``: nothing complete is buffered; read more bytes.
* ``Reply(data)``: write these bytes (the session answered on its own: handshake, auth,
  stream, stop, respond with an unknown ID, refused commands...).
* ``CloseConnection(data, reason)``: write ``data`` (possibly empty), log ``reason`` and close.
  Go closes after ``Handshake required``, ``Unsupported command``, any decode failure and an
  invalid regex in ``members-filtered``.
* ``StartMonitor`` / ``StopMonitor``: subscribe to or drop the agent's log lines.
* a request dataclass (``EventRequest`` ...): the binding performs it against the
  ``AgentBackend`` and encodes the answer with the ``reply_*`` methods.

Requests are handled strictly one after another, as Go's per-connection goroutine does: the
binding calls ``next_event`` again only after it has answered the previous request.

Go quirks kept on purpose (docs/rpc.md §6): the header struct is reused, so missing or
miscased header keys keep the previous values; before ``auth`` a request's body is *not*
consumed and gets decoded as the next header (the same request is refused twice); a body for
a body-less command is read as the next header.

Streams, monitors and query IDs are per-connection state kept here: ``event_records`` turns
an agent event into the frames for every matching stream (and registers query IDs for
``respond``), ``log_record`` filters one log line for the monitor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack
from serf_proto import (
    GoRegexError,
    KeyOpCompleted,
    Member,
    MemberEvent,
    Query,
    QueryAck,
    QueryResponse,
    UserEvent,
)
from serf_proto.gocompat import Base64Error, decode_base64

from serf_agent.backend import AgentEvent, CoordinateView
from serf_agent.rpc.decode import Field, FieldError, Kind, decode_struct
from serf_agent.rpc.gocompat import compile_anchored
from serf_agent.rpc.records import (
    LOG_LEVELS,
    EventFilter,
    header,
    log_level_of,
    member_record,
    nil_if_empty,
    pack,
)
from serf_agent.rpc.requests import (
    NEED_DATA,
    CloseConnection,
    CoordinateRequest,
    EventRequest,
    ForceLeaveRequest,
    JoinRequest,
    KeyRequest,
    LeaveRequest,
    MemberFilter,
    MembersRequest,
    NeedData,
    QueryRequest,
    Reply,
    Request,
    RespondRequest,
    SessionEvent,
    StartMonitor,
    StatsRequest,
    StopMonitor,
    TagsRequest,
)

__all__ = [
    "AUTH_REQUIRED",
    "COMMANDS",
    "NEED_DATA",
    "CloseConnection",
    "CoordinateRequest",
    "EventRequest",
    "ForceLeaveRequest",
    "JoinRequest",
    "KeyRequest",
    "LeaveRequest",
    "MemberFilter",
    "MembersRequest",
    "NeedData",
    "QueryRequest",
    "Reply",
    "Request",
    "RespondRequest",
    "RpcSession",
    "SessionEvent",
    "StartMonitor",
    "StatsRequest",
    "StopMonitor",
    "TagsRequest",
]

IPC_VERSION = 1
#: Largest buffered, still incomplete request (bytes); longer objects close the connection.
MAX_REQUEST_BYTES = 1 << 20
INTERNAL_QUERY_PREFIX = "_serf_"
RESPOND_ERROR_PREFIX = "failed to respond to key query: "

HANDSHAKE_REQUIRED = "Handshake required"
UNSUPPORTED_IPC_VERSION = "Unsupported IPC version"
DUPLICATE_HANDSHAKE = "Handshake already performed"
AUTH_REQUIRED = "Authentication required"
INVALID_AUTH_TOKEN = "Invalid authentication token"
UNSUPPORTED_COMMAND = "Unsupported command"
INVALID_FILTER = "Invalid event filter"
STREAM_EXISTS = "Stream with given sequence exists"
MONITOR_EXISTS = "Monitor already exists"
INVALID_QUERY_ID = "No pending queries matching ID"
INTERNAL_PREFIX_REFUSED = "Queries cannot contain the '_serf_' prefix"

F = Field
_HEADER = (F("Command", Kind.STR), F("Seq", Kind.UINT64))
_BODIES: dict[str, tuple[Field, ...]] = {
    "handshake": (F("Version", Kind.INT32),),
    "auth": (F("AuthKey", Kind.STR),),
    "event": (F("Name", Kind.STR), F("Payload", Kind.BYTES), F("Coalesce", Kind.BOOL)),
    "force-leave": (F("Node", Kind.STR), F("Prune", Kind.BOOL)),
    "join": (F("Existing", Kind.STR_LIST), F("Replay", Kind.BOOL)),
    "members-filtered": (F("Tags", Kind.STR_MAP), F("Status", Kind.STR), F("Name", Kind.STR)),
    "tags": (F("Tags", Kind.STR_MAP), F("DeleteTags", Kind.STR_LIST)),
    "stream": (F("Type", Kind.STR),),
    "monitor": (F("LogLevel", Kind.STR),),
    "stop": (F("Stop", Kind.UINT64),),
    "query": (
        F("FilterNodes", Kind.STR_LIST),
        F("FilterTags", Kind.STR_MAP),
        F("RequestAck", Kind.BOOL),
        F("RelayFactor", Kind.UINT8),
        F("Timeout", Kind.INT64),
        F("Name", Kind.STR),
        F("Payload", Kind.BYTES),
    ),
    "respond": (F("ID", Kind.UINT64), F("Payload", Kind.BYTES)),
    "install-key": (F("Key", Kind.STR),),
    "use-key": (F("Key", Kind.STR),),
    "remove-key": (F("Key", Kind.STR),),
    "get-coordinate": (F("Node", Kind.STR),),
}
_BODILESS = frozenset({"members", "leave", "list-keys", "stats"})
COMMANDS = frozenset(_BODIES) | _BODILESS


class RpcSession:
    """One client connection's protocol state. See the module docstring.

    ``auth_key``: the agent's ``rpc_auth`` (``""``/None = none). ``max_request_bytes`` bounds
    the buffered, incomplete request; a larger one closes the connection.
    """

    def __init__(
        self, *, auth_key: str | None = None, max_request_bytes: int = MAX_REQUEST_BYTES
    ) -> None:
        self._auth_key = auth_key or ""
        self._max_request_bytes = max_request_bytes
        self._unpacker = msgpack.Unpacker(
            raw=False, max_buffer_size=max_request_bytes, strict_map_key=True
        )
        self._header: dict[str, Any] = {"Command": "", "Seq": 0}
        self._body_for: tuple[str, int] | None = None  # (command, seq) awaiting its body
        self._version = 0
        self._did_auth = False
        self._broken: str | None = None  # undecodable input: nothing more can be read
        self._ended: str | None = None  # EOF or overflow: buffered requests still count
        self._closed = False
        self.streams: dict[int, list[EventFilter]] = {}
        self.monitor: tuple[int, frozenset[str]] | None = None  # seq, levels to drop
        self._query_id = 0
        self._pending: dict[int, Query] = {}  # per-connection query ID -> query

    @property
    def command(self) -> str:
        """The ``Command`` of the most recent request header."""
        return str(self._header["Command"])

    # -- input ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the socket (``b""`` = EOF, which ``next_event`` reports as close)."""
        if self._ended is not None or self._closed:
            return
        if not data:
            self._ended = "EOF"
            return
        try:
            self._unpacker.feed(data)
        except msgpack.BufferFull:
            self._ended = f"request exceeds {self._max_request_bytes} bytes"

    def next_event(self, now: float) -> SessionEvent:
        """Advance by one request; ``now`` is the loop clock (expires query IDs)."""
        if self._closed:
            return CloseConnection(b"", None)
        if self._body_for is not None:
            command, seq = self._body_for
            got, body = self._next_object()
            if not got:
                return self._need_or_close(f"failed to decode {command} body")
            self._body_for = None
            try:
                fields = decode_struct(body, _BODIES[command])
            except FieldError as exc:
                return self._close(b"", f"decode failed: {exc}")
            return self._dispatch_body(command, seq, fields, now)
        got, obj = self._next_object()
        if not got:
            return self._need_or_close("failed to decode request header")
        try:
            self._header = decode_struct(obj, _HEADER, self._header)
        except FieldError as exc:
            return self._close(b"", f"failed to decode request header: {exc}")
        return self._dispatch_header(self._header["Command"], self._header["Seq"], now)

    def _next_object(self) -> tuple[bool, object]:
        if self._broken is not None:
            return False, None
        try:
            return True, self._unpacker.unpack()
        except msgpack.OutOfData:
            return False, None
        except (ValueError, msgpack.UnpackException, msgpack.StackError) as exc:
            # FormatError, ExtraData, bad UTF-8, limits: the stream cannot be resynchronised.
            self._broken = str(exc) or type(exc).__name__
            return False, None

    def _need_or_close(self, what: str) -> SessionEvent:
        problem = self._broken or self._ended
        if problem is None:
            return NEED_DATA
        if problem == "EOF":
            return self._close(b"", "EOF")
        return self._close(b"", f"{what}: {problem}")

    def _close(self, data: bytes, reason: str) -> CloseConnection:
        """Close; ``reason`` is Go's error text (logged as ``Failed to evaluate request``)."""
        self._closed = True
        if reason == "EOF":
            return CloseConnection(data, None)
        if reason.startswith("failed to decode request header"):
            return CloseConnection(data, reason)
        return CloseConnection(data, f"Failed to evaluate request: {reason}")

    # -- header dispatch (Go's handleRequest) -------------------------------------------------

    def _dispatch_header(self, command: str, seq: int, now: float) -> SessionEvent:
        if command != "handshake" and self._version == 0:
            return self._close(header(seq, HANDSHAKE_REQUIRED), HANDSHAKE_REQUIRED)
        if self._auth_key and not self._did_auth and command not in ("auth", "handshake"):
            # The body (if any) stays in the stream and is read as the next header.
            return Reply(header(seq, AUTH_REQUIRED), "Client sending commands before auth")
        if command not in COMMANDS:
            return self._close(
                header(seq, UNSUPPORTED_COMMAND), f"command '{command}' not recognized"
            )
        if command in _BODILESS:
            return self._bodiless(command, seq)
        self._body_for = (command, seq)
        return self.next_event(now)

    def _bodiless(self, command: str, seq: int) -> SessionEvent:
        if command == "members":
            return MembersRequest(seq, None)
        if command == "leave":
            return LeaveRequest(seq)
        if command == "list-keys":
            return KeyRequest(seq, "list", None)
        return StatsRequest(seq)

    # -- body dispatch (Go's handle* functions) -----------------------------------------------

    def _dispatch_body(
        self, command: str, seq: int, body: dict[str, Any], now: float
    ) -> SessionEvent:
        if command == "handshake":
            return Reply(header(seq, self._handshake(body["Version"])))
        if command == "auth":
            if body["AuthKey"] == self._auth_key:
                self._did_auth = True
                return Reply(header(seq))
            return Reply(header(seq, INVALID_AUTH_TOKEN))
        if command == "event":
            return EventRequest(seq, body["Name"], body["Payload"] or b"", body["Coalesce"])
        if command == "force-leave":
            return ForceLeaveRequest(seq, body["Node"], body["Prune"])
        if command == "join":
            return JoinRequest(seq, body["Existing"] or [], body["Replay"])
        if command == "members-filtered":
            return self._members_filtered(seq, body)
        if command == "tags":
            return TagsRequest(seq, body["Tags"] or {}, body["DeleteTags"] or [])
        if command == "stream":
            return Reply(header(seq, self._stream(seq, body["Type"])))
        if command == "monitor":
            return self._monitor(seq, body["LogLevel"])
        if command == "stop":
            return self._stop(seq, body["Stop"])
        if command == "query":
            return self._query(seq, body)
        if command == "respond":
            return self._respond(seq, body["ID"], body["Payload"] or b"", now)
        if command in ("install-key", "use-key", "remove-key"):
            try:
                key = decode_base64(body["Key"])
            except Base64Error as exc:
                return Reply(self.reply_keys(seq, None, str(exc)))
            return KeyRequest(seq, command.removesuffix("-key"), key)
        return CoordinateRequest(seq, body["Node"])

    def _handshake(self, version: int) -> str:
        if version != IPC_VERSION:
            return UNSUPPORTED_IPC_VERSION
        if self._version != 0:
            return DUPLICATE_HANDSHAKE
        self._version = version
        return ""

    def _members_filtered(self, seq: int, body: dict[str, Any]) -> SessionEvent:
        try:
            tags = {k: compile_anchored(v) for k, v in (body["Tags"] or {}).items()}
            status = compile_anchored(body["Status"]) if body["Status"] else None
            name = compile_anchored(body["Name"]) if body["Name"] else None
        except GoRegexError as exc:
            return self._close(b"", f"Failed to compile regex: {exc}")
        return MembersRequest(seq, MemberFilter(tags, status, name))

    def _stream(self, seq: int, type_list: str) -> str:
        filters = EventFilter.parse_list(type_list)
        if not all(f.valid for f in filters):
            return INVALID_FILTER
        if seq in self.streams:
            return STREAM_EXISTS
        self.streams[seq] = filters
        return ""

    def _monitor(self, seq: int, level: str) -> SessionEvent:
        level = level.upper()
        if level not in LOG_LEVELS:
            return Reply(header(seq, f"Unknown log level: {level}"))
        if self.monitor is not None:
            return Reply(header(seq, MONITOR_EXISTS))
        dropped = frozenset(LOG_LEVELS[: LOG_LEVELS.index(level)])
        self.monitor = (seq, dropped)
        return StartMonitor(seq, header(seq))

    def _stop(self, seq: int, stop: int) -> SessionEvent:
        self.streams.pop(stop, None)
        if self.monitor is not None and self.monitor[0] == stop:
            self.monitor = None
            return StopMonitor(seq, header(seq))
        return Reply(header(seq))

    def _query(self, seq: int, body: dict[str, Any]) -> SessionEvent:
        name: str = body["Name"]
        payload: bytes | None = body["Payload"]
        if name.startswith(INTERNAL_QUERY_PREFIX):
            if name != INTERNAL_QUERY_PREFIX + "ping" or payload is not None:
                return Reply(header(seq, INTERNAL_PREFIX_REFUSED))
        timeout_ns: int = body["Timeout"]
        return QueryRequest(
            seq,
            name,
            payload or b"",
            body["FilterNodes"] or [],
            body["FilterTags"] or {},
            body["RequestAck"],
            body["RelayFactor"],
            timeout_ns / 1e9 if timeout_ns >= 0 else 1e-9,
        )

    def _respond(self, seq: int, query_id: int, payload: bytes, now: float) -> SessionEvent:
        self._expire(now)
        query = self._pending.get(query_id)
        if query is None:
            return Reply(header(seq, INVALID_QUERY_ID))
        return RespondRequest(seq, query, payload)

    def _expire(self, now: float) -> None:
        for qid in [q for q, query in self._pending.items() if query.deadline < now]:
            del self._pending[qid]

    # -- replies for requests the binding performed --------------------------------------------

    def reply(self, seq: int, error: str = "") -> bytes:
        """A header-only reply (event, force-leave, tags, leave, query start, respond)."""
        return header(seq, error)

    def reply_respond(self, seq: int, error: str = "") -> bytes:
        """The ``respond`` reply; a backend reason gets Go's ``failed to respond...`` prefix."""
        if error and not error.startswith(RESPOND_ERROR_PREFIX):
            error = RESPOND_ERROR_PREFIX + error
        return header(seq, error)

    def reply_join(self, seq: int, num: int, error: str = "") -> bytes:
        """Header plus ``{"Num"}``, sent on success and on error alike."""
        return header(seq, error) + pack({"Num": num})

    def reply_members(self, seq: int, members: Sequence[Member], error: str = "") -> bytes:
        return header(seq, error) + pack({"Members": [member_record(m) for m in members]})

    def reply_keys(self, seq: int, result: KeyOpCompleted | None, error: str = "") -> bytes:
        """Key-command reply: the body is always sent; ``Keys`` only for ``list``.

        Without ``error``, Go's summary error is derived from the counts
        (``N/M nodes reported failure`` / ``N/M nodes reported success``).
        """
        if result is None:
            body: dict[str, Any] = {
                "Keys": None,
                "Messages": {},
                "NumErr": 0,
                "NumNodes": 0,
                "NumResp": 0,
            }
        else:
            if not error:
                error = key_summary_error(result)
            body = {
                "Keys": dict(result.keys) if result.kind == "list" else None,
                "Messages": dict(result.messages),
                "NumErr": result.num_err,
                "NumNodes": result.num_nodes,
                "NumResp": result.num_resp,
            }
        return header(seq, error) + pack(body)

    def reply_stats(self, seq: int, stats: dict[str, dict[str, str]], error: str = "") -> bytes:
        return header(seq, error) + pack(stats)

    def reply_coordinate(self, seq: int, coord: CoordinateView | None, error: str = "") -> bytes:
        if coord is None:
            body: dict[str, Any] = {
                "Coord": {"Adjustment": 0.0, "Error": 0.0, "Height": 0.0, "Vec": None},
                "Ok": False,
            }
        else:
            body = {
                "Coord": {
                    "Adjustment": float(coord.adjustment),
                    "Error": float(coord.error),
                    "Height": float(coord.height),
                    "Vec": [float(v) for v in coord.vec],
                },
                "Ok": True,
            }
        return header(seq, error) + pack(body)

    # -- streamed records ----------------------------------------------------------------------

    def query_record(self, seq: int, record: QueryAck | QueryResponse) -> bytes:
        """An ``ack``/``response`` record of the query started under ``seq``."""
        body: dict[str, str | bytes | None]
        if isinstance(record, QueryAck):
            body = {"From": record.node, "Payload": None, "Type": "ack"}
        else:
            body = {"From": record.node, "Payload": record.payload, "Type": "response"}
        return header(seq) + pack(body)

    def query_done(self, seq: int) -> bytes:
        """The final ``done`` record of the query started under ``seq``."""
        return header(seq) + pack({"From": "", "Payload": None, "Type": "done"})

    def event_records(self, event: AgentEvent, now: float) -> list[tuple[int, bytes]]:
        """Frames for every stream of this connection accepting ``event``: ``(seq, bytes)``.

        Each query delivered to a stream gets a fresh per-connection ID (starting at 1) that
        ``respond`` accepts until the query's deadline; internal ``_serf_*`` queries are
        never streamed.
        """
        if isinstance(event, Query) and event.name.startswith(INTERNAL_QUERY_PREFIX):
            return []
        out = []
        for seq, filters in self.streams.items():
            if any(f.accepts(event) for f in filters):
                out.append((seq, header(seq) + pack(self._event_body(event, now))))
        return out

    def _event_body(self, event: AgentEvent, now: float) -> dict[str, Any]:
        if isinstance(event, MemberEvent):
            return {
                "Event": event.type.value,
                "Members": [member_record(m) for m in event.members],
            }
        if isinstance(event, UserEvent):
            return {
                "Coalesce": event.coalesce,
                "Event": "user",
                "LTime": event.ltime,
                "Name": event.name,
                "Payload": nil_if_empty(event.payload),
            }
        self._query_id += 1
        if event.deadline >= now:
            self._expire(now)
            self._pending[self._query_id] = event
        return {
            "Event": "query",
            "ID": self._query_id,
            "LTime": event.ltime,
            "Name": event.name,
            "Payload": nil_if_empty(event.payload),
        }

    def log_record(self, line: str) -> bytes | None:
        """The monitor frame for one log line, or None (no monitor, or level filtered)."""
        if self.monitor is None:
            return None
        seq, dropped = self.monitor
        if log_level_of(line) in dropped:
            return None
        return header(seq) + pack({"Log": line})


def key_summary_error(result: KeyOpCompleted) -> str:
    """Go's ``KeyManager`` error for a finished key operation (``""`` when clean)."""
    if result.num_err:
        return f"{result.num_err}/{result.num_nodes} nodes reported failure"
    if result.num_resp != result.num_nodes:
        return f"{result.num_resp}/{result.num_nodes} nodes reported success"
    return ""
