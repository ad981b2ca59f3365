"""memberlist's framing layers: compound, CRC32, compression wrapper and label header.

* compound: ``07 | count:u8 | count × len:u16be | messages`` (each a full message);
* CRC: ``0c | crc32:u32be | inner`` (CRC-32/IEEE of ``inner``);
* compress: ``09`` + msgpack ``{Algo: 0, Buf: <lzw>}``;
* label: ``f4 | len:u8 | label`` in front of a packet, or at the start of a stream (upstream
  memberlist ≥ 0.3; memberlist 0.2.2 drops it, so it is opt-in).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from serf_proto.errors import (
    ChecksumMismatch,
    LabelMismatch,
    MalformedMessage,
    TruncatedInput,
    UnsupportedEncoding,
)
from serf_proto.wire import lzw
from serf_proto.wire.gomsgpack import as_map, get_bytes, get_u8, pack, unpack
from serf_proto.wire.limits import MAX_DECOMPRESSED_SIZE, MAX_LABEL_LEN
from serf_proto.wire.messages import TYPE_BYTE, MessageType

#: The framing type bytes as plain ints (compared against ``data[0]`` on the hot path).
COMPOUND_TYPE = int(MessageType.COMPOUND)
COMPRESS_TYPE = int(MessageType.COMPRESS)
ENCRYPT_TYPE = int(MessageType.ENCRYPT)
CRC_TYPE = int(MessageType.HAS_CRC)
LABEL_TYPE = int(MessageType.HAS_LABEL)
_CRC_BYTE = TYPE_BYTE[MessageType.HAS_CRC]
_COMPRESS_BYTE = TYPE_BYTE[MessageType.COMPRESS]
#: Bytes a compound adds per part (its length field) and once (type + count).
COMPOUND_OVERHEAD = 2
COMPOUND_HEADER_OVERHEAD = 2
LZW_ALGO = 0


def make_compound(messages: Sequence[bytes]) -> bytes:
    """Join encoded messages into one compound message (at most 255 parts of < 64 KiB each)."""
    if len(messages) > 255:
        raise ValueError("a compound message holds at most 255 parts")
    out = bytearray((COMPOUND_TYPE, len(messages)))
    for m in messages:
        if len(m) > 0xFFFF:
            raise ValueError("a compound part is at most 65535 bytes")
        out += len(m).to_bytes(2, "big")
    for m in messages:
        out += m
    return bytes(out)


@dataclass(frozen=True, slots=True)
class CompoundParts:
    """The parts of a compound message; ``truncated`` counts parts cut off by the packet end."""

    parts: tuple[bytes, ...]
    truncated: int


def split_compound(data: bytes | memoryview) -> CompoundParts:
    """Split a compound message (``data[0] == 7``) into its parts, as Go does.

    A header shorter than its length table raises ``TruncatedInput``; parts whose length runs
    past the end are dropped and counted in ``truncated``.
    """
    if len(data) < 2:
        raise TruncatedInput("missing compound length byte")
    count = data[1]
    offset = 2 + 2 * count
    if len(data) < offset:
        raise TruncatedInput("truncated compound length slice")
    parts: list[bytes] = []
    for i in range(count):
        n = (data[2 + 2 * i] << 8) | data[3 + 2 * i]
        if len(data) - offset < n:
            return CompoundParts(tuple(parts), count - i)
        parts.append(bytes(data[offset : offset + n]))
        offset += n
    return CompoundParts(tuple(parts), 0)


def add_crc(data: bytes) -> bytes:
    """Wrap ``data`` in a CRC32 message."""
    return _CRC_BYTE + zlib.crc32(data).to_bytes(4, "big") + data


def strip_crc(data: bytes | memoryview) -> bytes | memoryview:
    """Check and remove a CRC wrapper (``data[0] == 12``). Raises ``DecodeError``."""
    if len(data) < 5:
        raise TruncatedInput("CRC header is truncated")
    inner = data[5:]
    expected = int.from_bytes(data[1:5], "big")
    if zlib.crc32(inner) != expected:
        raise ChecksumMismatch("Got invalid checksum")
    return inner


def wants_crc(peer_protocol_max: int) -> bool:
    """Whether memberlist adds a CRC toward a peer with this protocol maximum (≥ 5)."""
    return peer_protocol_max >= 5


def make_compressed(data: bytes) -> bytes:
    """Wrap ``data`` (a full message) in an LZW compress message, exactly as Go writes it."""
    return _COMPRESS_BYTE + pack({"Algo": LZW_ALGO, "Buf": lzw.compress(data)})


def open_compressed(data: bytes | memoryview, max_size: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Decompress a compress message (``data[0] == 9``); refuses empty or oversized output."""
    return decompress_map(unpack(data[1:]), max_size)


def decompress_map(obj: Any, max_size: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Decompress the decoded ``{Algo, Buf}`` map of a compress message."""
    d = as_map(obj, "compress")
    algo = get_u8(d, b"Algo")
    if algo != LZW_ALGO:
        raise UnsupportedEncoding(f"Cannot decompress unknown algorithm {algo}")
    plain = lzw.decompress(get_bytes(d, b"Buf"), max_size)
    if not plain:
        raise MalformedMessage("compressed message decompresses to nothing")
    return plain


def add_label(data: bytes, label: bytes) -> bytes:
    """Prefix ``data`` with a label header (no-op for an empty label)."""
    if not label:
        return data
    if len(label) > MAX_LABEL_LEN:
        raise ValueError("a label is at most 255 bytes")
    return bytes((LABEL_TYPE, len(label))) + label + data


def split_label(data: bytes | memoryview) -> tuple[bytes, bytes | memoryview]:
    """Return ``(label, rest)``; ``label`` is ``b""`` when there is no label header."""
    if not data or data[0] != LABEL_TYPE:
        return b"", data
    if len(data) < 2:
        raise TruncatedInput("label header is truncated")
    n = data[1]
    if n == 0:
        raise LabelMismatch("label header with an empty label")
    if len(data) < 2 + n:
        raise TruncatedInput("label is truncated")
    return bytes(data[2 : 2 + n]), data[2 + n :]


def check_label(received: bytes, expected: bytes, *, skip_check: bool = False) -> None:
    """Raise ``LabelMismatch`` unless the received label equals ours (or checking is off)."""
    if not skip_check and received != expected:
        raise LabelMismatch(
            f"label mismatch: got {received.decode(errors='replace')!r}, "
            f"want {expected.decode(errors='replace')!r}"
        )
