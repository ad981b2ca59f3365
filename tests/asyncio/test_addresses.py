"""Addresses: host:port parsing, resolution, and Go's choice of the advertised address."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from serf_asyncio.addresses import (
    AddressError,
    advertise_address,
    first_private_address,
    interface_addresses,
    resolve,
    split_host_port,
)
from serf_proto.types import Address

from tests.asyncio.conftest import Runner


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", ("10.0.0.1", 7946)),
        ("10.0.0.1:8000", ("10.0.0.1", 8000)),
        ("node.example:1", ("node.example", 1)),
        ("[::1]:7000", ("::1", 7000)),
        ("[fd00::2]", ("fd00::2", 7946)),
        ("::1", ("::1", 7946)),
        (":9000", ("", 9000)),
    ],
)
def test_host_and_port_are_split_with_serfs_default_port(
    text: str, expected: tuple[str, int]
) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize("text", ["", "[::1", "[::1]x", "host:port", "host:70000", "a:b:c"])
def test_malformed_addresses_raise_a_typed_error(text: str) -> None:
    with pytest.raises(AddressError):
        split_host_port(text)


def test_an_explicit_advertise_address_wins_and_defaults_to_the_bind_port() -> None:
    assert advertise_address("0.0.0.0", 5000, "10.1.2.3") == Address("10.1.2.3", 5000)
    assert advertise_address("0.0.0.0", 5000, "10.1.2.3:6000") == Address("10.1.2.3", 6000)
    assert advertise_address("::", 5000, "[fd00::9]:1") == Address("fd00::9", 1)


def test_a_wildcard_bind_advertises_the_first_private_ipv4_like_go() -> None:
    candidates = ["127.0.0.1", "fd00::2", "192.0.2.2", "8.8.8.8", "172.16.5.4", "10.0.0.1"]
    assert advertise_address("0.0.0.0", 7946, candidates=candidates) == Address("172.16.5.4", 7946)
    assert advertise_address("::", 7946, candidates=candidates) == Address("172.16.5.4", 7946)


def test_without_private_ipv4_a_wildcard_bind_advertises_a_unique_local_ipv6_like_go() -> None:
    candidates = ["127.0.0.1", "192.0.2.2", "::1", "fe80::1", "fd00::2"]
    assert advertise_address("0.0.0.0", 7946, candidates=candidates) == Address("fd00::2", 7946)


def test_a_wildcard_bind_without_a_private_address_is_refused() -> None:
    with pytest.raises(AddressError, match="No private IP address found"):
        advertise_address("0.0.0.0", 7946, candidates=["127.0.0.1", "8.8.8.8"])


def test_a_specific_bind_address_is_advertised_as_is() -> None:
    assert advertise_address("127.0.0.1", 7000) == Address("127.0.0.1", 7000)
    assert advertise_address("::1", 7000) == Address("::1", 7000)


def test_every_address_of_every_interface_is_listed_ipv4_first() -> None:
    found = interface_addresses()
    assert "127.0.0.1" in found
    versions = [ipaddress.ip_address(ip).version for ip in found]
    assert versions == sorted(versions)
    assert all("%" not in ip for ip in found)
    choice = first_private_address()
    assert choice is None or choice in found
    if socket.has_ipv6 and any(v == 6 for v in versions):
        assert "::1" in found


def test_one_interfaces_addresses_and_an_unknown_interface_is_an_error() -> None:
    loopback = next(
        name for _, name in socket.if_nameindex() if "127.0.0.1" in interface_addresses(name)
    )
    assert "127.0.0.1" in interface_addresses(loopback)
    assert set(interface_addresses(loopback)) <= set(interface_addresses())
    with pytest.raises(AddressError, match="no such network interface"):
        interface_addresses("no-such-if0")


def test_join_targets_resolve_literals_directly_and_names_through_the_resolver(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        assert await resolve("127.0.0.1:1234") == [Address("127.0.0.1", 1234)]
        assert await resolve("[::1]") == [Address("::1", 7946)]
        assert Address("127.0.0.1", 99) in await resolve("localhost:99")
        with pytest.raises(AddressError, match="lookup"):
            await resolve("no-such-host.invalid")

    run_on_loop(body())
