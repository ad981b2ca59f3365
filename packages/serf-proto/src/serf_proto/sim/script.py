"""A scripted peer for single-exchange tests: build real packets, read a node's outputs.

``ScriptedPeer`` stands in for a remote node: it encodes real wire messages from its own name
and address, and :func:`sent_messages` decodes what the node under test emitted (unpacking
compound, compression and CRC layers), so a test can assert on a single exchange in the style
of ``foca``'s ``expect_message``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from serf_proto.memberlist.state import ip_bytes
from serf_proto.outputs import SendPacket, SendStream
from serf_proto.types import Address
from serf_proto.wire.framing import (
    COMPOUND_TYPE,
    COMPRESS_TYPE,
    CRC_TYPE,
    make_compound,
    open_compressed,
    split_compound,
    strip_crc,
)
from serf_proto.wire.messages import (
    Ack,
    Alive,
    Dead,
    IndirectPing,
    Message,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    decode_message,
    decode_stream_message,
    encode_message,
)

__all__ = ["ScriptedPeer", "Sent", "sent_messages", "stream_messages", "unpack_packet"]

#: Version bytes of a Go Serf 0.9 node: memberlist 1..5 speaking 2, Serf 2..5 speaking 5.
SERF_VSN = bytes((1, 5, 2, 2, 5, 5))


@dataclass(frozen=True, slots=True)
class Sent:
    """One message a node sent in a datagram to ``addr``."""

    addr: Address
    msg: Message


def unpack_packet(data: bytes) -> list[Message]:
    """Every message in one unencrypted datagram (CRC, compress and compound unwrapped)."""
    if data and data[0] == CRC_TYPE:
        data = bytes(strip_crc(data))
    out: list[Message] = []
    stack = [data]
    while stack:
        part = stack.pop(0)
        if part[0] == COMPOUND_TYPE:
            stack[0:0] = list(split_compound(part).parts)
        elif part[0] == COMPRESS_TYPE:
            stack.insert(0, open_compressed(part))
        else:
            out.append(decode_message(part))
    return out


def sent_messages(outputs: Iterable[Any], kind: type | None = None) -> list[Sent]:
    """The messages inside every ``SendPacket`` of ``outputs`` (only ``kind`` if given)."""
    found: list[Sent] = []
    for out in outputs:
        if isinstance(out, SendPacket):
            for msg in unpack_packet(out.data):
                if kind is None or isinstance(msg, kind):
                    found.append(Sent(out.addr, msg))
    return found


def stream_messages(outputs: Iterable[Any], sid: int) -> list[Message]:
    """The messages a node wrote to stream ``sid`` (unencrypted, compression unwrapped)."""
    found: list[Message] = []
    for out in outputs:
        if isinstance(out, SendStream) and out.sid == sid:
            data = out.data
            if data[0] == COMPRESS_TYPE:
                data = open_compressed(data)
            found.append(decode_stream_message(data))
    return found


class ScriptedPeer:
    """A fake remote node called ``name`` at ``addr`` that speaks the real wire format."""

    def __init__(self, name: str, addr: Address, vsn: bytes = SERF_VSN) -> None:
        self.name = name
        self.addr = addr
        self.vsn = vsn
        self.ip = ip_bytes(addr.host)
        self.incarnation = 1

    def alive(self, incarnation: int | None = None, meta: bytes = b"") -> Alive:
        """Our alive message."""
        inc = self.incarnation if incarnation is None else incarnation
        return Alive(inc, self.name, self.ip, self.addr.port, meta, self.vsn)

    def ping(self, seq: int, target: str) -> Ping:
        """A direct probe of ``target`` asking for the ack at our address."""
        return Ping(seq, target, self.ip, self.addr.port, self.name)

    def indirect_ping(self, seq: int, target: ScriptedPeer, nack: bool = True) -> IndirectPing:
        """Ask the node under test to probe ``target`` for us."""
        return IndirectPing(
            seq, target.ip, target.addr.port, target.name, nack, self.ip, self.addr.port, self.name
        )

    def ack(self, seq: int, payload: bytes = b"") -> Ack:
        """An ack for ``seq``."""
        return Ack(seq, payload)

    def nack(self, seq: int) -> Nack:
        """A nack for ``seq``."""
        return Nack(seq)

    def suspect(self, node: str, incarnation: int) -> Suspect:
        """We suspect ``node``."""
        return Suspect(incarnation, node, self.name)

    def dead(self, node: str, incarnation: int) -> Dead:
        """We declare ``node`` dead (or, for our own name, that we leave)."""
        return Dead(incarnation, node, self.name)

    def push_pull(
        self, join: bool, states: Iterable[PushNodeState] = (), user: bytes = b""
    ) -> PushPull:
        """A push/pull carrying our own entry plus ``states``."""
        me = PushNodeState(self.name, self.ip, self.addr.port, b"", self.incarnation, 0, self.vsn)
        return PushPull(join, (me, *states), user)

    @staticmethod
    def packet(*msgs: Message) -> bytes:
        """One datagram with ``msgs`` (a compound when there are several)."""
        encoded = [encode_message(m) for m in msgs]
        return encoded[0] if len(encoded) == 1 else make_compound(encoded)
