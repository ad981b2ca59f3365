"""Serf messages: the bytes Serf puts inside memberlist user messages and push/pull user state.

A Serf message is one type byte (``SerfMessageType``) and one msgpack map with Go's field names
in byte order; a relay carries a header map and then a whole inner Serf message. Go maps
(``StatusLTimes``, tags) are written in the order of the Python dict, so a decoded message
re-encodes to the same bytes.

Nil versus empty follows Go Serf: payloads and ``Filters`` are nil (``c0``) when empty,
``LeftMembers`` is always an array, ``MessageKeyRequest.key`` is written even when empty (``a0``),
and ``MessageKeyResponse.keys`` is nil unless it is a list-keys answer (``None`` here).

Query filters stay raw in ``MessageQuery.filters`` (Go decodes them lazily and refuses a query
with an unknown filter type rather than the message); ``decode_filter`` and ``encode_filter``
convert them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgpack

from serf_proto.errors import MalformedMessage, TruncatedInput, UnknownMessageType
from serf_proto.wire.gomsgpack import (
    U64_MAX,
    as_map,
    get_bool,
    get_bytes,
    get_int,
    get_str,
    get_str_list,
    get_str_map,
    get_u8,
    get_u16,
    get_u32,
    get_u64,
    pack,
    to_str,
    to_uint,
    unpack,
)


class SerfMessageType(IntEnum):
    """Serf message type bytes (Go ``messageType``)."""

    LEAVE = 0
    JOIN = 1
    PUSH_PULL = 2
    USER_EVENT = 3
    QUERY = 4
    QUERY_RESPONSE = 5
    CONFLICT_RESPONSE = 6
    KEY_REQUEST = 7
    KEY_RESPONSE = 8
    RELAY = 9


class FilterType(IntEnum):
    """Query filter type bytes (Go ``filterType``)."""

    NODE = 0
    TAG = 1


#: The one-byte prefixes, built once from the enums (encoders are on the hot path).
SERF_TYPE_BYTE: dict[SerfMessageType, bytes] = {t: bytes((t,)) for t in SerfMessageType}
_NODE_FILTER = bytes((FilterType.NODE,))
_TAG_FILTER = bytes((FilterType.TAG,))
_RELAY = SERF_TYPE_BYTE[SerfMessageType.RELAY]


#: ``MessageQuery.flags`` bits.
QUERY_FLAG_ACK = 1
QUERY_FLAG_NO_BROADCAST = 2
#: ``MessageQueryResponse.flags`` bit marking an ack.
QUERY_RESPONSE_FLAG_ACK = 1


@dataclass(frozen=True, slots=True)
class MessageLeave:
    """Leave intent for ``node`` at member-clock ``ltime``; ``prune`` erases it at once."""

    ltime: int
    node: str
    prune: bool = False


@dataclass(frozen=True, slots=True)
class MessageJoin:
    """Join intent for ``node`` at member-clock ``ltime``."""

    ltime: int
    node: str


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One user event kept in the push/pull event ring (Go ``userEvent``)."""

    name: str
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class EventSlot:
    """All events seen at one event-clock time (Go ``userEvents``)."""

    ltime: int
    events: tuple[EventRecord, ...]


@dataclass(frozen=True, slots=True)
class MessagePushPull:
    """Serf's anti-entropy state (push/pull user state); ``events`` is the whole ring."""

    ltime: int
    status_ltimes: dict[str, int]
    left_members: tuple[str, ...]
    event_ltime: int
    events: tuple[EventSlot | None, ...]
    query_ltime: int


@dataclass(frozen=True, slots=True)
class MessageUserEvent:
    """A user event; ``cc`` = may be coalesced."""

    ltime: int
    name: str
    payload: bytes = b""
    cc: bool = True


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """A query. ``timeout`` is Go's ``time.Duration``: integer **nanoseconds**.

    ``addr``/``port`` is where responses go (raw IP bytes), ``filters`` raw filter encodings.
    """

    ltime: int
    id: int
    addr: bytes
    port: int
    source_node: str
    filters: tuple[bytes, ...]
    flags: int
    relay_factor: int
    timeout: int
    name: str
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class MessageQueryResponse:
    """A response (``flags == 0``) or ack (``flags & 1``) to query ``id`` at ``ltime``."""

    ltime: int
    id: int
    from_node: str
    flags: int
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """Go ``serf.Member`` as carried in a conflict response; ``status`` is a ``MemberStatus``."""

    name: str
    addr: bytes
    port: int
    tags: dict[str, str]
    status: int
    protocol_min: int
    protocol_max: int
    protocol_cur: int
    delegate_min: int
    delegate_max: int
    delegate_cur: int


@dataclass(frozen=True, slots=True)
class MessageConflictResponse:
    """Answer to ``_serf_conflict``: the responder's view of the name, or ``None`` (unknown)."""

    member: MemberInfo | None


@dataclass(frozen=True, slots=True)
class MessageKeyRequest:
    """Payload of the key-management queries: the raw key (empty for list-keys)."""

    key: bytes


@dataclass(frozen=True, slots=True)
class MessageKeyResponse:
    """Answer to a key query; ``keys``/``primary_key`` are base64 and only set by list-keys."""

    result: bool
    message: str = ""
    keys: tuple[str, ...] | None = None
    primary_key: str = ""


@dataclass(frozen=True, slots=True)
class MessageRelay:
    """Relay envelope: forward ``message`` (a complete Serf message) to ``dest_*``."""

    dest_addr: bytes
    dest_port: int
    dest_name: str
    message: bytes
    dest_zone: str = ""


@dataclass(frozen=True, slots=True)
class NodeFilter:
    """Query filter: only these node names respond."""

    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Query filter: only nodes whose tag ``tag`` fully matches the regular expression ``expr``."""

    tag: str
    expr: str


QueryFilter = NodeFilter | TagFilter

SerfMessage = (
    MessageLeave
    | MessageJoin
    | MessagePushPull
    | MessageUserEvent
    | MessageQuery
    | MessageQueryResponse
    | MessageConflictResponse
    | MessageKeyRequest
    | MessageKeyResponse
    | MessageRelay
)

# ---------------------------------------------------------------------------------------------
# encoding


def _events_obj(slot: EventSlot | None) -> Any:
    if slot is None:
        return None
    return {
        "Events": [{"Name": e.name, "Payload": e.payload or None} for e in slot.events],
        "LTime": slot.ltime,
    }


def _member_obj(m: MemberInfo | None) -> Any:
    if m is None:
        return None
    return {
        "Addr": m.addr,
        "DelegateCur": m.delegate_cur,
        "DelegateMax": m.delegate_max,
        "DelegateMin": m.delegate_min,
        "Name": m.name,
        "Port": m.port,
        "ProtocolCur": m.protocol_cur,
        "ProtocolMax": m.protocol_max,
        "ProtocolMin": m.protocol_min,
        "Status": m.status,
        "Tags": m.tags,
    }


def _leave_obj(m: MessageLeave) -> Any:
    return {"LTime": m.ltime, "Node": m.node, "Prune": m.prune}


def _join_obj(m: MessageJoin) -> Any:
    return {"LTime": m.ltime, "Node": m.node}


def _push_pull_obj(m: MessagePushPull) -> Any:
    return {
        "EventLTime": m.event_ltime,
        "Events": [_events_obj(s) for s in m.events],
        "LTime": m.ltime,
        "LeftMembers": list(m.left_members),
        "QueryLTime": m.query_ltime,
        "StatusLTimes": m.status_ltimes,
    }


def _user_event_obj(m: MessageUserEvent) -> Any:
    return {"CC": m.cc, "LTime": m.ltime, "Name": m.name, "Payload": m.payload or None}


def _query_obj(m: MessageQuery) -> Any:
    return {
        "Addr": m.addr,
        "Filters": list(m.filters) if m.filters else None,
        "Flags": m.flags,
        "ID": m.id,
        "LTime": m.ltime,
        "Name": m.name,
        "Payload": m.payload or None,
        "Port": m.port,
        "RelayFactor": m.relay_factor,
        "SourceNode": m.source_node,
        "Timeout": m.timeout,
    }


def _query_response_obj(m: MessageQueryResponse) -> Any:
    return {
        "Flags": m.flags,
        "From": m.from_node,
        "ID": m.id,
        "LTime": m.ltime,
        "Payload": m.payload or None,
    }


def _conflict_response_obj(m: MessageConflictResponse) -> Any:
    return _member_obj(m.member)


def _key_request_obj(m: MessageKeyRequest) -> Any:
    return {"Key": m.key}


def _key_response_obj(m: MessageKeyResponse) -> Any:
    return {
        "Keys": list(m.keys) if m.keys is not None else None,
        "Message": m.message,
        "PrimaryKey": m.primary_key,
        "Result": m.result,
    }


#: Type byte and body builder of each Serf message class (relays are framed separately).
_BUILDERS: dict[type, tuple[SerfMessageType, Callable[[Any], Any]]] = {
    MessageLeave: (SerfMessageType.LEAVE, _leave_obj),
    MessageJoin: (SerfMessageType.JOIN, _join_obj),
    MessagePushPull: (SerfMessageType.PUSH_PULL, _push_pull_obj),
    MessageUserEvent: (SerfMessageType.USER_EVENT, _user_event_obj),
    MessageQuery: (SerfMessageType.QUERY, _query_obj),
    MessageQueryResponse: (SerfMessageType.QUERY_RESPONSE, _query_response_obj),
    MessageConflictResponse: (SerfMessageType.CONFLICT_RESPONSE, _conflict_response_obj),
    MessageKeyRequest: (SerfMessageType.KEY_REQUEST, _key_request_obj),
    MessageKeyResponse: (SerfMessageType.KEY_RESPONSE, _key_response_obj),
}
_BODIES = {cls: (SERF_TYPE_BYTE[t], body) for cls, (t, body) in _BUILDERS.items()}


def encode_serf_message(msg: SerfMessage) -> bytes:
    """Encode a Serf message: type byte + msgpack body (a relay: + inner message)."""
    if type(msg) is MessageRelay:
        header = {
            "DestAddr": {"IP": msg.dest_addr, "Port": msg.dest_port, "Zone": msg.dest_zone},
            "DestName": msg.dest_name,
        }
        return _RELAY + pack(header) + msg.message
    entry = _BODIES.get(type(msg))
    if entry is None:
        raise TypeError(f"not a Serf message: {type(msg).__name__}")
    type_byte, body = entry
    return type_byte + pack(body(msg))


def encode_filter(f: QueryFilter) -> bytes:
    """Encode one query filter: ``00`` + array of names, or ``01`` + ``{Expr, Tag}``."""
    if type(f) is NodeFilter:
        return _NODE_FILTER + pack(list(f.nodes))
    assert isinstance(f, TagFilter)
    return _TAG_FILTER + pack({"Expr": f.expr, "Tag": f.tag})


# ---------------------------------------------------------------------------------------------
# decoding


def _ltime(d: dict[bytes, Any]) -> int:
    return get_u64(d, b"LTime")


def _decode_leave(body: Any) -> MessageLeave:
    d = as_map(body, "leave")
    return MessageLeave(_ltime(d), get_str(d, b"Node"), get_bool(d, b"Prune"))


def _decode_join(body: Any) -> MessageJoin:
    d = as_map(body, "join")
    return MessageJoin(_ltime(d), get_str(d, b"Node"))


def _decode_slot(obj: Any) -> EventSlot | None:
    if obj is None:
        return None
    d = as_map(obj, "event slot")
    raw_events = d.get(b"Events")
    if raw_events is None:
        raw_events = []
    if type(raw_events) is not list:
        raise MalformedMessage("Events: expected an array")
    events = []
    for item in raw_events:
        e = as_map(item, "event")
        events.append(EventRecord(get_str(e, b"Name"), get_bytes(e, b"Payload")))
    return EventSlot(_ltime(d), tuple(events))


def _decode_push_pull(body: Any) -> MessagePushPull:
    d = as_map(body, "push/pull state")
    raw_status = d.get(b"StatusLTimes")
    status: dict[str, int] = {}
    if raw_status is not None:
        for k, v in as_map(raw_status, "StatusLTimes").items():
            status[to_str(k, "StatusLTimes")] = to_uint(v, U64_MAX, "StatusLTimes")
    raw_events = d.get(b"Events")
    if raw_events is None:
        raw_events = []
    if type(raw_events) is not list:
        raise MalformedMessage("Events: expected an array")
    return MessagePushPull(
        ltime=_ltime(d),
        status_ltimes=status,
        left_members=get_str_list(d, b"LeftMembers") or (),
        event_ltime=get_u64(d, b"EventLTime"),
        events=tuple(_decode_slot(s) for s in raw_events),
        query_ltime=get_u64(d, b"QueryLTime"),
    )


def _decode_user_event(body: Any) -> MessageUserEvent:
    d = as_map(body, "user event")
    return MessageUserEvent(
        _ltime(d), get_str(d, b"Name"), get_bytes(d, b"Payload"), get_bool(d, b"CC")
    )


def _decode_query(body: Any) -> MessageQuery:
    d = as_map(body, "query")
    raw_filters = d.get(b"Filters")
    filters: tuple[bytes, ...] = ()
    if raw_filters is not None:
        if type(raw_filters) is not list or any(type(f) is not bytes for f in raw_filters):
            raise MalformedMessage("Filters: expected an array of raw byte strings")
        filters = tuple(raw_filters)
    return MessageQuery(
        ltime=_ltime(d),
        id=get_u32(d, b"ID"),
        addr=get_bytes(d, b"Addr"),
        port=get_u16(d, b"Port"),
        source_node=get_str(d, b"SourceNode"),
        filters=filters,
        flags=get_u32(d, b"Flags"),
        relay_factor=get_u8(d, b"RelayFactor"),
        timeout=get_int(d, b"Timeout"),
        name=get_str(d, b"Name"),
        payload=get_bytes(d, b"Payload"),
    )


def _decode_query_response(body: Any) -> MessageQueryResponse:
    d = as_map(body, "query response")
    return MessageQueryResponse(
        _ltime(d), get_u32(d, b"ID"), get_str(d, b"From"), get_u32(d, b"Flags"),
        get_bytes(d, b"Payload"),
    )  # fmt: skip


def _decode_conflict_response(body: Any) -> MessageConflictResponse:
    if body is None:
        return MessageConflictResponse(None)
    d = as_map(body, "member")
    return MessageConflictResponse(
        MemberInfo(
            name=get_str(d, b"Name"),
            addr=get_bytes(d, b"Addr"),
            port=get_u16(d, b"Port"),
            tags=get_str_map(d, b"Tags"),
            status=get_int(d, b"Status"),
            protocol_min=get_u8(d, b"ProtocolMin"),
            protocol_max=get_u8(d, b"ProtocolMax"),
            protocol_cur=get_u8(d, b"ProtocolCur"),
            delegate_min=get_u8(d, b"DelegateMin"),
            delegate_max=get_u8(d, b"DelegateMax"),
            delegate_cur=get_u8(d, b"DelegateCur"),
        )
    )


def _decode_key_request(body: Any) -> MessageKeyRequest:
    return MessageKeyRequest(get_bytes(as_map(body, "key request"), b"Key"))


def _decode_key_response(body: Any) -> MessageKeyResponse:
    d = as_map(body, "key response")
    return MessageKeyResponse(
        get_bool(d, b"Result"),
        get_str(d, b"Message"),
        get_str_list(d, b"Keys"),
        get_str(d, b"PrimaryKey"),
    )


_DECODERS: dict[int, Any] = {
    0: _decode_leave,
    1: _decode_join,
    2: _decode_push_pull,
    3: _decode_user_event,
    4: _decode_query,
    5: _decode_query_response,
    6: _decode_conflict_response,
    7: _decode_key_request,
    8: _decode_key_response,
}


def _decode_relay(data: bytes | memoryview) -> MessageRelay:
    unpacker = msgpack.Unpacker(raw=True, max_buffer_size=max(len(data), 1))
    unpacker.feed(data[1:])
    try:
        header = unpacker.unpack()
    except msgpack.OutOfData as exc:
        raise TruncatedInput("relay header is truncated") from exc
    except Exception as exc:
        raise MalformedMessage(f"invalid msgpack: {exc}") from exc
    d = as_map(header, "relay header")
    dest = d.get(b"DestAddr")
    dest_map = as_map(dest, "DestAddr") if dest is not None else {}
    inner = bytes(data[1 + unpacker.tell() :])
    return MessageRelay(
        dest_addr=get_bytes(dest_map, b"IP"),
        dest_port=get_int(dest_map, b"Port"),
        dest_name=get_str(d, b"DestName"),
        message=inner,
        dest_zone=get_str(dest_map, b"Zone"),
    )


def decode_serf_message(data: bytes | memoryview) -> SerfMessage:
    """Decode a Serf message (type byte + body). Raises only ``DecodeError``."""
    if not data:
        raise TruncatedInput("empty Serf message")
    t = data[0]
    if t == SerfMessageType.RELAY:
        return _decode_relay(data)
    decoder = _DECODERS.get(t)
    if decoder is None:
        raise UnknownMessageType(t, "Serf")
    msg: SerfMessage = decoder(unpack(data[1:]))
    return msg


def decode_filter(data: bytes) -> QueryFilter:
    """Decode one raw query filter; an unknown filter type raises ``UnknownMessageType``."""
    if not data:
        raise TruncatedInput("empty query filter")
    body = unpack(data[1:])
    if data[0] == FilterType.NODE:
        if type(body) is not list:
            raise MalformedMessage("node filter: expected an array")
        return NodeFilter(tuple(to_str(n, "node filter") for n in body))
    if data[0] == FilterType.TAG:
        d = as_map(body, "tag filter")
        return TagFilter(get_str(d, b"Tag"), get_str(d, b"Expr"))
    raise UnknownMessageType(data[0], "query filter")


def decode_filters(filters: tuple[bytes, ...]) -> tuple[QueryFilter, ...]:
    """Decode every filter of a query (see ``decode_filter``)."""
    return tuple(decode_filter(f) for f in filters)


def make_member_info(
    name: str,
    addr: bytes,
    port: int,
    tags: Mapping[str, str],
    status: int,
    vsn: bytes,
) -> MemberInfo:
    """Build a ``MemberInfo`` from memberlist's six ``vsn`` bytes (as Serf fills ``Member``)."""
    v = (vsn + bytes(6))[:6]
    return MemberInfo(name, addr, port, dict(tags), status, v[0], v[1], v[2], v[3], v[4], v[5])


__all__ = [
    "QUERY_FLAG_ACK",
    "QUERY_FLAG_NO_BROADCAST",
    "QUERY_RESPONSE_FLAG_ACK",
    "EventRecord",
    "EventSlot",
    "MemberInfo",
    "MessageConflictResponse",
    "MessageJoin",
    "MessageKeyRequest",
    "MessageKeyResponse",
    "MessageLeave",
    "MessagePushPull",
    "MessageQuery",
    "MessageQueryResponse",
    "MessageRelay",
    "MessageUserEvent",
    "NodeFilter",
    "QueryFilter",
    "SerfMessage",
    "SerfMessageType",
    "TagFilter",
    "decode_filter",
    "decode_filters",
    "decode_serf_message",
    "encode_filter",
    "encode_serf_message",
    "make_member_info",
]
