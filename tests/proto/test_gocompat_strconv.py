"""Go's ``strconv``: ``ParseBool``, ``ParseInt(s, 0, 64)`` with the ``flag`` package's reasons."""

from __future__ import annotations

import pytest
from serf_proto.gocompat import GoParseError, parse_bool, parse_int


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
        ("0b_1_0", 2),
        ("0o_7", 7),
        ("0_17", 15),
        ("-0x8000000000000000", -(2**63)),
        ("00", 0),
        ("0", 0),
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
        ("0x_", "parse error"),
        ("0_", "parse error"),
        ("0b2", "parse error"),
        ("08", "parse error"),
        ("+-1", "parse error"),
        (" 1", "parse error"),
        ("0x8000000000000000", "value out of range"),
        ("-9223372036854775809", "value out of range"),
        ("18446744073709551616", "value out of range"),
        # Go stops at the first digit that overflows uint64, before a later syntax error.
        ("99999999999999999999x", "value out of range"),
        ("9223372036854775808x", "parse error"),
    ],
)
def test_bad_ints_give_go_s_reason(text: str, reason: str) -> None:
    with pytest.raises(GoParseError) as info:
        parse_int(text)
    assert str(info.value) == reason
