"""Go's scalar parsers, as the ``flag`` package applies them to flag values.

``parse_bool`` is ``strconv.ParseBool``, ``parse_int`` is ``strconv.ParseInt(s, 0, 64)`` (base
prefixes ``0x``/``0o``/``0b``, a leading ``0`` for octal, ``_`` between digits) and
``parse_duration`` is ``time.ParseDuration`` returning integer nanoseconds. Each raises
:class:`GoParseError` whose text is the one Go 1.19's ``flag`` package prints for that failure
(``parse error`` or ``value out of range``).
"""

from __future__ import annotations

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)

#: Nanoseconds per unit, as ``time.ParseDuration`` accepts them.
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}


class GoParseError(ValueError):
    """A flag value Go would reject; ``str()`` is Go's short reason (``parse error``...)."""


def parse_bool(text: str) -> bool:
    """Parse ``text`` as Go's ``strconv.ParseBool`` does."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise GoParseError("parse error")


def _underscores_ok(text: str) -> bool:
    """Go's ``underscoreOK``: ``_`` only between digits or after a base prefix."""
    saw = "^"
    i = 0
    if text and text[0] in "+-":
        text = text[1:]
    hexa = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = text[1].lower() == "x"
    while i < len(text):
        ch = text[i]
        if (ch.isascii() and ch.isdigit()) or (hexa and ch.lower() in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_int(text: str) -> int:
    """Parse ``text`` as ``strconv.ParseInt(text, 0, 64)``."""
    if not text:
        raise GoParseError("parse error")
    body = text
    negative = False
    if body[0] in "+-":
        negative = body[0] == "-"
        body = body[1:]
    base = 10
    digits = body
    if len(body) >= 2 and body[0] == "0":
        prefix = body[1].lower()
        if prefix in "box":
            base = {"b": 2, "o": 8, "x": 16}[prefix]
            digits = body[2:]
        else:
            base = 8
            digits = body[1:]
    if "_" in digits and not _underscores_ok(text):
        raise GoParseError("parse error")
    digits = digits.replace("_", "")
    if not digits and base != 8:
        raise GoParseError("parse error")
    value = 0
    for ch in digits:
        digit = int(ch, 36) if ch.isascii() and ch.isalnum() else 99
        if digit >= base:
            raise GoParseError("parse error")
        value = value * base + digit
    if negative:
        value = -value
    if value > _INT64_MAX or value < _INT64_MIN:
        raise GoParseError("value out of range")
    return value


def _leading_int(text: str) -> tuple[int, str]:
    """Consume leading decimal digits; overflow beyond 2**63 is an error, as in Go."""
    i = 0
    value = 0
    while i < len(text) and "0" <= text[i] <= "9":
        value = value * 10 + (ord(text[i]) - 48)
        if value > 1 << 63:
            raise GoParseError("parse error")
        i += 1
    return value, text[i:]


def _leading_fraction(text: str) -> tuple[int, float, str]:
    """Consume fraction digits; returns (digits as int, scale, rest), ignoring overflow digits."""
    i = 0
    value = 0
    scale = 1.0
    overflow = False
    while i < len(text) and "0" <= text[i] <= "9":
        if not overflow:
            if value > (_INT64_MAX - 9) // 10:
                overflow = True
            else:
                value = value * 10 + (ord(text[i]) - 48)
                scale *= 10
        i += 1
    return value, scale, text[i:]


def parse_duration(text: str) -> int:
    """Parse a Go duration string (``1.5s``, ``300ms``, ``-2h45m``) into nanoseconds."""
    rest = text
    negative = False
    if rest and rest[0] in "+-":
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise GoParseError("parse error")
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise GoParseError("parse error")
        before = len(rest)
        whole, rest = _leading_int(rest)
        has_whole = len(rest) != before
        frac, scale, has_frac = 0, 1.0, False
        if rest.startswith("."):
            rest = rest[1:]
            before = len(rest)
            frac, scale, rest = _leading_fraction(rest)
            has_frac = len(rest) != before
        if not has_whole and not has_frac:
            raise GoParseError("parse error")
        i = 0
        while i < len(rest) and rest[i] != "." and not "0" <= rest[i] <= "9":
            i += 1
        unit_name, rest = rest[:i], rest[i:]
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise GoParseError("parse error")
        if whole > (1 << 63) // unit:
            raise GoParseError("parse error")
        value = whole * unit
        if frac:
            value += int(frac * (unit / scale))
        total += value
        if total > 1 << 63:
            raise GoParseError("parse error")
    if negative:
        return -total
    if total > _INT64_MAX:
        raise GoParseError("parse error")
    return total
