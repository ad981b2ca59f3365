"""Go's output formats: %q, %#v of decoded msgpack, MarshalIndent JSON, columnize, TrimSpace."""

from __future__ import annotations

import pytest
from serf_cli.commands.info import stats_text
from serf_cli.commands.members import format_addr, members_json, members_text
from serf_cli.commands.rtt import distance_ns, format_rtt_ms
from serf_cli.rpc_client import Coordinate, Member
from serf_proto.gocompat import GoStruct, columnize, go_json, go_quote, go_sharp_v, go_trim_space


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("n1", '"n1"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("tab\tnl\n", '"tab\\tnl\\n"'),
        ("\x00\x7f", '"\\x00\\x7f"'),
        ("é✓", '"é✓"'),
        ("\u200b", '"\\u200b"'),
        ("\U000e0001", '"\\U000e0001"'),
        ("bad\udcff", '"bad\\xff"'),
    ],
)
def test_go_quote_matches_strconv_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "<nil>"),
        (True, "true"),
        (12, "12"),
        (127, "127"),
        (128, "0x80"),
        (27948, "0x6d2c"),
        (-3, "-3"),
        ("q1", '"q1"'),
        (b"hi", "[]byte{0x68, 0x69}"),
        (b"", "[]byte{}"),
        (
            [{"Addr": b"\x7f\x00\x00\x01", "Port": 27948, "Tags": {}, "X": None}],
            '[]interface {}{map[interface {}]interface {}{"Addr":[]uint8{0x7f, 0x0, 0x0, 0x1},'
            ' "Port":0x6d2c, "Tags":map[interface {}]interface {}{}, "X":interface {}(nil)}}',
        ),
        (1.0, "1"),
        (0.25, "0.25"),
    ],
)
def test_sharp_v_matches_what_go_prints_for_decoded_records(value: object, text: str) -> None:
    assert go_sharp_v(value) == text


def test_json_is_indented_sorted_and_html_safe_like_go() -> None:
    doc = GoStruct(b=[1, "x"], a={"z": "<&>", "y": None}, c=[], d={}, e="\x01\u2028\udcff")
    assert go_json(doc) == (
        "{\n"
        '  "b": [\n    1,\n    "x"\n  ],\n'
        '  "a": {\n    "y": null,\n    "z": "\\u003c\\u0026\\u003e"\n  },\n'
        '  "c": [],\n  "d": {},\n'
        '  "e": "\\u0001\\u2028\\ufffd"\n'
        "}"
    )


def test_columnize_pads_cells_with_two_spaces_and_leaves_the_last_cell_bare() -> None:
    assert columnize(["a|bb|c", "ccc|d|", "x"]) == "a    bb  c\nccc  d   \nx"
    assert columnize([]) == ""
    assert columnize(["é|x", "ab|y"]) == "é   x\nab  y"


def test_trim_space_strips_go_white_space_only() -> None:
    assert go_trim_space("\u00a0\t x \n\u3000") == "x"
    assert go_trim_space("\x1cx\x1c") == "\x1cx\x1c"


def _member(name: str, addr: bytes, tags: dict[str, str], status: str = "alive") -> Member:
    return Member(name, addr, 7946, tags, status, 1, 5, 2, 2, 5, 4)


def test_members_text_aligns_columns_and_trims_only_the_whole_output() -> None:
    members = [
        _member("n1", b"\x7f\x00\x00\x01", {"role": "web"}),
        _member("node-two", b"\x00" * 15 + b"\x01", {}),
        _member("n3", b"\x7f\x00\x00\x03", {}, "failed"),
    ]
    assert members_text(members, detailed=False) == (
        "n1        127.0.0.1:7946  alive   role=web\n"
        "node-two  [::1]:7946      alive   \n"
        "n3        127.0.0.3:7946  failed  "
    )
    assert members_text(members[:1], detailed=True) == (
        "n1  127.0.0.1:7946  alive  role=web  Protocol Version: 4  Available Protocol Range: [2, 5]"
    )


def test_members_json_uses_go_key_names_and_null_for_no_members() -> None:
    assert members_json([]) == '{\n  "members": null\n}'
    text = members_json([_member("n1", b"\x7f\x00\x00\x01", {"b": "2", "a": "1"})])
    assert '"addr": "127.0.0.1:7946",\n      "port": 7946,' in text
    assert (
        '"protocol": {\n        "max": 5,\n        "min": 2,\n        "version": 4\n      }' in text
    )
    assert text.index('"a": "1"') < text.index('"b": "2"')


@pytest.mark.parametrize(
    ("addr", "text"),
    [
        (b"\x0a\x00\x00\x01", "10.0.0.1:7946"),
        (b"\x00" * 10 + b"\xff\xff\x0a\x00\x00\x01", "10.0.0.1:7946"),
        (bytes.fromhex("fe800000000000000000000000000001"), "[fe80::1]:7946"),
        (b"", ":7946"),
    ],
)
def test_member_addresses_print_like_go_tcpaddr(addr: bytes, text: str) -> None:
    assert format_addr(addr, 7946) == text


def test_info_text_sorts_sections_and_keys() -> None:
    stats = {"tags": {}, "agent": {"name": "n1"}, "serf": {"b": "2", "a": "1"}}
    assert stats_text(stats) == "agent:\n\tname = n1\nserf:\n\ta = 1\n\tb = 2\ntags:\n"


def test_rtt_is_the_adjusted_vivaldi_distance_in_milliseconds() -> None:
    a = Coordinate([0.001, 0.0], 0.1, 0.0001, 0.00001)
    b = Coordinate([0.0, 0.0], 0.1, -0.00005, 0.00001)
    ns = distance_ns(a, b)
    assert ns == int((0.001 + 0.00002 + 0.0001 - 0.00005) * 1e9)
    assert format_rtt_ms(ns) == "1.070 ms"
    far_negative = Coordinate([0.0, 0.0], 0.1, -1.0, 0.0)
    assert distance_ns(a, far_negative) == int((0.001 + 0.00001) * 1e9)
    with pytest.raises(ValueError):
        distance_ns(a, Coordinate([0.0], 0.1, 0.0, 0.0))
