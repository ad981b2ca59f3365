"""Go duration strings (``"500ms"``, ``"30s"``, ``"1h15m"``) at the agent's edges.

Inside Python every duration is a ``float`` of seconds; config files and flags carry Go's
``time.ParseDuration`` syntax, and errors carry Go's texts so scripts that grep them still work.
"""

from __future__ import annotations

import re

_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?")
_UNIT = re.compile(r"[^0-9.]*")


class DurationError(ValueError):
    """A string is not a Go duration; ``str()`` is Go's message (``time: invalid duration "x"``)."""


def parse_duration(text: str) -> float:
    """Parse a Go duration string into seconds (``"1m30s"`` -> ``90.0``).

    Accepts an optional sign, then one or more ``<number><unit>`` parts with units ``ns``, ``us``
    (or ``µs``), ``ms``, ``s``, ``m``, ``h``; a bare ``0`` is allowed. Raises
    :class:`DurationError` with Go's wording otherwise.
    """
    quoted = f'"{text}"'
    rest = text
    sign = 1.0
    if rest[:1] in ("-", "+"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        number = _NUMBER.match(rest)
        assert number is not None  # the pattern matches the empty string
        whole, frac = number.group(1), number.group(2)
        if not whole and not frac:
            raise DurationError(f"time: invalid duration {quoted}")
        rest = rest[number.end() :]
        unit_match = _UNIT.match(rest)
        assert unit_match is not None
        unit = unit_match.group(0)
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        rest = rest[unit_match.end() :]
        value = float(f"{whole or '0'}.{frac or '0'}")
        total += value * _UNITS[unit]
    return sign * total


def format_duration(seconds: float) -> str:
    """Format seconds the way Go's ``time.Duration.String`` does (``90.0`` -> ``"1m30s"``)."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    nanos = round(abs(seconds) * 1e9)
    if nanos < 1_000:
        return f"{sign}{nanos}ns"
    if nanos < 1_000_000:
        return f"{sign}{_trim(nanos / 1e3)}µs"
    if nanos < 1_000_000_000:
        return f"{sign}{_trim(nanos / 1e6)}ms"
    hours, rem = divmod(nanos, 3_600_000_000_000)
    minutes, rem = divmod(rem, 60_000_000_000)
    secs = _trim(rem / 1e9)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"
