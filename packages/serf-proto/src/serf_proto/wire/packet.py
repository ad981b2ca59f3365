"""The UDP packet pipeline, both ways: what the node runs, and what the vectors and fuzzers test.

Outbound (``seal_packet``; ``encode_packet`` builds the compound first): compress (only if that
makes it smaller), then CRC (only toward peers with protocol max ≥ 5, see
``framing.wants_crc``), then AES-GCM with the primary key (the label is the additional data),
then the label header.

Inbound, in three steps that ``Memberlist`` calls one by one (it counts each failure in its
stats) and ``decode_packet`` composes:

1. ``open_packet``: check the label (Go's rules, including ``SkipInboundLabelCheck``), decrypt
   with any key (falling back to plaintext when ``verify_incoming`` is off), check a CRC;
2. ``explode_packet``: unpack compound and compress wrappers, which may nest
   ``MAX_NESTING`` levels below the outermost one; truncated and empty compound parts are
   counted in ``drops``, any other failure refuses the whole packet;
3. ``decode_packet_message``: decode each plain message (alive/suspect/dead are memoised).

Every step takes an optional ``trace`` list; when given, each layer peeled off is appended as a
``Peeled`` record (outermost first), so the dissector shows exactly what this pipeline did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from serf_proto.errors import (
    DecodeError,
    LabelMismatch,
    MalformedMessage,
    SizeLimitExceeded,
    TruncatedInput,
)
from serf_proto.wire.framing import (
    COMPOUND_TYPE,
    COMPRESS_TYPE,
    CRC_TYPE,
    add_crc,
    add_label,
    check_label,
    make_compound,
    make_compressed,
    open_compressed,
    split_compound,
    split_label,
    strip_crc,
)
from serf_proto.wire.gomsgpack import unpack
from serf_proto.wire.keyring import Entropy, Keyring
from serf_proto.wire.limits import MAX_DECOMPRESSED_SIZE, MAX_NESTING, MAX_PACKET_SIZE
from serf_proto.wire.messages import Message, MessageType, decode_message, encode_message

#: Drop reasons ``explode_packet`` counts (the node's ``stats.dropped`` keys).
DROP_TRUNCATED_PART = "truncated_compound_part"
DROP_EMPTY_PART = "empty_compound_part"


@dataclass(slots=True)
class Peeled:
    """One layer the pipeline peeled off: its kind, nesting depth and what it said.

    ``kind`` is ``label``, ``encrypted`` (packet) / ``encrypt`` (stream), ``hasCrc``,
    ``compound``, ``compress``, ``message`` or ``error``; ``info`` holds the layer's facts (and
    ``error`` when it failed); a ``message`` carries its plain bytes in ``data`` (or, for a
    stream read straight from the socket, its start ``offset`` in ``info``).
    """

    kind: str
    depth: int
    info: dict[str, Any] = field(default_factory=dict)
    data: bytes = b""


Trace = list[Peeled]


@dataclass(slots=True)
class DecodedPacket:
    """Messages found in one packet, in order, and the errors of the parts that were dropped."""

    messages: list[Message] = field(default_factory=list)
    errors: list[DecodeError] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# outbound


def seal_packet(
    msg: bytes,
    *,
    compress: bool = False,
    crc: bool = False,
    keyring: Keyring | None = None,
    encryption_version: int = 1,
    label: bytes = b"",
    entropy: Entropy | None = None,
) -> bytes:
    """Apply compression, CRC, encryption and the label header to one encoded message."""
    if compress:
        packed = make_compressed(msg)
        if len(packed) < len(msg):
            msg = packed
    if crc:
        msg = add_crc(msg)
    if keyring is not None and len(keyring):
        if entropy is None:
            raise ValueError("encryption needs an entropy source for nonces")
        msg = keyring.encrypt(msg, label, entropy, encryption_version)
    return add_label(msg, label) if label else msg


def encode_packet(
    messages: Sequence[Message | bytes],
    *,
    compress: bool = False,
    crc: bool = False,
    keyring: Keyring | None = None,
    encryption_version: int = 1,
    label: bytes = b"",
    entropy: Entropy | None = None,
) -> bytes:
    """Build one UDP payload from messages (objects or already encoded bytes).

    ``entropy`` (``entropy(12)`` → nonce) is required when ``keyring`` has keys.
    """
    if not messages:
        raise ValueError("a packet needs at least one message")
    encoded = [m if isinstance(m, bytes) else encode_message(m) for m in messages]
    data = encoded[0] if len(encoded) == 1 else make_compound(encoded)
    return seal_packet(
        data,
        compress=compress,
        crc=crc,
        keyring=keyring,
        encryption_version=encryption_version,
        label=label,
        entropy=entropy,
    )


# ---------------------------------------------------------------------------------------------
# inbound


def open_packet(
    data: bytes | memoryview,
    *,
    keyring: Keyring | None = None,
    label: bytes | None = b"",
    skip_label_check: bool = False,
    verify_incoming: bool = True,
    trace: Trace | None = None,
) -> bytes:
    """Check the label, decrypt and CRC-check one datagram; return the message inside.

    ``label``: ours; a packet must carry it in its header. With ``skip_label_check`` (Go's
    ``SkipInboundLabelCheck``) our label is used for decryption and a packet that still carries
    a label header is refused. ``None`` accepts whatever label the packet announces (for
    reading captures). Raises ``DecodeError``.
    """
    if not data:
        raise TruncatedInput("empty packet")
    if len(data) > MAX_PACKET_SIZE:
        raise SizeLimitExceeded(f"packet of {len(data)} bytes")
    depth = 0
    try:
        received, rest = split_label(data)
        if label is None:
            label = received
        elif skip_label_check:
            if received:
                raise LabelMismatch("unexpected double label header")
        else:
            check_label(received, label)
            label = received
    except DecodeError as exc:
        _record(trace, "label", depth, {"error": str(exc)})
        raise
    if received:
        if trace is not None:
            trace.append(Peeled("label", depth, {"label": received.decode(errors="replace")}))
        depth += 1
    data = bytes(rest)
    if keyring is not None and len(keyring):
        try:
            plain, index = keyring.decrypt_indexed(data, label)
        except DecodeError as exc:
            if verify_incoming:
                _record(trace, "encrypted", depth, {"error": str(exc)})
                raise
        else:
            if trace is not None:
                info = {"version": data[0], "plainLen": len(plain), "keyIndex": index}
                trace.append(Peeled("encrypted", depth, {**info, "nonce": data[1:13].hex()}))
            data = plain
            depth += 1
    if data and data[0] == CRC_TYPE:
        try:
            inner = bytes(strip_crc(data))
        except DecodeError as exc:
            _record(
                trace, "hasCrc", depth, {"crc": data[1:5].hex(), "ok": False, "error": str(exc)}
            )
            raise
        if trace is not None:
            trace.append(Peeled("hasCrc", depth, {"crc": data[1:5].hex(), "ok": True}))
        data = inner
        depth += 1
    if not data:
        _record(trace, "error", depth, {"error": "empty message"})
        raise TruncatedInput("empty message")
    return data


def explode_packet(
    data: bytes,
    *,
    drops: Counter[str] | None = None,
    max_decompressed: int = MAX_DECOMPRESSED_SIZE,
    trace: Trace | None = None,
    depth: int = 0,
) -> list[bytes]:
    """The plain messages inside ``data``, unpacking compound and compress wrappers.

    Truncated and empty compound parts are counted in ``drops`` (``DROP_TRUNCATED_PART``,
    ``DROP_EMPTY_PART``); any other failure raises ``DecodeError`` for the whole packet.
    ``depth`` is where the first layer goes in ``trace``.
    """
    kind = data[0]
    if kind != COMPOUND_TYPE and kind != COMPRESS_TYPE and trace is None:
        return [data]  # most packets carry one plain message
    return _explode(data, 0, depth, drops, max_decompressed, trace)


def _explode(
    data: bytes,
    level: int,
    depth: int,
    drops: Counter[str] | None,
    max_size: int,
    trace: Trace | None,
) -> list[bytes]:
    kind = data[0]
    if kind == COMPOUND_TYPE:
        try:
            split = split_compound(data)
        except DecodeError as exc:
            _record(trace, "compound", depth, {"error": str(exc)})
            raise
        if trace is not None:
            trace.append(
                Peeled("compound", depth, _compound_info(data, split.parts, split.truncated))
            )
        if split.truncated and drops is not None:
            drops[DROP_TRUNCATED_PART] += split.truncated
        out: list[bytes] = []
        for part in split.parts:
            if not part:
                if drops is not None:
                    drops[DROP_EMPTY_PART] += 1
                _record(trace, "error", depth + 1, {"error": "empty message"})
            elif part[0] == COMPOUND_TYPE or part[0] == COMPRESS_TYPE:
                out.extend(_nested(part, level, depth + 1, drops, max_size, trace))
            else:
                if trace is not None:
                    trace.append(Peeled("message", depth + 1, data=part))
                out.append(part)
        return out
    if kind == COMPRESS_TYPE:
        return _nested(data, level, depth, drops, max_size, trace)
    if trace is not None:
        trace.append(Peeled("message", depth, data=data))
    return [data]


def _nested(
    data: bytes,
    level: int,
    depth: int,
    drops: Counter[str] | None,
    max_size: int,
    trace: Trace | None,
) -> list[bytes]:
    if level >= MAX_NESTING:
        _record(trace, "error", depth, {"error": "wrappers nested too deeply"})
        raise MalformedMessage("wrappers nested too deeply")
    if data[0] == COMPRESS_TYPE:
        try:
            plain = open_compressed(data, max_size)
        except DecodeError as exc:
            _record(trace, "compress", depth, {"error": str(exc)})
            raise
        if trace is not None:
            trace.append(Peeled("compress", depth, compress_info(data, plain)))
        return _explode(plain, level + 1, depth + 1, drops, max_size, trace)
    return _explode(data, level + 1, depth, drops, max_size, trace)


#: Types whose encoded bytes repeat verbatim across the cluster (broadcasts are relayed as is).
_GOSSIP_TYPES = frozenset(
    int(t) for t in (MessageType.SUSPECT, MessageType.ALIVE, MessageType.DEAD)
)


@lru_cache(maxsize=16384)
def _decode_gossip(data: bytes) -> Message:
    return decode_message(data)


def decode_packet_message(data: bytes) -> Message:
    """Decode one message in packet form; alive/suspect/dead decodes are memoised.

    Gossip relays the same encoded alive/suspect/dead bytes many times, so a bounded memo of
    their (immutable) decoded form saves most decoding work. Raises ``DecodeError``.
    """
    if data and data[0] in _GOSSIP_TYPES:
        return _decode_gossip(data)
    return decode_message(data)


def decode_packet(
    data: bytes | memoryview,
    *,
    keyring: Keyring | None = None,
    label: bytes | None = b"",
    skip_label_check: bool = False,
    verify_incoming: bool = True,
    max_decompressed: int = MAX_DECOMPRESSED_SIZE,
) -> DecodedPacket:
    """Decode one UDP payload as the node does. Raises ``DecodeError`` when the packet is
    refused; a compound part that is truncated, empty or does not decode is dropped and its
    error returned in ``DecodedPacket.errors``.

    With ``verify_incoming=False`` a packet that does not decrypt is read as plaintext (Go's
    ``GossipVerifyIncoming=false``).
    """
    plain = open_packet(
        data,
        keyring=keyring,
        label=label,
        skip_label_check=skip_label_check,
        verify_incoming=verify_incoming,
    )
    drops: Counter[str] = Counter()
    out = DecodedPacket()
    for part in explode_packet(plain, drops=drops, max_decompressed=max_decompressed):
        try:
            out.messages.append(decode_packet_message(part))
        except DecodeError as exc:
            out.errors.append(exc)
    if drops[DROP_TRUNCATED_PART]:
        n = drops[DROP_TRUNCATED_PART]
        out.errors.append(TruncatedInput(f"Compound request had {n} truncated messages"))
    out.errors += [TruncatedInput("empty compound part")] * drops[DROP_EMPTY_PART]
    return out


# ---------------------------------------------------------------------------------------------
# trace records


def _record(trace: Trace | None, kind: str, depth: int, info: dict[str, Any]) -> None:
    if trace is not None:
        trace.append(Peeled(kind, depth, info))


def _compound_info(data: bytes, parts: Sequence[bytes], truncated: int) -> dict[str, Any]:
    used = 2 + 2 * data[1] + sum(len(p) for p in parts)
    info: dict[str, Any] = {
        "count": data[1],
        "lengths": [len(p) for p in parts],
        "trailing": len(data) - used if not truncated else 0,
    }
    if truncated:
        info["truncated"] = truncated
    return info


def compress_info(data: bytes, plain: bytes) -> dict[str, Any]:
    """What a trace says about a compress wrapper that opened to ``plain``."""
    body = unpack(data[1:])
    buf = body.get(b"Buf", b"") if isinstance(body, dict) else b""
    algo = body.get(b"Algo", 0) if isinstance(body, dict) else 0
    return {
        "Algo": algo,
        "compressedLen": len(buf) if isinstance(buf, bytes) else 0,
        "plainLen": len(plain),
    }
