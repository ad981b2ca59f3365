"""The node's settings for the wire pipeline: ``MemberlistConfig`` in, pipeline options out.

The layers themselves, and their order, live in ``serf_proto.wire.packet`` (packets) and
``serf_proto.wire.stream`` (streams); the golden vectors, the fuzz targets and the dissector call
the same functions. This adapter only chooses their options as memberlist does (Go
``rawSendMsgPacket``, ``ingestPacket``, ``handleCommand``, ``readStream``):

* packets out: compress (only when smaller), CRC toward peers with protocol max ≥ 5, encrypt
  when a keyring is set and ``gossip_verify_outgoing``, then the label header;
* packets in: label rules (``skip_inbound_label_check``), decrypt (plaintext accepted when
  ``gossip_verify_incoming`` is off), CRC, then compound and compress wrappers, with truncated
  and empty compound parts counted in the node's ``stats.dropped`` (as ``DropReason``);
* streams out: compress, then encrypt with the ``0a | u32 length`` header as AAD; the dialer
  writes the label header first;
* streams in: one incremental ``StreamDecoder`` per stream, fed as bytes arrive.

``fast_wire`` (a simulator option) skips compression and encryption on send.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from serf_proto.config import MemberlistConfig
from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError, DecryptionFailed, UnsupportedEncoding
from serf_proto.memberlist.stats import MemberlistStats
from serf_proto.wire.framing import add_label
from serf_proto.wire.keyring import Keyring, encryption_overhead
from serf_proto.wire.packet import decode_packet_message, explode_packet, open_packet, seal_packet
from serf_proto.wire.stream import StreamDecoder, seal_stream

__all__ = ["WireIO", "decode_packet_message"]


class WireIO:
    """The wire pipeline options of one node."""

    __slots__ = (
        "_part_drops",
        "compress",
        "config",
        "encryption_version",
        "entropy",
        "keyring",
        "label",
        "seal_keyring",
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
        #: What ``explode_packet`` counted for the packet at hand (moved into ``stats``).
        self._part_drops: Counter[str] = Counter()
        #: The keyring outgoing data is sealed with (when it has keys), or None.
        seal = config.gossip_verify_outgoing and not config.fast_wire
        self.seal_keyring = keyring if seal else None

    @property
    def encrypted(self) -> bool:
        """Whether a keyring with at least one key is installed."""
        return self.keyring is not None and len(self.keyring) > 0

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
        return seal_packet(
            msg,
            compress=self.compress,
            crc=crc,
            keyring=self.seal_keyring,
            encryption_version=self.encryption_version,
            label=self.label,
            entropy=self.entropy,
        )

    def unwrap_packet(self, data: bytes) -> bytes:
        """Check the label, decrypt and CRC-check one datagram; returns the message inside."""
        return open_packet(
            data,
            keyring=self.keyring,
            label=self.label,
            skip_label_check=self.config.skip_inbound_label_check,
            verify_incoming=self.config.gossip_verify_incoming,
        )

    def explode(self, data: bytes) -> list[bytes]:
        """The plain messages inside ``data``; dropped compound parts go to the stats."""
        drops = self._part_drops
        try:
            return explode_packet(data, drops=drops)
        finally:
            if drops:
                for reason, count in drops.items():
                    self.stats.drop(DropReason(reason), count)
                drops.clear()

    def stream_preamble(self) -> bytes:
        """What a dialer writes first on a new stream: the label header, if any."""
        return add_label(b"", self.label) if self.label else b""

    def wrap_stream(self, msg: bytes) -> bytes:
        """Apply compression and encryption to one outgoing stream message."""
        return seal_stream(
            msg,
            compress=self.compress,
            keyring=self.seal_keyring,
            encryption_version=self.encryption_version,
            label=self.label,
            entropy=self.entropy,
        )

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
