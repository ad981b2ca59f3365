"""I/O commands the core emits; the binding carries them out.

The core never performs I/O. After every input, the binding drains ``take_outputs()`` and, for
each command below, sends a datagram, opens/writes/closes a TCP stream, and reports back
(``stream_connected``/``stream_failed``/``receive_stream_data``). Events and operation results
(``serf_proto.events``) come out of the same ordered outbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from serf_proto.types import Address

__all__ = ["CloseStream", "IOCommand", "OpenStream", "SendPacket", "SendStream"]


@dataclass(frozen=True, slots=True)
class SendPacket:
    """Send one UDP datagram ``data`` to ``addr``."""

    addr: Address
    data: bytes


@dataclass(frozen=True, slots=True)
class OpenStream:
    """Open a TCP connection ``sid`` to ``addr`` within ``timeout`` seconds.

    The binding answers ``stream_connected(sid, now)`` or ``stream_failed(sid, reason, now)``.
    """

    sid: int
    addr: Address
    timeout: float


@dataclass(frozen=True, slots=True)
class SendStream:
    """Write ``data`` to the open stream ``sid``."""

    sid: int
    data: bytes


@dataclass(frozen=True, slots=True)
class CloseStream:
    """Close stream ``sid`` (after flushing what was written)."""

    sid: int


IOCommand = SendPacket | OpenStream | SendStream | CloseStream
