"""Go's ``time.ParseDuration`` and ``Duration.String``: values, range and error texts."""

from __future__ import annotations

import pytest
from serf_proto.gocompat import DurationError, format_duration, parse_duration

S = 1_000_000_000
MAX = (1 << 63) - 1


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("-0", 0),
        ("+0", 0),
        ("0s", 0),
        ("1s", S),
        ("+1s", S),
        ("-1.5s", -1_500_000_000),
        ("300ms", 300_000_000),
        ("1h2m3s", 3723 * S),
        ("2h45m", 9900 * S),
        ("1.5h", 5400 * S),
        (".5s", 500_000_000),
        ("1.s", S),
        ("100ns", 100),
        ("7us", 7000),
        ("7\u00b5s", 7000),
        ("7\u03bcs", 7000),
        ("1m0.5s", 60_500_000_000),
        ("1h1h", 7200 * S),
        ("0.3333333333333333333333h", 1_200_000_000_000),
        ("2562047h47m16.854775807s", MAX),
        ("-2562047h47m16.854775808s", -(1 << 63)),
        ("9223372036854775807ns", MAX),
        ("0.000000001s", 1),
        ("0.0000000009s", 0),
    ],
)
def test_durations_parse_to_nanoseconds(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("abc", 'time: invalid duration "abc"'),
        ("-", 'time: invalid duration "-"'),
        (".s", 'time: invalid duration ".s"'),
        ("1 s", 'time: unknown unit " s" in duration "1 s"'),
        ("30", 'time: missing unit in duration "30"'),
        ("1s2", 'time: missing unit in duration "1s2"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("1\u00b5", 'time: unknown unit "\\xc2\\xb5" in duration "1\\xc2\\xb5"'),
        ("2562048h", 'time: invalid duration "2562048h"'),
        ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
        ("99999999999999999999s", 'time: invalid duration "99999999999999999999s"'),
        ('1"s', 'time: unknown unit "\\"s" in duration "1\\"s"'),
    ],
)
def test_bad_durations_get_go_s_error_text(text: str, message: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5\u00b5s"),
        (500_000_000, "500ms"),
        (1_100_000, "1.1ms"),
        (30 * S, "30s"),
        (90 * S, "1m30s"),
        (3600 * S, "1h0m0s"),
        (4500 * S, "1h15m0s"),
        (-1_500_000_000, "-1.5s"),
        (MAX, "2562047h47m16.854775807s"),
        (-(1 << 63), "-2562047h47m16.854775808s"),
    ],
)
def test_durations_format_like_go(ns: int, text: str) -> None:
    assert format_duration(ns) == text


def test_formatting_round_trips_through_parsing() -> None:
    for ns in (1, 999, 1_000, 123_456_789, 61 * S + 5, 7 * 3600 * S + 1):
        assert parse_duration(format_duration(ns)) == ns
