"""Go's ``net.SplitHostPort``/``JoinHostPort``, base64 keys and the private-address choice."""

from __future__ import annotations

import pytest
from serf_proto.gocompat import (
    AddrError,
    Base64Error,
    choose_private_address,
    decode_base64,
    is_private,
    join_host_port,
    parse_port,
    split_host_port,
)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:7373", "127.0.0.1", "7373"),
        ("[::1]:7373", "::1", "7373"),
        ("host:", "host", ""),
        (":80", "", "80"),
        ("[fe80::1%eth0]:1", "fe80::1%eth0", "1"),
        ("[]:1", "", "1"),
        ("h:x", "h", "x"),
    ],
)
def test_split_host_port_accepts_what_go_accepts(text: str, host: str, port: str) -> None:
    assert split_host_port(text) == (host, port)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing port in address"),
        ("foo", "address foo: missing port in address"),
        ("[::1]", "address [::1]: missing port in address"),
        ("[::1", "address [::1: missing ']' in address"),
        ("::1", "address ::1: too many colons in address"),
        ("a:b:c", "address a:b:c: too many colons in address"),
        ("[::1]:1:2", "address [::1]:1:2: too many colons in address"),
        ("[::1]x:1", "address [::1]x:1: missing port in address"),
        ("a[b:1", "address a[b:1: unexpected '[' in address"),
        ("ab]:1", "address ab]:1: unexpected ']' in address"),
        ("[a]b]:1", "address [a]b]:1: missing port in address"),
    ],
)
def test_split_host_port_refuses_with_go_s_text(text: str, message: str) -> None:
    with pytest.raises(AddrError) as info:
        split_host_port(text)
    assert str(info.value) == message


def test_join_host_port_brackets_ipv6_only() -> None:
    assert join_host_port("127.0.0.1", 7946) == "127.0.0.1:7946"
    assert join_host_port("::1", "7946") == "[::1]:7946"
    assert join_host_port("", 1) == ":1"
    for host, port in (("::1", "1"), ("10.0.0.1", "2"), ("name", "3")):
        assert split_host_port(join_host_port(host, port)) == (host, port)


def test_private_means_what_go_sockaddr_calls_private() -> None:
    private = ("10.1.1.1", "192.168.0.1", "100.64.0.1", "172.31.0.1", "fd12::1")
    public = ("127.0.0.1", "169.254.0.1", "0.0.0.0", "::1", "192.0.2.2", "fe80::1", "8.8.8.8")
    assert [is_private(ip) for ip in private] == [True] * len(private)
    assert [is_private(ip) for ip in public] == [False] * len(public)
    assert not is_private("not-an-ip")


@pytest.mark.parametrize(
    ("candidates", "choice"),
    [
        (["127.0.0.1", "8.8.8.8", "192.168.1.5", "10.0.0.1"], "192.168.1.5"),
        (["fd00::1", "172.16.0.9"], "172.16.0.9"),
        (["127.0.0.1", "fe80::1", "fd00::2", "fd00::1"], "fd00::2"),
        (["127.0.0.1", "::1", "8.8.8.8"], None),
        ([], None),
    ],
)
def test_the_private_choice_is_the_first_ipv4_then_the_first_ipv6(
    candidates: list[str], choice: str | None
) -> None:
    assert choose_private_address(candidates) == choice


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("", b""),
        ("YQ==", b"a"),
        ("YWI=", b"ab"),
        ("YWJj", b"abc"),
        ("YW\nJj\r\n", b"abc"),
        ("YQ=\n=", b"a"),
    ],
)
def test_base64_decodes_as_go_std_encoding(text: str, raw: bytes) -> None:
    assert decode_base64(text) == raw


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("ab==cdef", 4),
        ("abcde=", 5),
        ("abcd=", 4),
        ("ab=c", 2),
        ("abc$def", 3),
        ("abcdefg", 4),
        ("YQ", 0),
        ("YQ=", 3),
        ("=", 0),
        ("YWJj\u00e9", 4),
        ("YWJj YWJj", 4),
    ],
)
def test_base64_errors_carry_go_s_byte_offset(text: str, offset: int) -> None:
    with pytest.raises(Base64Error) as info:
        decode_base64(text)
    assert str(info.value) == f"illegal base64 data at input byte {offset}"


@pytest.mark.parametrize(
    ("text", "port"),
    [("", 0), ("+", 0), ("0", 0), ("80", 80), ("+80", 80), ("-0", 0), ("65535", 65535)],
)
def test_numeric_ports_parse_like_go(text: str, port: int) -> None:
    assert parse_port(text) == port


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("65536", "address 65536: invalid port"),
        ("-1", "address -1: invalid port"),
        ("99999999999999999999", "address 99999999999999999999: invalid port"),
        ("abc", "address tcp/abc: unknown port"),
        ("1x", "address tcp/1x: unknown port"),
        ("+-1", "address tcp/+-1: unknown port"),
        ("\u0663", "address tcp/\u0663: unknown port"),
    ],
)
def test_bad_ports_are_refused_with_go_s_text(text: str, message: str) -> None:
    with pytest.raises(AddrError) as info:
        parse_port(text)
    assert str(info.value) == message


def test_service_names_go_through_the_lookup() -> None:
    services = {"gossip": 7946, "huge": 70000}

    def lookup(name: str) -> int:
        return services[name]  # KeyError is a LookupError: unknown

    assert parse_port("gossip", lookup) == 7946
    with pytest.raises(AddrError, match="address huge: invalid port"):
        parse_port("huge", lookup)
    with pytest.raises(AddrError, match="address tcp/other: unknown port"):
        parse_port("other", lookup)
