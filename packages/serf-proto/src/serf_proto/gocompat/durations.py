"""Go's ``time.ParseDuration`` and ``time.Duration.String``, in integer nanoseconds.

Durations travel as Go text (``"500ms"``, ``"1h15m"``) in flags and config files; Python has no
parser for that syntax, and the edge cases scripts can see (the ``µ``/``μ`` spellings, the
int64 nanosecond range ending at ``2562047h47m16.854775807s``, fraction rounding and Go's error
texts) are reproduced here. :class:`DurationError` carries Go's full message
(``time: invalid duration "x"``); the ``flag`` package reports any of them as ``parse error``.
"""

from __future__ import annotations

SECOND = 1_000_000_000

#: Nanoseconds per unit, as ``time.ParseDuration`` accepts them.
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": SECOND,
    "m": 60 * SECOND,
    "h": 3600 * SECOND,
}
_LIMIT = 1 << 63  # int64 range: magnitudes up to 2**63 are representable only when negative


class DurationError(ValueError):
    """Text Go's ``time.ParseDuration`` refuses; ``str()`` is Go's message."""


def _quote(text: str) -> str:
    """The ``time`` package's own quoting: bytes outside printable ASCII as ``\\xNN``."""
    out = ['"']
    for ch in text:
        if ord(ch) < 0x20 or ord(ch) >= 0x80:
            raw = ch.encode("utf-8", "surrogateescape")
            out.extend(f"\\x{b:02x}" for b in raw)
        else:
            if ch in ('"', "\\"):
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def _leading_int(text: str) -> tuple[int, str] | None:
    """Leading decimal digits and the rest; ``None`` when they overflow 2**63."""
    i = 0
    value = 0
    while i < len(text) and "0" <= text[i] <= "9":
        value = value * 10 + ord(text[i]) - 48
        if value > _LIMIT:
            return None
        i += 1
    return value, text[i:]


def _leading_fraction(text: str) -> tuple[int, float, str]:
    """Fraction digits as (value, scale, rest); digits past int64 precision are dropped."""
    i = 0
    value = 0
    scale = 1.0
    overflow = False
    while i < len(text) and "0" <= text[i] <= "9":
        if not overflow:
            nxt = value * 10 + ord(text[i]) - 48
            if value > (_LIMIT - 1) // 10 or nxt > _LIMIT:
                overflow = True
            else:
                value = nxt
                scale *= 10
        i += 1
    return value, scale, text[i:]


def parse_duration(text: str) -> int:
    """Parse a Go duration (``1.5s``, ``300ms``, ``-2h45m``) into integer nanoseconds.

    Raises :class:`DurationError` with Go's text for anything Go refuses.
    """
    invalid = DurationError(f"time: invalid duration {_quote(text)}")
    rest = text
    negative = False
    if rest and rest[0] in "+-":
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise invalid
        before = len(rest)
        leading = _leading_int(rest)
        if leading is None:
            raise invalid
        whole, rest = leading
        has_whole = len(rest) != before
        frac, scale, has_frac = 0, 1.0, False
        if rest.startswith("."):
            rest = rest[1:]
            before = len(rest)
            frac, scale, rest = _leading_fraction(rest)
            has_frac = len(rest) != before
        if not has_whole and not has_frac:
            raise invalid
        i = 0
        while i < len(rest) and rest[i] != "." and not "0" <= rest[i] <= "9":
            i += 1
        if i == 0:
            raise DurationError(f"time: missing unit in duration {_quote(text)}")
        unit_name, rest = rest[:i], rest[i:]
        unit = _UNITS.get(unit_name)
        if unit is None:
            raise DurationError(
                f"time: unknown unit {_quote(unit_name)} in duration {_quote(text)}"
            )
        if whole > _LIMIT // unit:
            raise invalid
        value = whole * unit
        if frac:
            value += int(float(frac) * (float(unit) / scale))
            if value > _LIMIT:
                raise invalid
        total += value
        if total > _LIMIT:
            raise invalid
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise invalid
    return total


def _format_fraction(value: int, precision: int) -> tuple[str, int]:
    """``fmtFrac``: ``value`` with ``precision`` decimals, trailing zeros (and ``.``) dropped."""
    digits = ""
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if printed else ""), value


def format_duration(nanos: int) -> str:
    """``time.Duration.String``: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    u = abs(nanos)
    if u < SECOND:
        for precision, unit in ((0, "ns"), (3, "\u00b5s"), (6, "ms")):
            if u < 10 ** (precision + 3):
                frac, whole = _format_fraction(u, precision)
                return f"{sign}{whole}{frac}{unit}"
    frac, secs = _format_fraction(u, 9)
    text = f"{secs % 60}{frac}s"
    minutes = secs // 60
    if minutes:
        text = f"{minutes % 60}m" + text
        hours = minutes // 60
        if hours:
            text = f"{hours}h" + text
    return sign + text
