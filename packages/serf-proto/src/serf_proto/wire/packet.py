"""The UDP packet pipeline, both ways, as memberlist runs it.

Outbound (``encode_packet``): one message is sent bare, several go into a compound; then
compress (only if that makes it smaller), then CRC (only toward peers with protocol max ≥ 5, see
``framing.wants_crc``), then AES-GCM with the primary key (the label is the additional data),
then the label header.

Inbound (``decode_packet``): strip and check the label, decrypt with any key, check the CRC
(recognised only at the outermost level), then decode; compound and compress wrappers may nest.
Failures of the outer layers raise ``DecodeError``. A compound part that fails to decode does not
spoil the others (as in Go): its error is returned in ``DecodedPacket.errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from serf_proto.errors import DecodeError, MalformedMessage, SizeLimitExceeded, TruncatedInput
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
from serf_proto.wire.keyring import Entropy, Keyring
from serf_proto.wire.limits import MAX_DECOMPRESSED_SIZE, MAX_PACKET_SIZE
from serf_proto.wire.messages import Message, decode_message, encode_message

#: Deepest nesting of compound/compress wrappers accepted inside one packet.
MAX_NESTING = 4


@dataclass(slots=True)
class DecodedPacket:
    """Messages found in one packet, in order, and the errors of the parts that were dropped."""

    messages: list[Message] = field(default_factory=list)
    errors: list[DecodeError] = field(default_factory=list)


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
    if compress:
        compressed = make_compressed(data)
        if len(compressed) < len(data):
            data = compressed
    if crc:
        data = add_crc(data)
    if keyring is not None and len(keyring):
        if entropy is None:
            raise ValueError("encryption needs an entropy source for nonces")
        data = keyring.encrypt(data, label, entropy, encryption_version)
    return add_label(data, label)


def decode_packet(
    data: bytes | memoryview,
    *,
    keyring: Keyring | None = None,
    label: bytes = b"",
    skip_label_check: bool = False,
    verify_incoming: bool = True,
    max_decompressed: int = MAX_DECOMPRESSED_SIZE,
) -> DecodedPacket:
    """Decode one UDP payload. Raises ``DecodeError`` when an outer layer fails.

    With ``verify_incoming=False`` a packet that does not decrypt is read as plaintext (Go's
    ``GossipVerifyIncoming=false``).
    """
    if not data:
        raise TruncatedInput("empty packet")
    if len(data) > MAX_PACKET_SIZE:
        raise SizeLimitExceeded(f"packet of {len(data)} bytes")
    if data[0] == 0xF4 or label:
        got, data = split_label(data)
        check_label(got, label, skip_check=skip_label_check)
        if not data:
            raise TruncatedInput("nothing after the label header")
    if keyring is not None and len(keyring):
        try:
            data = keyring.decrypt(data, label)
        except DecodeError:
            if verify_incoming:
                raise
    if data[0] == CRC_TYPE and len(data) >= 5:
        data = strip_crc(data)
    out = DecodedPacket()
    _handle(data, out, 0, max_decompressed, top=True)
    return out


def _handle(
    data: bytes | memoryview, out: DecodedPacket, depth: int, max_size: int, *, top: bool
) -> None:
    if not data:
        raise TruncatedInput("empty message")
    t = data[0]
    if t == COMPOUND_TYPE:
        if depth >= MAX_NESTING:
            raise MalformedMessage("compound/compress wrappers nested too deeply")
        parts = split_compound(data)
        for part in parts.parts:
            try:
                _handle(part, out, depth + 1, max_size, top=False)
            except DecodeError as exc:
                out.errors.append(exc)
        if parts.truncated:
            out.errors.append(
                TruncatedInput(f"Compound request had {parts.truncated} truncated messages")
            )
    elif t == COMPRESS_TYPE:
        if depth >= MAX_NESTING:
            raise MalformedMessage("compound/compress wrappers nested too deeply")
        _handle(open_compressed(data, max_size), out, depth + 1, max_size, top=top)
    else:
        out.messages.append(decode_message(data))
