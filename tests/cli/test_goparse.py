"""Go's scalar parsers: ``strconv.ParseBool``, ``ParseInt(s, 0, 64)`` and ``time.ParseDuration``."""

from __future__ import annotations

import pytest
from serf_cli.goparse import GoParseError, parse_bool, parse_duration, parse_int

S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("t", True),
        ("TRUE", True),
        ("True", True),
        ("0", False),
        ("F", False),
        ("false", False),
    ],
)
def test_go_bools_are_recognised(text: str, value: bool) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["", "yes", "tRUE", "2", " true"])
def test_other_words_are_not_bools(text: str) -> None:
    with pytest.raises(GoParseError, match="parse error"):
        parse_bool(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("+42", 42),
        ("-42", -42),
        ("0x1F", 31),
        ("0X1f", 31),
        ("0o17", 15),
        ("017", 15),
        ("0b101", 5),
        ("1_000", 1000),
        ("0x_1f", 31),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
    ],
)
def test_ints_parse_with_go_base_prefixes(text: str, value: int) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "parse error"),
        ("+", "parse error"),
        ("0x", "parse error"),
        ("09", "parse error"),
        ("1_", "parse error"),
        ("_1", "parse error"),
        ("1__0", "parse error"),
        ("1.5", "parse error"),
        ("9223372036854775808", "value out of range"),
        ("٣", "parse error"),
    ],
)
def test_bad_ints_give_go_s_reason(text: str, reason: str) -> None:
    with pytest.raises(GoParseError) as info:
        parse_int(text)
    assert str(info.value) == reason


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("-0", 0),
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
        ("7µs", 7000),
        ("7μs", 7000),
        ("1m0.5s", 60_500_000_000),
    ],
)
def test_durations_parse_to_nanoseconds(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "1", "s", ".s", "1x", "1.5", "-", "1s2", "3000000h", "1 s"])
def test_bad_durations_are_parse_errors(text: str) -> None:
    with pytest.raises(GoParseError, match="parse error"):
        parse_duration(text)
