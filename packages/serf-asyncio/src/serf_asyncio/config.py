"""Build a ``SerfConfig`` from text as people write it (``SerfConfig.build`` does the rest)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from serf_proto.serf import SerfConfig, decode_key

from serf_asyncio.addresses import AddressError, split_host_port

__all__ = ["decode_key", "node_config"]


def node_config(
    name: str,
    *,
    bind: str = "0.0.0.0:7946",
    advertise: str | None = None,
    profile: str = "lan",
    tags: Mapping[str, str] | None = None,
    keys: Iterable[str | bytes] = (),
    agent_defaults: bool = False,
    memberlist: Mapping[str, Any] | None = None,
    **serf: Any,
) -> SerfConfig:
    """A ``SerfConfig`` for node ``name``.

    ``bind`` and ``advertise`` are ``ip[:port]`` / ``[v6]:port`` (port 0 picks a free port;
    the advertise port defaults to the bound port). ``profile`` is ``lan``, ``wan`` or
    ``local`` (Go's memberlist timing profiles). ``keys`` are gossip keys, primary first.
    ``agent_defaults`` applies what ``serf agent`` changes over the library defaults
    (protocol 5, 3 s member and user-event coalescing). ``memberlist`` and ``serf`` override
    any other field of ``MemberlistConfig`` / ``SerfConfig``. Raises ``ValueError``
    (``AddressError``, ``ConfigError``) for bad values.
    """
    bind_host, bind_port = split_host_port(bind)
    _require_ip(bind_host, "bind")
    adv: tuple[str, int] | None = None
    if advertise:
        adv = split_host_port(advertise, 0)
        _require_ip(adv[0], "advertise")
    return SerfConfig.build(
        name,
        profile=profile,
        bind=(bind_host or "0.0.0.0", bind_port),
        advertise=adv,
        agent_defaults=agent_defaults,
        memberlist=memberlist,
        tags=dict(tags or {}),
        keys=tuple(decode_key(k) for k in keys),
        **serf,
    )


def _require_ip(host: str, what: str) -> None:
    if not host:
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise AddressError(f"{what} address must be an IP address, got {host!r}") from None
