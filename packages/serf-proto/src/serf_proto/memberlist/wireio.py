"""Which wire layers the core applies to its packets and streams, and in what order.

The byte layouts live in ``serf_proto.wire``; this adapter only applies them as memberlist does
(Go ``rawSendMsgPacket``, ``ingestPacket``, ``handleCommand``, ``readStream``):

* packets out: compress (only when smaller), CRC toward peers with protocol max ≥ 5, encrypt
  when a keyring is set and ``gossip_verify_outgoing``;
* packets in: decrypt (falling back to plaintext when ``gossip_verify_incoming`` is off), strip
  a CRC, then unpack compound and compress wrappers recursively;
* streams out: compress, then encrypt with the ``0a | u32 length`` header as AAD;
* streams in: one incremental ``StreamDecoder`` per stream, fed as bytes arrive;
* labels (memberlist ≥ 0.3, opt-in): a ``f4 | len | label`` header in front of every packet
  and at the start of every stream we dial, and the label as extra AES-GCM associated data.

``fast_wire`` (a simulator option) skips compression and encryption on send.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from serf_proto.config import MemberlistConfig
from serf_proto.drops import DropReason
from serf_proto.errors import (
    DecodeError,
    DecryptionFailed,
    LabelMismatch,
    MalformedMessage,
    TruncatedInput,
    UnsupportedEncoding,
)
from serf_proto.memberlist.stats import MemberlistStats
from serf_proto.wire.framing import (
    COMPOUND_TYPE,
    COMPRESS_TYPE,
    CRC_TYPE,
    ENCRYPT_TYPE,
    add_crc,
    add_label,
    check_label,
    make_compressed,
    open_compressed,
    split_compound,
    split_label,
    strip_crc,
)
from serf_proto.wire.keyring import Keyring, encrypted_length, encryption_overhead
from serf_proto.wire.messages import Message, decode_message
from serf_proto.wire.stream import StreamDecoder

__all__ = ["WireIO", "decode_packet_message"]

#: How deep compound and compress wrappers may nest in one packet.
MAX_NESTING = 4

#: Types whose encoded bytes repeat verbatim across the cluster (broadcasts are relayed as is).
_GOSSIP_TYPES = frozenset((3, 4, 5))


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


class WireIO:
    """The packet and stream pipeline of one node."""

    __slots__ = (
        "compress",
        "config",
        "encryption_version",
        "entropy",
        "keyring",
        "label",
        "stats",
    )

    def __init__(
        self,
        config: MemberlistConfig,
        entropy: Callable[[int], bytes],
        keyring: Keyring | None,
        stats: MemberlistStats,
    ) -> None:
        self.config = config
        self.entropy = entropy
        self.keyring = keyring
        self.stats = stats
        self.compress = config.enable_compression and not config.fast_wire
        self.encryption_version = 0 if config.protocol_version < 2 else 1
        self.label = config.label.encode()

    @property
    def encrypted(self) -> bool:
        """Whether a keyring with at least one key is installed."""
        return self.keyring is not None and len(self.keyring) > 0

    def _seal_outgoing(self) -> bool:
        return self.encrypted and self.config.gossip_verify_outgoing and not self.config.fast_wire

    def packet_overhead(self, gossip: bool) -> int:
        """Bytes the label header and encryption add to a packet, as the piggyback budget
        counts them."""
        overhead = 2 + len(self.label) if self.label else 0
        if not self.encrypted:
            return overhead
        if gossip or self.config.gossip_verify_outgoing:
            overhead += encryption_overhead(self.encryption_version)
        return overhead

    def wrap_packet(self, msg: bytes, crc: bool) -> bytes:
        """Apply compression, CRC, encryption and the label header to one outgoing packet."""
        if self.compress:
            packed = make_compressed(msg)
            if len(packed) < len(msg):
                msg = packed
        if crc:
            msg = add_crc(msg)
        if self._seal_outgoing():
            assert self.keyring is not None
            msg = self.keyring.encrypt(msg, self.label, self.entropy, self.encryption_version)
        if self.label:
            msg = add_label(msg, self.label)
        return msg

    def _check_label(self, received: bytes) -> bytes:
        """The label to authenticate with, after Go's inbound label rules."""
        if self.config.skip_inbound_label_check:
            if received:
                raise LabelMismatch("unexpected double label header")
            return self.label
        check_label(received, self.label)
        return received

    def unwrap_packet(self, data: bytes) -> bytes:
        """Check the label, decrypt and CRC-check one datagram; returns the message inside."""
        if not data:
            raise TruncatedInput("empty packet")
        received, rest = split_label(data)
        label = self._check_label(received)
        data = bytes(rest)
        if self.encrypted:
            assert self.keyring is not None
            try:
                data = self.keyring.decrypt(data, label)
            except DecodeError:
                if self.config.gossip_verify_incoming:
                    raise
        if data and data[0] == CRC_TYPE:
            data = bytes(strip_crc(data))
        if not data:
            raise TruncatedInput("empty message")
        return data

    def explode(self, data: bytes, depth: int = 0) -> list[bytes]:
        """The plain messages inside ``data``, unpacking compound and compress wrappers."""
        kind = data[0]
        if kind == COMPOUND_TYPE:
            split = split_compound(data)
            if split.truncated:
                self.stats.drop(DropReason.TRUNCATED_COMPOUND_PART, split.truncated)
            out: list[bytes] = []
            for part in split.parts:
                if not part:
                    self.stats.drop(DropReason.EMPTY_COMPOUND_PART)
                elif part[0] == COMPOUND_TYPE or part[0] == COMPRESS_TYPE:
                    out.extend(self._nested(part, depth))
                else:
                    out.append(part)
            return out
        if kind == COMPRESS_TYPE:
            return self._nested(data, depth)
        return [data]

    def _nested(self, data: bytes, depth: int) -> list[bytes]:
        if depth >= MAX_NESTING:
            raise MalformedMessage("wrappers nested too deeply")
        if data[0] == COMPRESS_TYPE:
            return self.explode(open_compressed(data), depth + 1)
        return self.explode(data, depth + 1)

    def stream_preamble(self) -> bytes:
        """What a dialer writes first on a new stream: the label header, if any."""
        return add_label(b"", self.label) if self.label else b""

    def wrap_stream(self, msg: bytes) -> bytes:
        """Apply compression and encryption to one outgoing stream message."""
        if self.compress:
            msg = make_compressed(msg)
        if self._seal_outgoing():
            assert self.keyring is not None
            length = encrypted_length(self.encryption_version, len(msg))
            header = bytes((ENCRYPT_TYPE,)) + length.to_bytes(4, "big")
            sealed = self.keyring.encrypt(
                msg, header + self.label, self.entropy, self.encryption_version
            )
            msg = header + sealed
        return msg

    def stream_decoder(self, inbound: bool) -> StreamDecoder:
        """The incremental decoder of one stream: what a peer dialed in (``inbound``, may start
        with the dialer's label header) or the reply to a stream we dialed."""
        return StreamDecoder(
            keyring=self.keyring,
            label=self.label,
            label_header=inbound,
            skip_label_check=self.config.skip_inbound_label_check,
            verify_incoming=self.config.gossip_verify_incoming,
            single_message=True,
        )

    @staticmethod
    def is_outer_layer_error(exc: DecodeError) -> bool:
        """Whether Go answers this stream failure with an error response (decrypt/compress)."""
        return isinstance(exc, (DecryptionFailed, UnsupportedEncoding))
