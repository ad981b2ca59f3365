"""Addresses as people write them, and as the network needs them.

* ``split_host_port`` parses ``host``, ``host:port``, ``[v6]:port``, ``[v6]`` and a bare IPv6
  literal; the port defaults to 7946 (Serf's gossip port).
* ``resolve`` turns such text into resolved ``Address`` values (IP literals pass through, names go
  through the system resolver), as ``join`` needs.
* ``advertise_address`` chooses what a node tells its peers, as memberlist's
  ``FinalAdvertiseAddr`` does: an explicit advertise address wins; a wildcard bind (``0.0.0.0``
  or ``::``) advertises the host's first private IPv4 address (RFC 1918/6598), else its first
  unique-local IPv6 address, as go-sockaddr picks them; otherwise the bind address itself.
* ``interface_addresses`` lists every IPv4 and IPv6 address of every interface (or of one), on
  any operating system (through ``ifaddr``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import ifaddr
from serf_proto import Address
from serf_proto.gocompat import (
    MISSING_PORT,
    NO_PRIVATE_IP,
    TOO_MANY_COLONS,
    AddrError,
    choose_private_address,
)
from serf_proto.gocompat import split_host_port as go_split_host_port

#: Serf's default gossip port (UDP and TCP).
DEFAULT_PORT = 7946


class AddressError(ValueError):
    """An address could not be parsed, resolved or chosen."""


def split_host_port(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """Split ``text`` into a host (brackets removed) and a port, as memberlist reads a join
    address: Go's ``net.SplitHostPort`` (:func:`serf_proto.gocompat.split_host_port`), except
    that a missing port means ``default_port`` and a bare IPv6 literal is a host.

    Raises :class:`AddressError` (Go's texts) for stray brackets, a bad port or too many colons.
    """
    text = text.strip()
    if not text:
        raise AddressError("empty address")
    try:
        host, port_text = go_split_host_port(text)
    except AddrError as exc:
        if exc.why == MISSING_PORT:
            if text.startswith("[") and text.endswith("]"):
                return text[1:-1], default_port
            if "[" not in text and "]" not in text:
                return text, default_port
        elif exc.why == TOO_MANY_COLONS and is_ip_literal(text):
            return text, default_port
        raise AddressError(str(exc)) from None
    if not port_text.isdigit() or int(port_text) > 65535:
        raise AddressError(f"address {port_text}: invalid port")
    return host, int(port_text)


def is_ip_literal(host: str) -> bool:
    """True when ``host`` is an IPv4 or IPv6 literal (no brackets)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_unspecified(host: str) -> bool:
    """True for the wildcard addresses ``0.0.0.0``, ``::`` and the empty host."""
    return host in ("", "0.0.0.0", "::")


async def resolve(
    text: str | Address,
    default_port: int = DEFAULT_PORT,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
) -> list[Address]:
    """Every address ``text`` names, IP literals first-hand, host names via the resolver.

    Raises :class:`AddressError` when the text is malformed or the name does not resolve.
    """
    if isinstance(text, Address):
        return [text]
    host, port = split_host_port(text, default_port)
    if is_ip_literal(host):
        return [Address(str(ipaddress.ip_address(host)), port)]
    loop = loop or asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise AddressError(f"lookup {host}: {exc.strerror or exc}") from None
    out: list[Address] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = Address(str(sockaddr[0]).split("%", 1)[0], port)
        if addr not in out:
            out.append(addr)
    if not out:
        raise AddressError(f"lookup {host}: no addresses")
    return out


async def resolve_all(
    targets: Iterable[str | Address], default_port: int = DEFAULT_PORT
) -> tuple[list[Address], list[str]]:
    """Resolve each target; returns the addresses and one error text per target that failed."""
    addrs: list[Address] = []
    errors: list[str] = []
    for target in targets:
        try:
            for addr in await resolve(target, default_port):
                if addr not in addrs:
                    addrs.append(addr)
        except AddressError as exc:
            errors.append(f"Failed to resolve {target}: {exc}")
    return addrs, errors


def interface_addresses(name: str | None = None) -> list[str]:
    """Every IP address of the interface called ``name`` (of every interface when None).

    IPv4 addresses come first, then IPv6 ones (without a ``%zone``), each in interface order;
    an address held by two interfaces is listed once. Raises :class:`AddressError` when there
    is no interface called ``name``.
    """
    adapters = list(ifaddr.get_adapters())
    if name is not None:
        adapters = [a for a in adapters if name in (a.name, a.nice_name)]
        if not adapters:
            raise AddressError(f"no such network interface: {name}")
    v4: list[str] = []
    v6: list[str] = []
    for adapter in adapters:
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                text, found = ip.ip, v4
            else:
                text, found = ip.ip[0].split("%", 1)[0], v6
            if text not in found:
                found.append(text)
    return [*v4, *v6]


def first_private_address(candidates: Iterable[str] | None = None) -> str | None:
    """Go's choice for a wildcard bind: the first private IPv4 address of this host (or of
    ``candidates``), else the first unique-local IPv6 one; None when there is neither."""
    if candidates is None:
        candidates = interface_addresses()
    return choose_private_address(candidates)


def advertise_address(
    bind_host: str,
    bind_port: int,
    advertise: str | None = None,
    *,
    candidates: Iterable[str] | None = None,
) -> Address:
    """The address a node bound to ``bind_host:bind_port`` tells its peers.

    ``advertise`` (``host[:port]``, port defaulting to ``bind_port``) wins when given and must
    be an IP literal. A wildcard bind advertises the first private IPv4 address, else the first
    unique-local IPv6 one (raises :class:`AddressError` when the host has none, like Go).
    ``candidates`` replaces the host's interface addresses (for tests).
    """
    if advertise:
        host, port = split_host_port(advertise, bind_port)
        if not is_ip_literal(host):
            raise AddressError(f"advertise address {advertise!r} is not an IP address")
        return Address(str(ipaddress.ip_address(host)), port or bind_port)
    if is_unspecified(bind_host):
        ip = first_private_address(candidates)
        if ip is None:
            raise AddressError(NO_PRIVATE_IP)
        return Address(ip, bind_port)
    return Address(str(ipaddress.ip_address(bind_host)), bind_port)
