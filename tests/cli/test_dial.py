"""Connection errors read exactly as Go's ``net.Dial`` errors (scripts match on them)."""

from __future__ import annotations

import pytest
from serf_cli.dial import DialError, dial, tcp_service_port
from serf_proto.gocompat import parse_port, split_host_port

from tests.cli.harness import free_port


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "dial tcp: missing address"),
        ("foo", "dial tcp: address foo: missing port in address"),
        ("[::1]", "dial tcp: address [::1]: missing port in address"),
        ("[::1", "dial tcp: address [::1: missing ']' in address"),
        ("a:b:c", "dial tcp: address a:b:c: too many colons in address"),
        ("[::1]:1:2", "dial tcp: address [::1]:1:2: too many colons in address"),
        ("[::1]x:1", "dial tcp: address [::1]x:1: missing port in address"),
        ("a[b:1", "dial tcp: address a[b:1: unexpected '[' in address"),
        ("ab]:1", "dial tcp: address ab]:1: unexpected ']' in address"),
        ("127.0.0.1:70000", "dial tcp: address 70000: invalid port"),
        ("127.0.0.1:-1", "dial tcp: address -1: invalid port"),
        ("127.0.0.1:abc", "dial tcp: address tcp/abc: unknown port"),
    ],
)
def test_bad_addresses_fail_with_go_s_words(address: str, message: str) -> None:
    with pytest.raises(DialError) as info:
        dial(address, 1.0)
    assert str(info.value) == message


def test_a_closed_port_is_connection_refused_with_the_address() -> None:
    port = free_port()
    with pytest.raises(DialError) as info:
        dial(f"127.0.0.1:{port}", 1.0)
    assert str(info.value) == f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    with pytest.raises(DialError) as info:
        dial(f":{port}", 1.0)
    assert str(info.value) == f"dial tcp :{port}: connect: connection refused"


def test_host_port_split_and_port_parse_follow_go() -> None:
    assert split_host_port("[::1]:7373") == ("::1", "7373")
    assert split_host_port("host:") == ("host", "")
    assert parse_port("") == 0
    assert parse_port("+80") == 80
    assert parse_port("http", tcp_service_port) == 80
