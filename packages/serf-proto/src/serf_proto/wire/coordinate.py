"""Vivaldi network coordinates on the wire, and Serf's ping-ack payload that carries them.

A ``Coordinate`` is written as the msgpack map ``{Adjustment, Error, Height, Vec}`` (float64
everywhere; Adjustment, Height and Vec in seconds). Serf's ack payload is ``01`` (ping version)
followed by that map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from serf_proto.errors import MalformedMessage, TruncatedInput, UnsupportedEncoding
from serf_proto.wire.gomsgpack import as_map, get_float, pack, unpack

#: Serf's ``PingVersion``: the first byte of its ack payload.
PING_VERSION = 1
#: Dimensionality of Serf's default coordinate space.
DEFAULT_DIMENSIONALITY = 8


def _zero_vec() -> tuple[float, ...]:
    return (0.0,) * DEFAULT_DIMENSIONALITY


@dataclass(frozen=True, slots=True)
class Coordinate:
    """A Vivaldi coordinate: ``vec`` and ``height``/``adjustment`` in seconds, unitless error.

    The default is Go's ``NewCoordinate``: the origin with error 1.5 and height 1e-5.
    """

    vec: tuple[float, ...] = field(default_factory=_zero_vec)
    error: float = 1.5
    adjustment: float = 0.0
    height: float = 1.0e-5


def encode_coordinate(c: Coordinate) -> bytes:
    """msgpack form of a coordinate (sorted keys, float64 values)."""
    return pack(
        {
            "Adjustment": float(c.adjustment),
            "Error": float(c.error),
            "Height": float(c.height),
            "Vec": [float(x) for x in c.vec],
        }
    )


def decode_coordinate(data: bytes | memoryview) -> Coordinate:
    """Decode a msgpack coordinate. Raises ``DecodeError``."""
    d = as_map(unpack(data), "coordinate")
    raw_vec = d.get(b"Vec")
    if raw_vec is None:
        raw_vec = []
    if type(raw_vec) is not list:
        raise MalformedMessage("Vec: expected an array")
    if all(type(x) is float for x in raw_vec):
        vec = tuple(raw_vec)
    else:
        vec = tuple(_as_float(x) for x in raw_vec)
    return Coordinate(
        vec, get_float(d, b"Error"), get_float(d, b"Adjustment"), get_float(d, b"Height")
    )


def _as_float(x: object) -> float:
    if type(x) is float or type(x) is int:
        return float(x)
    raise MalformedMessage(f"Vec: expected a float, got {type(x).__name__}")


_PING_VERSION_BYTE = bytes((PING_VERSION,))


def encode_ack_payload(c: Coordinate) -> bytes:
    """Serf's ping-ack payload: ``01`` + msgpack coordinate."""
    return _PING_VERSION_BYTE + encode_coordinate(c)


def decode_ack_payload(payload: bytes | memoryview) -> Coordinate:
    """Decode Serf's ping-ack payload; a version other than 1 raises ``UnsupportedEncoding``."""
    if not payload:
        raise TruncatedInput("empty ack payload")
    if payload[0] != PING_VERSION:
        raise UnsupportedEncoding(f"unsupported ping version {payload[0]}")
    return decode_coordinate(payload[1:])
