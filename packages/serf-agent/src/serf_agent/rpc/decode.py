"""Decoding RPC request maps the way Go's msgpack codec fills a struct.

Go's agent decodes every request into a typed struct with ``go-msgpack`` (``RawToString``).
The observable rules (docs/rpc.md §1.2) are reproduced here:

* a map fills fields by exact, case-sensitive key; unknown keys are ignored, missing keys keep
  the struct's current value (zero for a fresh body, the previous header's value for headers);
* an array fills fields positionally, in the Go declaration order;
* ``nil`` resets the struct to zero values;
* a string field must be a msgpack str (a bin value is an error), a ``[]byte`` field takes
  str or bin, a bool takes a bool or any integer, an unsigned field refuses negative numbers
  and floats, every number must fit the Go type.

Every violation raises ``FieldError`` (a ``ValueError``); the session then closes the
connection without a reply, as Go does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class FieldError(ValueError):
    """A request did not decode into its Go struct (the connection gets closed)."""


class Kind(Enum):
    """Go field types that occur in RPC requests."""

    STR = "string"
    BYTES = "[]uint8"
    BOOL = "bool"
    UINT8 = "uint8"
    INT32 = "int32"
    INT64 = "int64"
    UINT64 = "uint64"
    STR_LIST = "[]string"
    STR_MAP = "map[string]string"


@dataclass(frozen=True, slots=True)
class Field:
    """One struct field: its Go name and type."""

    name: str
    kind: Kind


_INT_RANGES = {
    Kind.UINT8: (0, 0xFF),
    Kind.INT32: (-(2**31), 2**31 - 1),
    Kind.INT64: (-(2**63), 2**63 - 1),
    Kind.UINT64: (0, 2**64 - 1),
}

_ZERO: dict[Kind, Any] = {
    Kind.STR: "",
    Kind.BYTES: None,
    Kind.BOOL: False,
    Kind.UINT8: 0,
    Kind.INT32: 0,
    Kind.INT64: 0,
    Kind.UINT64: 0,
    Kind.STR_LIST: None,
    Kind.STR_MAP: None,
}


def zero_struct(fields: tuple[Field, ...]) -> dict[str, Any]:
    """The Go zero value of a struct with ``fields`` (nil slices and maps are ``None``)."""
    return {f.name: _ZERO[f.kind] for f in fields}


def decode_struct(
    obj: object, fields: tuple[Field, ...], into: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Fill a struct with ``fields`` from a decoded msgpack value.

    ``into`` holds the values a missing key keeps (Go's reused struct); it defaults to zero
    values. Returns a new dict of Go field name to Python value; raises ``FieldError``.
    """
    result = dict(into) if into is not None else zero_struct(fields)
    if obj is None:
        return zero_struct(fields)
    if isinstance(obj, dict):
        for f in fields:
            if f.name in obj:
                result[f.name] = _convert(obj[f.name], f)
        return result
    if isinstance(obj, list):
        for f, value in zip(fields, obj, strict=False):
            result[f.name] = _convert(value, f)
        return result
    raise FieldError(f"cannot decode {_msgpack_type(obj)} into a struct")


def _convert(value: object, f: Field) -> Any:
    kind = f.kind
    if value is None:
        return _ZERO[kind]
    if kind is Kind.STR:
        return _string(value, f.name)
    if kind is Kind.BYTES:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise _mismatch(value, f)
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        raise _mismatch(value, f)
    if kind in _INT_RANGES:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _mismatch(value, f)
        low, high = _INT_RANGES[kind]
        if not low <= value <= high:
            raise FieldError(f"{f.name}: {value} overflows {kind.value}")
        return value
    if kind is Kind.STR_LIST:
        if not isinstance(value, list):
            raise _mismatch(value, f)
        return [_string(item, f.name) for item in value]
    if kind is Kind.STR_MAP:
        if not isinstance(value, dict):
            raise _mismatch(value, f)
        return {_string(k, f.name): _string(v, f.name) for k, v in value.items()}
    raise AssertionError(kind)  # pragma: no cover - Kind is exhaustive


def _string(value: object, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise FieldError(f"{name}: cannot decode {_msgpack_type(value)} into a string")


def _mismatch(value: object, f: Field) -> FieldError:
    return FieldError(f"{f.name}: cannot decode {_msgpack_type(value)} into {f.kind.value}")


def _msgpack_type(value: object) -> str:
    names = {
        bool: "bool",
        int: "int",
        float: "float",
        str: "str",
        bytes: "bin",
        list: "array",
        dict: "map",
    }
    return names.get(type(value), type(value).__name__)
