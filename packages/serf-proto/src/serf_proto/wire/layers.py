"""Layer-by-layer description of captured gossip, for the dissector.

``dissect(data, keys, label, kind)`` reads a UDP payload or one direction of a TCP stream and
returns a list of layer dicts, outermost first, each with a ``depth``: ``label``, ``encrypted``
(packet) / ``encrypt`` (stream), ``hasCrc``, ``compress``, ``compound``, one entry per message
(``fields`` are the msgpack map as sent, byte fields as ``0x…`` hex), ``user`` with the Serf
message inside (``serf``), ``pushPull``/``pushNodeState``/``userState`` for a push/pull, and
``error`` for anything that could not be read. Serf tags in node meta, coordinates in acks and
key/conflict messages inside internal query payloads are decoded as well. Nothing here raises
for bad input: problems become ``error`` entries.

The framing layers are not walked here: the node's own pipeline (``packet.open_packet`` and
``packet.explode_packet``, ``stream.StreamDecoder``) peels them and reports each one in a
``trace``; this module renders that trace and the messages it ends in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack

from serf_proto.errors import DecodeError
from serf_proto.wire.coordinate import decode_ack_payload
from serf_proto.wire.framing import ENCRYPT_TYPE, LABEL_TYPE
from serf_proto.wire.keyring import Keyring
from serf_proto.wire.messages import MAP_DECODERS, MessageType, decode_stream_message
from serf_proto.wire.packet import Peeled, Trace, explode_packet, open_packet
from serf_proto.wire.serf_messages import (
    MessageQuery,
    MessageQueryResponse,
    MessageRelay,
    NodeFilter,
    SerfMessageType,
    decode_filter,
    decode_serf_message,
    encode_serf_message,
)
from serf_proto.wire.stream import StreamDecoder
from serf_proto.wire.tags import decode_tags

Layer = dict[str, Any]

MESSAGE_NAMES: dict[int, str] = {
    MessageType.PING: "ping",
    MessageType.INDIRECT_PING: "indirectPing",
    MessageType.ACK_RESP: "ack",
    MessageType.SUSPECT: "suspect",
    MessageType.ALIVE: "alive",
    MessageType.DEAD: "dead",
    MessageType.PUSH_PULL: "pushPull",
    MessageType.COMPOUND: "compound",
    MessageType.USER: "user",
    MessageType.COMPRESS: "compress",
    MessageType.ENCRYPT: "encrypt",
    MessageType.NACK_RESP: "nack",
    MessageType.HAS_CRC: "hasCrc",
    MessageType.ERR: "err",
    MessageType.HAS_LABEL: "label",
}
SERF_NAMES: dict[int, str] = {
    SerfMessageType.LEAVE: "leave",
    SerfMessageType.JOIN: "join",
    SerfMessageType.PUSH_PULL: "pushPull",
    SerfMessageType.USER_EVENT: "userEvent",
    SerfMessageType.QUERY: "query",
    SerfMessageType.QUERY_RESPONSE: "queryResponse",
    SerfMessageType.CONFLICT_RESPONSE: "conflictResponse",
    SerfMessageType.KEY_REQUEST: "keyRequest",
    SerfMessageType.KEY_RESPONSE: "keyResponse",
    SerfMessageType.RELAY: "relay",
}
#: Go field names that hold ``[]byte`` (shown as hex); other raw values are shown as text.
BYTE_FIELDS = frozenset(
    {"Addr", "Meta", "Payload", "Vsn", "SourceAddr", "Target", "Buf", "Key", "IP", "Filters"}
)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _render(value: Any, key: str = "") -> Any:
    """Turn a raw decoded msgpack value into JSON-able data (bytes fields as hex)."""
    if isinstance(value, bytes):
        if key in BYTE_FIELDS:
            return _hex(value)
        try:
            return value.decode()
        except UnicodeDecodeError:
            return _hex(value)
    if isinstance(value, dict):
        return {_render(k): _render(v, k.decode(errors="replace") if isinstance(k, bytes) else "")
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_render(v, key) for v in value]
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return "NaN"
    return value


def _unpack_with_tail(data: bytes) -> tuple[Any, int]:
    """Decode the first msgpack object; return it and the number of trailing bytes."""
    unpacker = msgpack.Unpacker(raw=True, max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    try:
        obj = unpacker.unpack()
    except Exception as exc:
        raise DecodeError(f"invalid msgpack: {exc}") from exc
    return obj, len(data) - unpacker.tell()


def _serf_layer(payload: bytes) -> dict[str, Any]:
    """Describe a Serf message (type byte + body)."""
    if not payload:
        return {"error": "empty Serf message"}
    t = payload[0]
    out: dict[str, Any] = {"serfType": t, "name": SERF_NAMES.get(t, f"unknown({t})")}
    try:
        if t == SerfMessageType.RELAY:
            header, _ = _unpack_with_tail(payload[1:])
            out["header"] = _render(header)
            relay = decode_serf_message(payload)
            assert isinstance(relay, MessageRelay)
            out["inner"] = _serf_layer(relay.message)
            return out
        body, trailing = _unpack_with_tail(payload[1:])
        out["body"] = _render(body)
        out["trailing"] = trailing
        if t == SerfMessageType.PUSH_PULL and isinstance(body, dict):
            out["bodyKeys"] = [k.decode(errors="replace") for k in body]
        if (
            t == SerfMessageType.QUERY
            and isinstance(body, dict)
            and isinstance(body.get(b"Filters"), list)
        ):
            out["filters"] = [_filter_text(f) for f in body[b"Filters"]]
        msg = decode_serf_message(payload)
        if isinstance(msg, MessageQuery | MessageQueryResponse):
            inner = _embedded_serf(msg.payload)
            if inner is not None:
                out["payloadDecoded"] = inner
    except DecodeError as exc:
        out["error"] = str(exc)
    return out


#: Serf messages that travel inside query and response payloads (internal queries).
_EMBEDDED_TYPES = (
    SerfMessageType.CONFLICT_RESPONSE,
    SerfMessageType.KEY_REQUEST,
    SerfMessageType.KEY_RESPONSE,
)


def _embedded_serf(payload: bytes) -> dict[str, Any] | None:
    """Describe a conflict/key message carried in a query or response payload, if it is one.

    Only payloads that decode as such a message *and* re-encode to the same bytes are shown, so
    arbitrary user payloads that happen to start with 06-08 are left alone.
    """
    if not payload or payload[0] not in _EMBEDDED_TYPES:
        return None
    try:
        if encode_serf_message(decode_serf_message(payload)) != payload:
            return None
    except DecodeError:
        return None
    return _serf_layer(payload)


def _filter_text(raw: Any) -> Any:
    if not isinstance(raw, bytes):
        return _render(raw)
    try:
        f = decode_filter(raw)
    except DecodeError as exc:
        return {"error": str(exc)}
    if isinstance(f, NodeFilter):
        return {"node": list(f.nodes)}
    return {"tag": f.tag, "expr": f.expr}


def _message_layer(data: bytes, depth: int) -> Layer:
    """Describe one single-map message (ping, ack, alive, ...)."""
    t = data[0]
    layer: Layer = {"type": MESSAGE_NAMES.get(t, f"unknown({t})"), "depth": depth}
    if t not in MAP_DECODERS:
        layer["error"] = f"message type {t} not supported"
        return layer
    try:
        body, trailing = _unpack_with_tail(data[1:])
        layer["fields"] = _render(body)
        if trailing:
            layer["trailing"] = trailing
        MAP_DECODERS[t](body)
    except DecodeError as exc:
        layer["error"] = str(exc)
        return layer
    if t == MessageType.ACK_RESP and isinstance(body.get(b"Payload"), bytes) and body[b"Payload"]:
        try:
            c = decode_ack_payload(body[b"Payload"])
            layer["payloadDecoded"] = {
                "pingVersion": body[b"Payload"][0],
                "coordinate": {
                    "Adjustment": c.adjustment,
                    "Error": c.error,
                    "Height": c.height,
                    "Vec": list(c.vec),
                },
            }
        except DecodeError:
            pass  # not a Serf coordinate: shown as hex only
    if t == MessageType.ALIVE:
        layer.update(_meta_layer(body.get(b"Meta")))
    return layer


def _meta_layer(meta: Any) -> dict[str, Any]:
    if not isinstance(meta, bytes) or not meta:
        return {}
    try:
        return {"tags": decode_tags(meta)}
    except DecodeError as exc:
        return {"tagsError": str(exc)}


def _layers_of(trace: Trace, capture: bytes, stream: bool) -> list[Layer]:
    """Turn the pipeline's trace into layer dicts; messages are rendered here."""
    layers: list[Layer] = []
    for rec in trace:
        if rec.kind != "message":
            layers.append({"type": rec.kind, "depth": rec.depth, **rec.info})
            continue
        data = rec.data or capture[rec.info.get("offset", len(capture)) :]
        if stream:
            _walk_stream_message(data, rec.depth, layers)
        elif data[0] == MessageType.USER:
            serf = _serf_layer(data[1:])
            layers.append({"type": "user", "depth": rec.depth, "len": len(data) - 1, "serf": serf})
        else:
            layers.append(_message_layer(data, rec.depth))
    return layers


def dissect_packet(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> list[Layer]:
    """Describe every layer of one UDP payload, as the node's packet pipeline peels it.

    The label is taken from the packet's header; ``label`` is used for one without a header.
    """
    trace: Trace = []
    try:
        headed = data[:1] == bytes((LABEL_TYPE,)) or not label
        plain = open_packet(
            data,
            keyring=Keyring(keys) if keys else None,
            label=None if headed else label,
            skip_label_check=not headed,
            trace=trace,
        )
        explode_packet(plain, trace=trace, depth=len(trace))
    except DecodeError as exc:
        if not trace or "error" not in trace[-1].info:
            depth = trace[-1].depth + 1 if trace else 0
            trace.append(Peeled("error", depth, {"error": str(exc)}))
    return _layers_of(trace, data, stream=False)


def dissect_stream(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> list[Layer]:
    """Describe every layer of one captured stream direction, as the node's decoder reads it.

    The label is taken from the stream's header; ``label`` is the additional data of the
    encryption of a stream without one (a listener's reply).
    """
    trace: Trace = []
    headed = data[:1] == bytes((LABEL_TYPE,))
    decoder = StreamDecoder(
        keyring=Keyring(keys) if keys else None,
        label=None if headed else label,
        label_header=headed,
        verify_incoming=False,
        single_message=True,
        trace=trace,
    )
    try:
        decoder.feed(data)
        decoder.feed(b"")
    except DecodeError:
        pass  # the trace holds the error
    for rec in trace:
        if rec.kind == "encrypt" and "error" in rec.info and not keys:
            rec.info["error"] = "encrypted; pass -key to decrypt"
        if rec.kind == "encrypt" and "plainLen" in rec.info:
            rec.info["trailing"] = len(data) - decoder.consumed
    layers = _layers_of(trace, data, stream=True)
    if not layers:
        layers.append({"type": "error", "depth": 0, "error": "empty stream"})
    return layers


def _walk_stream_message(data: bytes, depth: int, layers: list[Layer]) -> None:
    if not data:
        layers.append({"type": "error", "depth": depth, "error": "empty stream"})
        return
    t = data[0]
    if t != MessageType.PUSH_PULL and t != MessageType.USER:
        layers.append(_message_layer(data, depth))
        return
    unpacker = msgpack.Unpacker(raw=True, max_buffer_size=max(len(data), 1))
    unpacker.feed(data[1:])
    try:
        header = unpacker.unpack()
        if t == MessageType.USER:
            used = 1 + unpacker.tell()
            decode_stream_message(data)
            payload = data[used:]
            layers.append(
                {"type": "user", "depth": depth, "len": len(payload), "serf": _serf_layer(payload)}
            )
            return
        layers.append({"type": "pushPull", "depth": depth, "header": _render(header)})
        nodes = header.get(b"Nodes", 0) if isinstance(header, dict) else 0
        for _ in range(nodes if isinstance(nodes, int) else 0):
            state = unpacker.unpack()
            layer: Layer = {"type": "pushNodeState", "depth": depth + 1, "fields": _render(state)}
            if isinstance(state, dict):
                layer.update(_meta_layer(state.get(b"Meta")))
            layers.append(layer)
        used = 1 + unpacker.tell()
        user_state = data[used:]
        layers.append(
            {
                "type": "userState",
                "depth": depth + 1,
                "len": len(user_state),
                "serf": _serf_layer(user_state) if user_state else "",
            }
        )
        decode_stream_message(data)
    except msgpack.OutOfData:
        layers.append({"type": "error", "depth": depth, "error": "stream message is truncated"})
    except DecodeError as exc:
        layers.append({"type": "error", "depth": depth, "error": str(exc)})
    except Exception as exc:
        layers.append({"type": "error", "depth": depth, "error": f"invalid msgpack: {exc}"})


def has_error(layers: list[Layer]) -> bool:
    for layer in layers:
        if "error" in layer:
            return True
        serf = layer.get("serf")
        if isinstance(serf, dict) and "error" in serf:
            return True
    return False


def dissect(
    data: bytes, keys: Sequence[bytes] = (), label: bytes = b"", kind: str = "auto"
) -> tuple[str, list[Layer]]:
    """Dissect a capture; return ``("packet"|"stream", layers)``."""
    if kind == "packet":
        return "packet", dissect_packet(data, keys, label)
    if kind == "stream":
        return "stream", dissect_stream(data, keys, label)
    body = data
    if body and body[0] == LABEL_TYPE and len(body) >= 2:
        body = body[2 + body[1] :]
    if body and body[0] in (ENCRYPT_TYPE, MessageType.PUSH_PULL):
        return "stream", dissect_stream(data, keys, label)
    layers = dissect_packet(data, keys, label)
    if has_error(layers):
        stream_layers = dissect_stream(data, keys, label)
        if not has_error(stream_layers):
            return "stream", stream_layers
    return "packet", layers
