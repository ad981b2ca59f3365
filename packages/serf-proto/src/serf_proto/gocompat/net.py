"""Go's ``net.SplitHostPort`` / ``JoinHostPort``, port parsing, and the private address Go
advertises.

``split_host_port`` follows Go's rules exactly (the port is everything after the last colon;
an IPv6 host needs brackets; stray brackets are errors) and raises :class:`AddrError` whose
text is Go's ``net.AddrError`` (``address 127.0.0.1: missing port in address``). Python's
``urllib.parse`` and ``ipaddress`` accept and refuse other inputs, with other messages.

:func:`choose_private_address` is the pick memberlist makes (through go-sockaddr) for a
wildcard bind: the first private IPv4 address among the host's interface addresses, else the
first unique-local IPv6 one. Enumerating the interfaces is I/O and lives with the callers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

#: Go's error when a wildcard bind finds no private address to advertise.
NO_PRIVATE_IP = "No private IP address found, and explicit IP not provided"

#: What go-sockaddr (and so memberlist) calls private: RFC 1918 and RFC 6598 IPv4 blocks and
#: unique-local IPv6.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)

#: ``net.AddrError`` reasons that callers branch on.
MISSING_PORT = "missing port in address"
TOO_MANY_COLONS = "too many colons in address"


class AddrError(ValueError):
    """Go's ``net.AddrError``: ``str()`` is ``address <addr>: <why>`` (or just ``<why>``)."""

    def __init__(self, why: str, addr: str) -> None:
        super().__init__(f"address {addr}: {why}" if addr else why)
        self.why = why
        self.addr = addr


def split_host_port(hostport: str) -> tuple[str, str]:
    """``net.SplitHostPort``: ``host:port`` or ``[v6]:port`` to (host, port text)."""
    j = k = 0
    i = hostport.rfind(":")
    if i < 0:
        raise AddrError(MISSING_PORT, hostport)
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise AddrError("missing ']' in address", hostport)
        if end + 1 == len(hostport):
            raise AddrError(MISSING_PORT, hostport)
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise AddrError(TOO_MANY_COLONS, hostport)
            raise AddrError(MISSING_PORT, hostport)
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise AddrError(TOO_MANY_COLONS, hostport)
    if "[" in hostport[j:]:
        raise AddrError("unexpected '[' in address", hostport)
    if "]" in hostport[k:]:
        raise AddrError("unexpected ']' in address", hostport)
    return host, hostport[i + 1 :]


def parse_port(service: str, lookup: Callable[[str], int] | None = None) -> int:
    """Go's port resolution for the port text of ``host:port`` (``net.parsePort``, then a
    service lookup): decimal with an optional sign (huge values clamp as in Go), ``""`` is 0,
    anything else is a service name passed to ``lookup`` (which raises ``OSError`` or
    ``LookupError`` for an unknown one; without ``lookup`` every name is unknown).

    Raises :class:`AddrError`: ``address tcp/NAME: unknown port`` or ``address N: invalid port``.
    """
    text = service
    negative = False
    if text[:1] in ("+", "-"):
        negative = text[0] == "-"
        text = text[1:]
    if all("0" <= c <= "9" for c in text):
        value = min(int(text or "0"), (1 << 30) if negative else (1 << 30) - 1)
        port = -value if negative else value
    else:
        try:
            if lookup is None:
                raise LookupError(service)
            port = lookup(service)
        except (OSError, LookupError):
            raise AddrError("unknown port", f"tcp/{service}") from None
    if not 0 <= port <= 65535:
        raise AddrError("invalid port", service)
    return port


def join_host_port(host: str, port: int | str) -> str:
    """``net.JoinHostPort``: brackets around a host that contains a colon (IPv6)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_private(ip: str) -> bool:
    """True for an address in :data:`PRIVATE_NETWORKS`; false for anything else (or non-IPs)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in PRIVATE_NETWORKS)


def choose_private_address(candidates: Iterable[str]) -> str | None:
    """The first private IPv4 address of ``candidates``, else the first unique-local IPv6 one;
    ``None`` when there is neither (the caller then fails with :data:`NO_PRIVATE_IP`)."""
    private = [ip for ip in candidates if is_private(ip)]
    private.sort(key=lambda ip: ipaddress.ip_address(ip).version)  # stable: IPv4 first
    return private[0] if private else None
