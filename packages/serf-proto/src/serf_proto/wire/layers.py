"""Layer-by-layer description of captured gossip, for the dissector.

``dissect(data, keys, label, kind)`` walks a UDP payload or one direction of a TCP stream and
returns a list of layer dicts, outermost first, each with a ``depth``: ``label``, ``encrypted``
(packet) / ``encrypt`` (stream), ``hasCrc``, ``compress``, ``compound``, one entry per message
(``fields`` are the msgpack map as sent, byte fields as ``0x…`` hex), ``user`` with the Serf
message inside (``serf``), ``pushPull``/``pushNodeState``/``userState`` for a push/pull, and
``error`` for anything that could not be read. Serf tags in node meta, coordinates in acks and
key/conflict messages inside internal query payloads are decoded as well. Nothing here raises
for bad input: problems become ``error`` entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack

from serf_proto.errors import DecodeError
from serf_proto.wire.coordinate import decode_ack_payload
from serf_proto.wire.framing import (
    COMPOUND_TYPE,
    COMPRESS_TYPE,
    CRC_TYPE,
    ENCRYPT_TYPE,
    LABEL_TYPE,
    open_compressed,
    split_compound,
    split_label,
    strip_crc,
)
from serf_proto.wire.keyring import Keyring
from serf_proto.wire.messages import MAP_DECODERS, decode_stream_message
from serf_proto.wire.serf_messages import (
    MessageQuery,
    MessageQueryResponse,
    MessageRelay,
    NodeFilter,
    decode_filter,
    decode_serf_message,
    encode_serf_message,
)
from serf_proto.wire.tags import decode_tags

Layer = dict[str, Any]

MESSAGE_NAMES = {
    0: "ping",
    1: "indirectPing",
    2: "ack",
    3: "suspect",
    4: "alive",
    5: "dead",
    6: "pushPull",
    7: "compound",
    8: "user",
    9: "compress",
    10: "encrypt",
    11: "nack",
    12: "hasCrc",
    13: "err",
    244: "label",
}
SERF_NAMES = {
    0: "leave",
    1: "join",
    2: "pushPull",
    3: "userEvent",
    4: "query",
    5: "queryResponse",
    6: "conflictResponse",
    7: "keyRequest",
    8: "keyResponse",
    9: "relay",
}
#: Go field names that hold ``[]byte`` (shown as hex); other raw values are shown as text.
BYTE_FIELDS = frozenset(
    {"Addr", "Meta", "Payload", "Vsn", "SourceAddr", "Target", "Buf", "Key", "IP", "Filters"}
)
MAX_NESTING = 4


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
        if t == 9:
            header, _ = _unpack_with_tail(payload[1:])
            out["header"] = _render(header)
            relay = decode_serf_message(payload)
            assert isinstance(relay, MessageRelay)
            out["inner"] = _serf_layer(relay.message)
            return out
        body, trailing = _unpack_with_tail(payload[1:])
        out["body"] = _render(body)
        out["trailing"] = trailing
        if t == 2 and isinstance(body, dict):
            out["bodyKeys"] = [k.decode(errors="replace") for k in body]
        if t == 4 and isinstance(body, dict) and isinstance(body.get(b"Filters"), list):
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
_EMBEDDED_TYPES = (6, 7, 8)


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
    if t == 2 and isinstance(body.get(b"Payload"), bytes) and body[b"Payload"]:
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
    if t == 4:
        layer.update(_meta_layer(body.get(b"Meta")))
    return layer


def _meta_layer(meta: Any) -> dict[str, Any]:
    if not isinstance(meta, bytes) or not meta:
        return {}
    try:
        return {"tags": decode_tags(meta)}
    except DecodeError as exc:
        return {"tagsError": str(exc)}


def _walk_command(data: bytes, depth: int, layers: list[Layer]) -> None:
    """Walk one packet-level command (compound/compress recurse)."""
    if not data:
        layers.append({"type": "error", "depth": depth, "error": "empty message"})
        return
    t = data[0]
    if depth > MAX_NESTING:
        layers.append({"type": "error", "depth": depth, "error": "nested too deeply"})
    elif t == COMPOUND_TYPE:
        try:
            parts = split_compound(data)
        except DecodeError as exc:
            layers.append({"type": "compound", "depth": depth, "error": str(exc)})
            return
        used = 2 + 2 * data[1] + sum(len(p) for p in parts.parts)
        layers.append(
            {
                "type": "compound",
                "depth": depth,
                "count": data[1],
                "lengths": [len(p) for p in parts.parts],
                "trailing": len(data) - used if not parts.truncated else 0,
                **({"truncated": parts.truncated} if parts.truncated else {}),
            }
        )
        for part in parts.parts:
            _walk_command(part, depth + 1, layers)
    elif t == COMPRESS_TYPE:
        try:
            plain = open_compressed(data)
            body, _ = _unpack_with_tail(data[1:])
        except DecodeError as exc:
            layers.append({"type": "compress", "depth": depth, "error": str(exc)})
            return
        buf = body.get(b"Buf", b"") if isinstance(body, dict) else b""
        layers.append(
            {
                "type": "compress",
                "depth": depth,
                "Algo": body.get(b"Algo", 0),
                "compressedLen": len(buf) if isinstance(buf, bytes) else 0,
                "plainLen": len(plain),
            }
        )
        _walk_command(plain, depth + 1, layers)
    elif t == 8:
        layers.append(
            {"type": "user", "depth": depth, "len": len(data) - 1, "serf": _serf_layer(data[1:])}
        )
    else:
        layers.append(_message_layer(data, depth))


def _try_decrypt(blob: bytes, keys: Sequence[bytes], aad: bytes) -> tuple[bytes, int] | DecodeError:
    last: DecodeError = DecodeError("no keys")
    for i, key in enumerate(keys):
        try:
            return Keyring([key]).decrypt(blob, aad), i
        except DecodeError as exc:
            last = exc
    return last


def dissect_packet(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> list[Layer]:
    """Describe every layer of one UDP payload."""
    layers: list[Layer] = []
    depth = 0
    if data and data[0] == LABEL_TYPE:
        try:
            got, rest = split_label(data)
        except DecodeError as exc:
            return [{"type": "label", "depth": 0, "error": str(exc)}]
        layers.append({"type": "label", "depth": 0, "label": got.decode(errors="replace")})
        label = got
        data = bytes(rest)
        depth = 1
    if keys:
        result = _try_decrypt(data, keys, label)
        if isinstance(result, DecodeError):
            layers.append({"type": "encrypted", "depth": depth, "error": str(result)})
            return layers
        plain, index = result
        layers.append(
            {
                "type": "encrypted",
                "depth": depth,
                "version": data[0],
                "plainLen": len(plain),
                "keyIndex": index,
                "nonce": data[1:13].hex(),
            }
        )
        data = plain
        depth += 1
    if len(data) >= 5 and data[0] == CRC_TYPE:
        crc = data[1:5].hex()
        try:
            strip_crc(data)
            ok = True
        except DecodeError:
            ok = False
        layers.append({"type": "hasCrc", "depth": depth, "crc": crc, "ok": ok})
        data = data[5:]
        depth += 1
    _walk_command(data, depth, layers)
    return layers


def dissect_stream(data: bytes, keys: Sequence[bytes] = (), label: bytes = b"") -> list[Layer]:
    """Describe every layer of one captured stream direction."""
    layers: list[Layer] = []
    depth = 0
    if data and data[0] == LABEL_TYPE:
        try:
            got, rest = split_label(data)
        except DecodeError as exc:
            return [{"type": "label", "depth": 0, "error": str(exc)}]
        layers.append({"type": "label", "depth": 0, "label": got.decode(errors="replace")})
        label = got
        data = bytes(rest)
    if data and data[0] == ENCRYPT_TYPE:
        if len(data) < 5:
            return [*layers, {"type": "encrypt", "depth": depth, "error": "truncated header"}]
        length = int.from_bytes(data[1:5], "big")
        blob = data[5 : 5 + length]
        layer: Layer = {"type": "encrypt", "depth": depth, "len": length}
        layers.append(layer)
        result = _try_decrypt(blob, keys, data[:5] + label)
        if isinstance(result, DecodeError):
            layer["error"] = str(result) if keys else "encrypted; pass -key to decrypt"
            return layers
        plain, index = result
        layer.update(
            version=blob[0],
            plainLen=len(plain),
            trailing=len(data) - 5 - length,
            keyIndex=index,
            nonce=blob[1:13].hex(),
        )
        data = plain
        depth += 1
    if data and data[0] == COMPRESS_TYPE:
        try:
            body, _ = _unpack_with_tail(data[1:])
            plain = open_compressed(data)
        except DecodeError as exc:
            layers.append({"type": "compress", "depth": depth, "error": str(exc)})
            return layers
        buf = body.get(b"Buf", b"") if isinstance(body, dict) else b""
        layers.append(
            {
                "type": "compress",
                "depth": depth,
                "Algo": body.get(b"Algo", 0),
                "compressedLen": len(buf),
                "plainLen": len(plain),
            }
        )
        data = plain
        depth += 1
    _walk_stream_message(data, depth, layers)
    return layers


def _walk_stream_message(data: bytes, depth: int, layers: list[Layer]) -> None:
    if not data:
        layers.append({"type": "error", "depth": depth, "error": "empty stream"})
        return
    t = data[0]
    if t not in (6, 8):
        layers.append(_message_layer(data, depth))
        return
    unpacker = msgpack.Unpacker(raw=True, max_buffer_size=max(len(data), 1))
    unpacker.feed(data[1:])
    try:
        header = unpacker.unpack()
        if t == 8:
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
    if body and body[0] in (ENCRYPT_TYPE, 6):
        return "stream", dissect_stream(data, keys, label)
    layers = dissect_packet(data, keys, label)
    if has_error(layers):
        stream_layers = dissect_stream(data, keys, label)
        if not has_error(stream_layers):
            return "stream", stream_layers
    return "packet", layers
