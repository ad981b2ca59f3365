"""msgpack as Go writes it (go-msgpack 0.5 ``MsgpackHandle{}``), and a lenient reader.

Writing: msgpack-python with ``use_bin_type=False`` already produces go-msgpack 0.5's layout:
strings *and* byte slices in the old raw family (fixstr, ``da`` str16, ``db`` str32; never str8 or
bin), non-negative integers in the smallest unsigned form, floats as float64, ``c0`` for nil. The
one rule the library cannot know is key order: Go sorts struct keys by byte value, so every
encoder in this package builds its dict with keys already in sorted order (Python dicts keep
insertion order). Go maps (tags, ``StatusLTimes``) are written in the dict's own order.

Reading: ``unpack`` accepts every msgpack form newer Go or other implementations write (bin for
byte fields, str8, signed int markers from go-msgpack v2), and turns any failure into
``DecodeError``. The ``get_*`` helpers read one struct field with Go's zero value for a missing
key and check the type and range, raising ``MalformedMessage`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from serf_proto.errors import MalformedMessage, TruncatedInput

_PACKER = msgpack.Packer(use_bin_type=False, autoreset=True)

#: Encode one object Go-style (see module docstring); dict keys must already be in Go's order.
pack: Callable[[Any], bytes] = _PACKER.pack

_U8 = 0xFF
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
U64_MAX = 0xFFFFFFFFFFFFFFFF
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1


def unpack(data: bytes | memoryview) -> Any:
    """Decode the first msgpack object in ``data``; trailing bytes are ignored, as Go does."""
    try:
        return msgpack.unpackb(data, raw=True)
    except msgpack.ExtraData as extra:
        return extra.unpacked
    except msgpack.OutOfData as exc:
        raise TruncatedInput("msgpack object is truncated") from exc
    except ValueError as exc:
        if "incomplete" in str(exc):
            raise TruncatedInput("msgpack object is truncated") from exc
        raise MalformedMessage(f"invalid msgpack: {exc}") from exc
    except Exception as exc:  # msgpack raises assorted types (TypeError, StackError, ...)
        raise MalformedMessage(f"invalid msgpack: {exc}") from exc


def as_map(obj: Any, what: str) -> dict[bytes, Any]:
    """Return ``obj`` if it is a msgpack map (a Go struct), else raise ``MalformedMessage``."""
    if type(obj) is not dict:
        raise MalformedMessage(f"{what}: expected a map, got {type(obj).__name__}")
    return obj


def to_uint(v: Any, limit: int, what: str) -> int:
    """Convert a decoded value to an unsigned integer no larger than ``limit``; nil → 0."""
    if type(v) is int:
        if 0 <= v <= limit:
            return v
        raise MalformedMessage(f"{what}: {v} out of range")
    if type(v) is bool:  # go-msgpack decodes a bool into an int field as 0/1
        return int(v)
    if v is None:
        return 0
    raise MalformedMessage(f"{what}: expected an integer, got {type(v).__name__}")


def _uint(d: dict[bytes, Any], key: bytes, limit: int) -> int:
    v = d.get(key, 0)
    if type(v) is int and 0 <= v <= limit:
        return v
    return to_uint(v, limit, key.decode())


def get_u8(d: dict[bytes, Any], key: bytes) -> int:
    """Read a Go ``uint8`` field (missing → 0)."""
    return _uint(d, key, _U8)


def get_u16(d: dict[bytes, Any], key: bytes) -> int:
    """Read a Go ``uint16`` field (missing → 0)."""
    return _uint(d, key, _U16)


def get_u32(d: dict[bytes, Any], key: bytes) -> int:
    """Read a Go ``uint32`` field (missing → 0)."""
    return _uint(d, key, _U32)


def get_u64(d: dict[bytes, Any], key: bytes) -> int:
    """Read a Go ``uint64`` field (missing → 0)."""
    return _uint(d, key, U64_MAX)


def get_int(d: dict[bytes, Any], key: bytes) -> int:
    """Read a Go ``int``/``int64`` field (missing → 0); any msgpack integer form is accepted."""
    v = d.get(key, 0)
    if type(v) is int:
        if _I64_MIN <= v <= _I64_MAX:
            return v
        raise MalformedMessage(f"{key.decode()}: {v} out of range")
    if type(v) is bool:
        return int(v)
    if v is None:
        return 0
    raise MalformedMessage(f"{key.decode()}: expected an integer, got {type(v).__name__}")


def get_bool(d: dict[bytes, Any], key: bytes) -> bool:
    """Read a Go ``bool`` field (missing → False); integers 0/1 are accepted as Go does."""
    v = d.get(key, False)
    if type(v) is bool:
        return v
    if type(v) is int:
        return v != 0
    if v is None:
        return False
    raise MalformedMessage(f"{key.decode()}: expected a bool, got {type(v).__name__}")


def get_float(d: dict[bytes, Any], key: bytes) -> float:
    """Read a Go ``float64`` field (missing → 0.0); integers are accepted."""
    v = d.get(key, 0.0)
    if type(v) is float:
        return v
    if type(v) is int:
        return float(v)
    if v is None:
        return 0.0
    raise MalformedMessage(f"{key.decode()}: expected a float, got {type(v).__name__}")


def to_str(v: Any, what: str) -> str:
    """Convert a decoded raw value to ``str`` (UTF-8); nil → ``""``."""
    if type(v) is bytes:
        try:
            return v.decode()
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"{what}: not valid UTF-8") from exc
    if v is None:
        return ""
    raise MalformedMessage(f"{what}: expected a string, got {type(v).__name__}")


def get_str(d: dict[bytes, Any], key: bytes) -> str:
    """Read a Go ``string`` field (missing or nil → ``""``)."""
    v = d.get(key)
    if type(v) is bytes:
        try:
            return v.decode()
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"{key.decode()}: not valid UTF-8") from exc
    return to_str(v, key.decode())


def get_bytes(d: dict[bytes, Any], key: bytes) -> bytes:
    """Read a Go ``[]byte`` field (missing or nil → ``b""``); raw, str8 and bin all accepted."""
    v = d.get(key)
    if type(v) is bytes:
        return v
    if v is None:
        return b""
    if type(v) is list:  # a byte slice written as an array of small ints (Go accepts it)
        try:
            return bytes(v)
        except (TypeError, ValueError) as exc:
            raise MalformedMessage(f"{key.decode()}: bad byte array") from exc
    raise MalformedMessage(f"{key.decode()}: expected bytes, got {type(v).__name__}")


def get_opt_bytes(d: dict[bytes, Any], key: bytes) -> bytes | None:
    """Read a Go ``[]byte`` field keeping nil apart: missing or nil → ``None``."""
    v = d.get(key)
    if v is None:
        return None
    return get_bytes(d, key)


def get_str_list(d: dict[bytes, Any], key: bytes) -> tuple[str, ...] | None:
    """Read a Go ``[]string`` field; nil or missing → ``None``."""
    v = d.get(key)
    if v is None:
        return None
    if type(v) is not list:
        raise MalformedMessage(f"{key.decode()}: expected an array, got {type(v).__name__}")
    name = key.decode()
    return tuple(to_str(item, name) for item in v)


def get_str_map(d: dict[bytes, Any], key: bytes) -> dict[str, str]:
    """Read a Go ``map[string]string`` field (missing or nil → empty), keeping wire order."""
    v = d.get(key)
    if v is None:
        return {}
    return str_map(v, key.decode())


def str_map(v: Any, what: str) -> dict[str, str]:
    """Convert a decoded msgpack map to ``dict[str, str]`` keeping its order."""
    if type(v) is not dict:
        raise MalformedMessage(f"{what}: expected a map, got {type(v).__name__}")
    return {to_str(k, what): to_str(val, what) for k, val in v.items()}
