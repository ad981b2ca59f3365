"""Fuzz targets over the pure core: each takes one input and fails only on a real bug.

A target returns normally when the input was handled as the contract says: the codec raises only
``DecodeError``; the membership core and the Serf node never raise on remote input at all
(garbage is dropped and counted). Any other exception escapes to the caller, which counts it as
a finding. Nothing here opens a socket or reads a clock: time is a plain float.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from serf_proto.outputs import CloseStream, SendPacket
from serf_proto.serf import SerfConfig, SerfNode
from serf_proto.types import Address
from serf_proto.wire import (
    Ack,
    DecodeError,
    Ping,
    StreamDecoder,
    decode_filters,
    decode_packet,
    decode_serf_message,
    encode_message,
)
from serf_proto.wire.messages import UserMsg

PEER = Address("10.213.0.99", 7946)


def packet_target(data: bytes) -> None:
    """Decode one UDP payload, and every Serf message inside it."""
    try:
        decoded = decode_packet(data)
    except DecodeError:
        return
    for msg in decoded.messages:
        if isinstance(msg, UserMsg) and msg.payload:
            serf_message_target(bytes(msg.payload))


def serf_message_target(data: bytes) -> None:
    """Decode one Serf message (and the filters of a query)."""
    try:
        msg = decode_serf_message(data)
    except DecodeError:
        return
    filters = getattr(msg, "filters", None)
    if filters:
        try:
            decode_filters(filters)
        except DecodeError:
            return


def stream_target(chunks: Sequence[bytes]) -> None:
    """Feed one TCP connection's bytes to a ``StreamDecoder`` in the given chunks, then EOF:
    once reading every message, once as the node reads a stream (its first message only)."""
    for single in (False, True):
        decoder = StreamDecoder(single_message=single)
        try:
            for chunk in chunks:
                decoder.feed(chunk)
            decoder.feed(b"")
        except DecodeError:
            continue


class NodeTarget:
    """A live pure ``SerfNode`` that swallows hostile packets and streams.

    Inputs never raise; the node must stay usable (its timers keep running, it still answers a
    well-formed ping) and must count what it dropped.
    """

    def __init__(self, seed: int = 0) -> None:
        self.now = 1000.0
        self.node = SerfNode(
            SerfConfig.lan("fuzz", protocol_version=5),
            now=self.now,
            rng=random.Random(seed),
            entropy=random.Random(seed + 1).randbytes,
        )
        self.node.take_outputs()

    def packet(self, data: bytes) -> None:
        self.now += 0.001
        self.node.receive_packet(PEER, data, self.now)
        self._tick()

    def stream(self, chunks: Sequence[bytes]) -> bool:
        """Deliver one inbound connection's bytes then EOF; True if the node closed it."""
        self.now += 0.001
        sid = self.node.accept_stream(PEER, self.now)
        for chunk in chunks:
            self.node.receive_stream_data(sid, chunk, self.now)
        self.node.receive_stream_data(sid, b"", self.now)
        closed = any(isinstance(o, CloseStream) and o.sid == sid for o in self.node.take_outputs())
        self._tick()
        return closed

    def _tick(self) -> None:
        deadline = self.node.next_timer()
        if deadline is not None and deadline <= self.now:
            self.node.handle_timer(self.now)
        self.node.take_outputs()

    def advance(self, seconds: float) -> None:
        """Run the node's timers for `seconds` of virtual time."""
        end = self.now + seconds
        while True:
            deadline = self.node.next_timer()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.node.handle_timer(self.now)
            self.node.take_outputs()
        self.now = end

    def answers_ping(self, seq_no: int = 4242) -> bool:
        """Send a well-formed ping; True if the node acks it to the sender."""
        self.now += 0.001
        ping = Ping(seq_no, "fuzz", bytes([10, 213, 0, 99]), PEER.port, "prober")
        self.node.receive_packet(PEER, encode_message(ping), self.now)
        for out in self.node.take_outputs():
            if isinstance(out, SendPacket) and out.addr == PEER:
                for msg in decode_packet(out.data).messages:
                    if isinstance(msg, Ack) and msg.seq_no == seq_no:
                        return True
        return False

    def dropped_total(self) -> int:
        """Inputs dropped so far by the membership core and the Serf layer."""
        ml = sum(self.node.memberlist.stats.dropped.values())
        return ml + sum(self.node.dropped.values())
