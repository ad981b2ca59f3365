"""memberlist messages: frozen dataclasses with Go's type bytes, and their codec.

Every message on the wire is one type byte followed by a body; for most types the body is one
msgpack map whose keys are the Go struct's field names in byte order (see ``gomsgpack``). Byte
fields hold raw bytes exactly as on the wire: addresses are 4 or 16 IP bytes, ``vsn`` the six
version bytes ``[PMin, PMax, PCur, DMin, DMax, DCur]``.

Nil versus empty: Go writes a nil byte slice as ``c0``. The byte fields that Go leaves nil when
there is nothing to send (``Ack.payload``, ``Alive.meta``, ``PushNodeState.meta``, ``vsn``) are
written as nil when empty, and nil decodes as ``b""``.

``encode_message`` / ``decode_message`` handle one message in its *packet* form (a UDP user
message is ``08`` + raw bytes). ``encode_stream_message`` / ``decode_stream_message`` handle the
TCP form, where a user message carries a ``{UserMsgLen}`` header and a push/pull is the header,
the node states and the raw user state. Framing layers (compound, CRC, compression, encryption,
label) live in ``framing`` and ``packet``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import msgpack

from serf_proto.errors import (
    DecodeError,
    MalformedMessage,
    SizeLimitExceeded,
    TruncatedInput,
    UnknownMessageType,
)
from serf_proto.wire.gomsgpack import (
    as_map,
    get_bool,
    get_bytes,
    get_int,
    get_str,
    get_u16,
    get_u32,
    pack,
    unpack,
)
from serf_proto.wire.limits import (
    MAX_PUSH_PULL_NODES,
    MAX_USER_MSG_LEN,
    MAX_USER_STATE_LEN,
    META_MAX_SIZE,
)


class MessageType(IntEnum):
    """memberlist message type bytes (Go ``messageType``)."""

    PING = 0
    INDIRECT_PING = 1
    ACK_RESP = 2
    SUSPECT = 3
    ALIVE = 4
    DEAD = 5
    PUSH_PULL = 6
    COMPOUND = 7
    USER = 8
    COMPRESS = 9
    ENCRYPT = 10
    NACK_RESP = 11
    HAS_CRC = 12
    ERR = 13
    HAS_LABEL = 244


#: The one-byte prefix of every message type, built once from the enum (encoders are hot).
TYPE_BYTE: dict[MessageType, bytes] = {t: bytes((t,)) for t in MessageType}
#: What a user message starts with (memberlist piggybacks delegate broadcasts behind it).
USER_TYPE_BYTE = TYPE_BYTE[MessageType.USER]
_PING = TYPE_BYTE[MessageType.PING]
_INDIRECT_PING = TYPE_BYTE[MessageType.INDIRECT_PING]
_ACK_RESP = TYPE_BYTE[MessageType.ACK_RESP]
_SUSPECT = TYPE_BYTE[MessageType.SUSPECT]
_ALIVE = TYPE_BYTE[MessageType.ALIVE]
_DEAD = TYPE_BYTE[MessageType.DEAD]
_PUSH_PULL = TYPE_BYTE[MessageType.PUSH_PULL]
_NACK_RESP = TYPE_BYTE[MessageType.NACK_RESP]
_ERR = TYPE_BYTE[MessageType.ERR]
_USER_CODE = int(MessageType.USER)
_PUSH_PULL_CODE = int(MessageType.PUSH_PULL)


@dataclass(frozen=True, slots=True)
class Ping:
    """Probe (Go ``ping``). ``node`` names the intended target; ``source_*`` say where to ack."""

    seq_no: int
    node: str
    source_addr: bytes = b""
    source_port: int = 0
    source_node: str = ""


@dataclass(frozen=True, slots=True)
class IndirectPing:
    """Request to probe ``target:port`` on our behalf (Go ``indirectPingReq``)."""

    seq_no: int
    target: bytes
    port: int
    node: str
    nack: bool = False
    source_addr: bytes = b""
    source_port: int = 0
    source_node: str = ""


@dataclass(frozen=True, slots=True)
class Ack:
    """Answer to a ping (Go ``ackResp``); ``payload`` is the ping delegate's (Serf: coordinate)."""

    seq_no: int
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Nack:
    """An indirect-ping helper got no ack from the target (Go ``nackResp``)."""

    seq_no: int


@dataclass(frozen=True, slots=True)
class Suspect:
    """``from_node`` suspects ``node`` at ``incarnation`` (Go ``suspect``)."""

    incarnation: int
    node: str
    from_node: str


@dataclass(frozen=True, slots=True)
class Alive:
    """``node`` is alive at ``incarnation`` with this address, meta and versions (Go ``alive``)."""

    incarnation: int
    node: str
    addr: bytes
    port: int
    meta: bytes = b""
    vsn: bytes = b""


@dataclass(frozen=True, slots=True)
class Dead:
    """``node`` is dead (``from_node != node``) or has left (``from_node == node``)."""

    incarnation: int
    node: str
    from_node: str


@dataclass(frozen=True, slots=True)
class PushPullHeader:
    """First object of a push/pull: how many node states and user-state bytes follow."""

    nodes: int
    user_state_len: int
    join: bool


@dataclass(frozen=True, slots=True)
class PushNodeState:
    """One node-table entry in a push/pull (Go ``pushNodeState``); ``state`` is a ``NodeState``."""

    name: str
    addr: bytes
    port: int
    meta: bytes
    incarnation: int
    state: int
    vsn: bytes


@dataclass(frozen=True, slots=True)
class PushPull:
    """A complete push/pull stream message: header flag, node states and raw user state."""

    join: bool
    states: tuple[PushNodeState, ...]
    user_state: bytes = b""


@dataclass(frozen=True, slots=True)
class UserMsg:
    """A delegate (Serf) message; ``payload`` starts with the Serf type byte."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class ErrResp:
    """Error reply on a stream (Go ``errResp``)."""

    error: str


Message = Ping | IndirectPing | Ack | Nack | Suspect | Alive | Dead | PushPull | UserMsg | ErrResp

# ---------------------------------------------------------------------------------------------
# encoding


def _encode_ping(m: Ping) -> bytes:
    d: dict[str, Any] = {"Node": m.node, "SeqNo": m.seq_no}
    if m.source_addr:
        d["SourceAddr"] = m.source_addr
    if m.source_node:
        d["SourceNode"] = m.source_node
    if m.source_port:
        d["SourcePort"] = m.source_port
    return _PING + pack(d)


def _encode_indirect_ping(m: IndirectPing) -> bytes:
    d: dict[str, Any] = {"Nack": m.nack, "Node": m.node, "Port": m.port, "SeqNo": m.seq_no}
    if m.source_addr:
        d["SourceAddr"] = m.source_addr
    if m.source_node:
        d["SourceNode"] = m.source_node
    if m.source_port:
        d["SourcePort"] = m.source_port
    d["Target"] = m.target
    return _INDIRECT_PING + pack(d)


def _encode_ack(m: Ack) -> bytes:
    return _ACK_RESP + pack({"Payload": m.payload or None, "SeqNo": m.seq_no})


def _encode_nack(m: Nack) -> bytes:
    return _NACK_RESP + pack({"SeqNo": m.seq_no})


def _encode_suspect(m: Suspect) -> bytes:
    return _SUSPECT + pack({"From": m.from_node, "Incarnation": m.incarnation, "Node": m.node})


def _encode_dead(m: Dead) -> bytes:
    return _DEAD + pack({"From": m.from_node, "Incarnation": m.incarnation, "Node": m.node})


def _encode_alive(m: Alive) -> bytes:
    return _ALIVE + pack(
        {
            "Addr": m.addr,
            "Incarnation": m.incarnation,
            "Meta": m.meta or None,
            "Node": m.node,
            "Port": m.port,
            "Vsn": m.vsn or None,
        }
    )


def encode_push_pull_header(h: PushPullHeader) -> bytes:
    """``06`` + msgpack header (no node states)."""
    return _PUSH_PULL + pack({"Join": h.join, "Nodes": h.nodes, "UserStateLen": h.user_state_len})


def encode_push_node_state(s: PushNodeState) -> bytes:
    """One msgpack node-state map (no type byte)."""
    return pack(
        {
            "Addr": s.addr,
            "Incarnation": s.incarnation,
            "Meta": s.meta or None,
            "Name": s.name,
            "Port": s.port,
            "State": s.state,
            "Vsn": s.vsn or None,
        }
    )


def _encode_push_pull(m: PushPull) -> bytes:
    parts = [
        encode_push_pull_header(PushPullHeader(len(m.states), len(m.user_state), m.join)),
        *(encode_push_node_state(s) for s in m.states),
        m.user_state,
    ]
    return b"".join(parts)


def _encode_user(m: UserMsg) -> bytes:
    return USER_TYPE_BYTE + m.payload


def _encode_err(m: ErrResp) -> bytes:
    return _ERR + pack({"Error": m.error})


_ENCODERS: dict[type, Any] = {
    Ping: _encode_ping,
    IndirectPing: _encode_indirect_ping,
    Ack: _encode_ack,
    Nack: _encode_nack,
    Suspect: _encode_suspect,
    Alive: _encode_alive,
    Dead: _encode_dead,
    PushPull: _encode_push_pull,
    UserMsg: _encode_user,
    ErrResp: _encode_err,
}


def encode_message(msg: Message) -> bytes:
    """Encode one message in packet form: type byte + body, byte-identical to Go."""
    try:
        encoder = _ENCODERS[type(msg)]
    except KeyError:
        raise TypeError(f"not a memberlist message: {type(msg).__name__}") from None
    data: bytes = encoder(msg)
    return data


def encode_stream_message(msg: Message) -> bytes:
    """Encode one message in stream (TCP) form: a user message gets its ``UserMsgLen`` header."""
    if type(msg) is UserMsg:
        return USER_TYPE_BYTE + pack({"UserMsgLen": len(msg.payload)}) + msg.payload
    return encode_message(msg)


# ---------------------------------------------------------------------------------------------
# decoding


def _check_meta(meta: bytes) -> bytes:
    if len(meta) > META_MAX_SIZE:
        raise SizeLimitExceeded(f"node meta of {len(meta)} bytes exceeds {META_MAX_SIZE}")
    return meta


def _ping_from_map(obj: Any) -> Ping:
    d = as_map(obj, "ping")
    return Ping(
        get_u32(d, b"SeqNo"),
        get_str(d, b"Node"),
        get_bytes(d, b"SourceAddr"),
        get_u16(d, b"SourcePort"),
        get_str(d, b"SourceNode"),
    )


def _indirect_ping_from_map(obj: Any) -> IndirectPing:
    d = as_map(obj, "indirect ping")
    return IndirectPing(
        get_u32(d, b"SeqNo"),
        get_bytes(d, b"Target"),
        get_u16(d, b"Port"),
        get_str(d, b"Node"),
        get_bool(d, b"Nack"),
        get_bytes(d, b"SourceAddr"),
        get_u16(d, b"SourcePort"),
        get_str(d, b"SourceNode"),
    )


def _ack_from_map(obj: Any) -> Ack:
    d = as_map(obj, "ack")
    return Ack(get_u32(d, b"SeqNo"), get_bytes(d, b"Payload"))


def _nack_from_map(obj: Any) -> Nack:
    return Nack(get_u32(as_map(obj, "nack"), b"SeqNo"))


def _suspect_from_map(obj: Any) -> Suspect:
    d = as_map(obj, "suspect")
    return Suspect(get_u32(d, b"Incarnation"), get_str(d, b"Node"), get_str(d, b"From"))


def _dead_from_map(obj: Any) -> Dead:
    d = as_map(obj, "dead")
    return Dead(get_u32(d, b"Incarnation"), get_str(d, b"Node"), get_str(d, b"From"))


def _alive_from_map(obj: Any) -> Alive:
    d = as_map(obj, "alive")
    return Alive(
        get_u32(d, b"Incarnation"),
        get_str(d, b"Node"),
        get_bytes(d, b"Addr"),
        get_u16(d, b"Port"),
        _check_meta(get_bytes(d, b"Meta")),
        get_bytes(d, b"Vsn"),
    )


def _err_from_map(obj: Any) -> ErrResp:
    return ErrResp(get_str(as_map(obj, "error response"), b"Error"))


def push_pull_header_from_map(obj: Any) -> PushPullHeader:
    """Build and bound-check a ``PushPullHeader`` from its decoded msgpack map."""
    d = as_map(obj, "push/pull header")
    nodes = get_int(d, b"Nodes")
    user_state_len = get_int(d, b"UserStateLen")
    if not 0 <= nodes <= MAX_PUSH_PULL_NODES:
        raise SizeLimitExceeded(f"push/pull announces {nodes} nodes")
    if not 0 <= user_state_len <= MAX_USER_STATE_LEN:
        raise SizeLimitExceeded(f"push/pull user state of {user_state_len} bytes")
    return PushPullHeader(nodes, user_state_len, get_bool(d, b"Join"))


def push_node_state_from_map(obj: Any) -> PushNodeState:
    """Build a ``PushNodeState`` from its decoded msgpack map."""
    d = as_map(obj, "push node state")
    fast = _push_node_state_as_go_writes(d)
    if fast is not None:
        return fast
    return PushNodeState(
        get_str(d, b"Name"),
        get_bytes(d, b"Addr"),
        get_u16(d, b"Port"),
        _check_meta(get_bytes(d, b"Meta")),
        get_u32(d, b"Incarnation"),
        get_int(d, b"State"),
        get_bytes(d, b"Vsn"),
    )


def _push_node_state_as_go_writes(d: dict[bytes, Any]) -> PushNodeState | None:
    """The entry when every field is present with the type Go writes and within range (the
    push/pull hot path: a big table has thousands); None sends it to the general checks."""
    try:
        name = d[b"Name"]
        addr = d[b"Addr"]
        port = d[b"Port"]
        meta = d[b"Meta"]
        incarnation = d[b"Incarnation"]
        state = d[b"State"]
        vsn = d[b"Vsn"]
    except KeyError:
        return None
    if (
        type(name) is not bytes
        or type(addr) is not bytes
        or type(meta) is not bytes
        or type(vsn) is not bytes
        or type(port) is not int
        or type(incarnation) is not int
        or type(state) is not int
        or not 0 <= port <= 0xFFFF
        or not 0 <= incarnation <= 0xFFFFFFFF
        or not -(1 << 63) <= state < (1 << 63)
        or len(meta) > META_MAX_SIZE
    ):
        return None
    try:
        text = name.decode()
    except UnicodeDecodeError:
        return None
    return PushNodeState(text, addr, port, meta, incarnation, state, vsn)


def user_msg_len_from_map(obj: Any) -> int:
    """Read and bound-check the ``UserMsgLen`` of a stream user-message header."""
    n = get_int(as_map(obj, "user message header"), b"UserMsgLen")
    if not 0 <= n <= MAX_USER_MSG_LEN:
        raise SizeLimitExceeded(f"user message of {n} bytes")
    return n


def _unpacker(data: bytes | memoryview) -> msgpack.Unpacker:
    unpacker = msgpack.Unpacker(raw=True, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    return unpacker


def _next(unpacker: msgpack.Unpacker) -> Any:
    return _step(unpacker.unpack)


def _skip(unpacker: msgpack.Unpacker) -> None:
    _step(unpacker.skip)


def _step(read: Callable[[], Any]) -> Any:
    """``read()`` one msgpack object, with its errors turned into ``DecodeError``s."""
    try:
        return read()
    except msgpack.OutOfData as exc:
        raise TruncatedInput("stream message is truncated") from exc
    except Exception as exc:
        raise MalformedMessage(f"invalid msgpack: {exc}") from exc


#: Decoded push/pull entries by their exact bytes. A node table changes little between two
#: push/pulls and every node encodes a given entry alike, so most entries of a big table were
#: decoded before; the entries are immutable, hence safe to share. Emptied when full.
_STATE_CACHE: dict[bytes, PushNodeState] = {}
_STATE_CACHE_MAX = 32768


def push_node_state_from_bytes(raw: bytes) -> PushNodeState:
    """The entry encoded by exactly ``raw`` (one msgpack map), through the cache."""
    state = _STATE_CACHE.get(raw)
    if state is None:
        try:
            obj = msgpack.unpackb(raw, raw=True)
        except Exception as exc:
            raise MalformedMessage(f"invalid msgpack: {exc}") from exc
        state = push_node_state_from_map(obj)
        if len(_STATE_CACHE) >= _STATE_CACHE_MAX:
            _STATE_CACHE.clear()
        _STATE_CACHE[raw] = state
    return state


def _decode_push_pull(data: bytes | memoryview) -> PushPull:
    """Decode a complete push/pull (``06`` + header + states + user state)."""
    body = data[1:]
    unpacker = _unpacker(body)
    header = push_pull_header_from_map(_next(unpacker))
    states: list[PushNodeState] = []
    start = unpacker.tell()
    for _ in range(header.nodes):
        _skip(unpacker)
        end = unpacker.tell()
        states.append(push_node_state_from_bytes(bytes(body[start:end])))
        start = end
    used = 1 + unpacker.tell()
    user_state = bytes(data[used : used + header.user_state_len])
    if len(user_state) < header.user_state_len:
        raise TruncatedInput("push/pull user state is truncated")
    return PushPull(header.join, tuple(states), user_state)


def _decode_stream_user(data: bytes | memoryview) -> UserMsg:
    unpacker = _unpacker(data[1:])
    n = user_msg_len_from_map(_next(unpacker))
    used = 1 + unpacker.tell()
    payload = bytes(data[used : used + n])
    if len(payload) < n:
        raise TruncatedInput("user message is truncated")
    return UserMsg(payload)


#: Decoders of the message types whose body is exactly one msgpack map, by type byte.
MAP_DECODERS: dict[int, Any] = {
    int(MessageType.PING): _ping_from_map,
    int(MessageType.INDIRECT_PING): _indirect_ping_from_map,
    int(MessageType.ACK_RESP): _ack_from_map,
    int(MessageType.SUSPECT): _suspect_from_map,
    int(MessageType.ALIVE): _alive_from_map,
    int(MessageType.DEAD): _dead_from_map,
    int(MessageType.NACK_RESP): _nack_from_map,
    int(MessageType.ERR): _err_from_map,
}


def decode_message(data: bytes | memoryview) -> Message:
    """Decode one message in packet form (type byte + body); trailing bytes are ignored.

    Framing types (compound, compress, CRC, encrypt, label) are refused here; ``decode_packet``
    unwraps them. Raises ``DecodeError`` (and only that) for any bad input.
    """
    if not data:
        raise TruncatedInput("empty message")
    t = data[0]
    from_map = MAP_DECODERS.get(t)
    if from_map is not None:
        msg: Message = from_map(unpack(data[1:]))
        return msg
    if t == _USER_CODE:
        return UserMsg(bytes(data[1:]))
    if t == _PUSH_PULL_CODE:
        return _decode_push_pull(data)
    raise UnknownMessageType(t)


def decode_stream_message(data: bytes | memoryview) -> Message:
    """Decode one complete plain stream message (a reliable user message has its header)."""
    if data and data[0] == MessageType.USER:
        return _decode_stream_user(data)
    return decode_message(data)


__all__ = [
    "MAP_DECODERS",
    "TYPE_BYTE",
    "USER_TYPE_BYTE",
    "Ack",
    "Alive",
    "Dead",
    "DecodeError",
    "ErrResp",
    "IndirectPing",
    "Message",
    "MessageType",
    "Nack",
    "Ping",
    "PushNodeState",
    "PushPull",
    "PushPullHeader",
    "Suspect",
    "UserMsg",
    "decode_message",
    "decode_stream_message",
    "encode_message",
    "encode_push_node_state",
    "encode_push_pull_header",
    "encode_stream_message",
    "push_node_state_from_bytes",
    "push_node_state_from_map",
    "push_pull_header_from_map",
    "user_msg_len_from_map",
]
