"""Open a TCP connection to ``host:port`` and describe failures the way Go's ``net.Dial`` does.

Scripts match on the error text (``dial tcp 127.0.0.1:7373: connect: connection refused``), so
addresses are split by ``net.SplitHostPort`` (:mod:`serf_proto.gocompat`) and ports parsed as
Go's resolver does: the same inputs fail with the same words. Name lookups use the system
resolver; their failure reads ``dial tcp: lookup NAME: no such host``.
"""

from __future__ import annotations

import errno
import os
import socket

from serf_proto.gocompat import AddrError, parse_port, split_host_port


class DialError(OSError):
    """The connection could not be opened; ``str()`` is Go's ``net.OpError`` text."""


def tcp_service_port(name: str) -> int:
    """The port of TCP service ``name`` from the system's services database."""
    return socket.getservbyname(name, "tcp")


def _format_addr(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _go_errno_text(exc: OSError) -> str:
    """Go's lower-case syscall error text for an ``OSError`` (``connection refused``)."""
    if isinstance(exc, TimeoutError) or exc.errno in (errno.ETIMEDOUT,):
        return "i/o timeout"
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return "connect: " + (text[:1].lower() + text[1:])


def _resolve(host: str, port: int) -> list[tuple[int, str]]:
    """Candidate (family, ip) pairs for ``host``: literal IPs as-is, names via the resolver."""
    if host == "":
        return [(socket.AF_INET, "127.0.0.1")]
    literal = host.split("%", 1)[0]
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, literal)
        except (OSError, ValueError):
            continue
        return [(family, host)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise DialError(f"dial tcp: lookup {host}: no such host") from None
    seen: list[tuple[int, str]] = []
    for family, _, _, _, sockaddr in infos:
        entry = (int(family), str(sockaddr[0]))
        if entry not in seen:
            seen.append(entry)
    seen.sort(key=lambda e: e[0] != socket.AF_INET)
    return seen


def dial(address: str, timeout: float) -> socket.socket:
    """Connect to ``address`` (``host:port``) within ``timeout`` seconds, or raise ``DialError``."""
    if address == "":
        raise DialError("dial tcp: missing address")
    try:
        host, service = split_host_port(address)
        port = parse_port(service, tcp_service_port)
    except AddrError as exc:
        raise DialError(f"dial tcp: {exc}") from None
    first_error: DialError | None = None
    for family, ip in _resolve(host, port):
        shown = _format_addr(ip, port) if host != "" else f":{port}"
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((ip, port))
        except OSError as exc:
            sock.close()
            if first_error is None:
                first_error = DialError(f"dial tcp {shown}: {_go_errno_text(exc)}")
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    assert first_error is not None
    raise first_error
