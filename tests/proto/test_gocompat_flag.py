"""The flag parser follows Go's ``flag`` package: syntax, stopping rules, values and errors."""

from __future__ import annotations

import pytest
from serf_proto.gocompat import FlagError, FlagSet, HelpRequestedError, unmarshal_tags


def flagset() -> FlagSet:
    fs = FlagSet()
    fs.string("name", "dflt")
    fs.boolean("on", True)
    fs.boolean("off")
    fs.integer("n", 7)
    fs.duration("timeout", 0)
    fs.repeated("tag")
    return fs


PARSES = [
    # (args, positional rest, {flag: expected value})
    ([], [], {"name": "dflt", "on": True, "off": False, "n": 7, "timeout": 0, "tag": []}),
    (["-name=x"], [], {"name": "x"}),
    (["-name", "x"], [], {"name": "x"}),
    (["--name=x"], [], {"name": "x"}),
    (["--name", "x"], [], {"name": "x"}),
    (["-name="], [], {"name": ""}),
    (["-name", "-off"], [], {"name": "-off", "off": False}),
    (["-name=a=b"], [], {"name": "a=b"}),
    (["-off"], [], {"off": True}),
    (["-on=false"], [], {"on": False}),
    (["-on=0", "-off=T"], [], {"on": False, "off": True}),
    (["-off", "false"], ["false"], {"off": True}),
    (["-n=0x1f"], [], {"n": 31}),
    (["-n", "-5"], [], {"n": -5}),
    (["-n=010"], [], {"n": 8}),
    (["-n=1_000"], [], {"n": 1000}),
    (["-timeout=1.5s"], [], {"timeout": 1_500_000_000}),
    (["-timeout", "2h45m"], [], {"timeout": (2 * 3600 + 45 * 60) * 10**9}),
    (["-tag", "a=1", "-tag=b=2"], [], {"tag": ["a=1", "b=2"]}),
    (["pos", "-off"], ["pos", "-off"], {"off": False}),
    (["-off", "--", "-n=1"], ["-n=1"], {"off": True, "n": 7}),
    (["-", "-off"], ["-", "-off"], {"off": False}),
    (["-name", "x", "a", "b"], ["a", "b"], {"name": "x"}),
]


@pytest.mark.parametrize(
    ("args", "rest", "values"), PARSES, ids=[" ".join(p[0]) or "none" for p in PARSES]
)
def test_flags_parse_like_go(args: list[str], rest: list[str], values: dict[str, object]) -> None:
    fs = flagset()
    assert fs.parse(args) == rest
    for name, expected in values.items():
        flag = fs.flags[name]
        assert flag.value == expected, name


ERRORS = [
    (["-bogus"], "flag provided but not defined: -bogus"),
    (["--bogus=1"], "flag provided but not defined: -bogus"),
    (["-name"], "flag needs an argument: -name"),
    (["---x"], "bad flag syntax: ---x"),
    (["-=x"], "bad flag syntax: -=x"),
    (["-on=maybe"], 'invalid boolean value "maybe" for -on: parse error'),
    (["-n=abc"], 'invalid value "abc" for flag -n: parse error'),
    (
        ["-n=99999999999999999999"],
        'invalid value "99999999999999999999" for flag -n: value out of range',
    ),
    (["-n=08"], 'invalid value "08" for flag -n: parse error'),
    (["-n=1__0"], 'invalid value "1__0" for flag -n: parse error'),
    (["-timeout=10"], 'invalid value "10" for flag -timeout: parse error'),
    (["-timeout=1.5q"], 'invalid value "1.5q" for flag -timeout: parse error'),
    (["-timeout", ""], 'invalid value "" for flag -timeout: parse error'),
    (["-name=\t"], None),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[" ".join(e[0]) for e in ERRORS])
def test_bad_flags_raise_go_s_error_text(args: list[str], message: str | None) -> None:
    fs = flagset()
    if message is None:
        fs.parse(args)
        return
    with pytest.raises(FlagError) as info:
        fs.parse(args)
    assert str(info.value) == message


@pytest.mark.parametrize("arg", ["-h=1", "-help=x", "--h=true"])
def test_help_flags_with_values_request_help(arg: str) -> None:
    with pytest.raises(HelpRequestedError):
        flagset().parse([arg])


def test_a_flag_defined_twice_is_a_programming_error() -> None:
    fs = flagset()
    with pytest.raises(ValueError, match="redefined"):
        fs.string("name")


def test_was_set_tells_given_flags_from_defaults() -> None:
    fs = flagset()
    fs.parse(["-name=dflt"])
    assert fs.was_set("name")
    assert not fs.was_set("on")


def test_tags_split_at_the_first_equals_sign_like_serf() -> None:
    assert unmarshal_tags(["role=web", "dc=a=b", "empty="]) == {
        "role": "web",
        "dc": "a=b",
        "empty": "",
    }
    for bad in ("novalue", "=v"):
        with pytest.raises(ValueError) as info:
            unmarshal_tags([bad])
        assert str(info.value) == f"Invalid tag: '{bad}'"


def test_given_lists_every_flag_in_command_line_order() -> None:
    flags = FlagSet()
    flags.repeated("config-file")
    flags.repeated("config-dir")
    flags.boolean("replay")
    flags.integer("retry-max")
    rest = flags.parse(
        ["-config-dir=d1", "-replay", "--config-file", "f1", "-config-dir=d2", "-retry-max=0x10"]
    )
    assert rest == []
    assert flags.given == [
        ("config-dir", "d1"),
        ("replay", "true"),
        ("config-file", "f1"),
        ("config-dir", "d2"),
        ("retry-max", "0x10"),
    ]
    assert flags.get_int("retry-max") == 16
