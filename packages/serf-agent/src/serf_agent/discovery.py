"""mDNS discovery (``-discover=NAME``), compatible with Go Serf's agents on the same network.

Go's agent announces the service ``_serf_NAME._tcp.local.`` with the node name as instance,
the gossip (advertise) address and port, and the TXT record ``Serf 'NAME' cluster``; it looks
for the same service, collects the peers it finds for 100 ms and joins them in one batch,
never trying an address twice. This module does the same with the ``zeroconf`` library: the
announcement and the browsing run on zeroconf's own threads and hand results to the agent's
event loop, which does the joins.

Go 0.10's ``mdns`` block picks the interface (``mdns.interface``, else ``interface``) and may
turn off one IP family (``disable_ipv4``/``disable_ipv6``); :func:`zeroconf_choice` turns that
into zeroconf's interface list and IP version.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable

from serf_proto.gocompat import join_host_port
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

logger = logging.getLogger("serf_agent.discovery")

#: Peers found within this many seconds are joined together (Go ``mdnsQuietInterval``).
QUIET_INTERVAL = 0.1
#: How long to wait for a found service's address records (seconds).
RESOLVE_TIMEOUT = 3.0

JoinFn = Callable[[list[str]], Awaitable[int]]


def service_type(cluster: str) -> str:
    """The DNS-SD service type Go uses for cluster ``cluster`` (``_serf_NAME._tcp.local.``)."""
    return f"_serf_{cluster}._tcp.local."


def txt_record(cluster: str) -> str:
    """The TXT string Go announces (``Serf 'NAME' cluster``)."""
    return f"Serf '{cluster}' cluster"


def zeroconf_choice(
    addresses: list[str] | None, *, disable_ipv4: bool = False, disable_ipv6: bool = False
) -> tuple[list[str] | None, IPVersion]:
    """Zeroconf's ``interfaces`` (``None``: all) and ``ip_version`` for the mDNS settings.

    ``addresses`` are the IPs of the chosen interface (``None``: every interface); the
    disabled family is dropped from them. Raises :class:`ValueError` when nothing is left.
    """
    if disable_ipv4 and disable_ipv6:
        raise ValueError("both IPv4 and IPv6 are disabled")
    version = IPVersion.V6Only if disable_ipv4 else IPVersion.V4Only if disable_ipv6 else None
    if addresses is None:
        return None, version or IPVersion.All
    kept = [
        a
        for a in addresses
        if not (disable_ipv4 and ":" not in a) and not (disable_ipv6 and ":" in a)
    ]
    if not kept:
        raise ValueError("the mDNS interface has no address of an enabled IP family")
    return kept, version or IPVersion.All


class MdnsDiscovery:
    """Announces this agent and joins the peers that announce the same cluster."""

    def __init__(
        self,
        cluster: str,
        node_name: str,
        host: str,
        port: int,
        join: JoinFn,
        *,
        interface_addresses: list[str] | None = None,
        disable_ipv4: bool = False,
        disable_ipv6: bool = False,
    ) -> None:
        self.cluster = cluster
        self.node_name = node_name
        self.host = host
        self.port = port
        self._join = join
        self._interfaces, self._ip_version = zeroconf_choice(
            interface_addresses, disable_ipv4=disable_ipv4, disable_ipv6=disable_ipv6
        )
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._seen: set[str] = set()
        self._batch: list[str] = []
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Announce the service and start browsing; raises ``OSError`` if mDNS is unusable."""
        self._loop = asyncio.get_running_loop()
        interfaces = self._interfaces
        self._zc = AsyncZeroconf(
            interfaces=interfaces or InterfaceChoice.All, ip_version=self._ip_version
        )
        stype = service_type(self.cluster)
        self._info = AsyncServiceInfo(
            stype,
            f"{self.node_name}.{stype}",
            addresses=[ipaddress.ip_address(self.host).packed],
            port=self.port,
            properties={txt_record(self.cluster): None},
            server=f"{socket.gethostname()}.local.",
        )
        # Go names the service _serf_NAME._tcp: an underscore inside the name, which zeroconf
        # only accepts outside strict mode.
        await self._zc.async_register_service(self._info, allow_name_change=False, strict=False)
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, [stype], handlers=[self._on_change])
        logger.info("Starting mDNS listener on %s", ", ".join(interfaces or ["all"]))

    async def close(self) -> None:
        """Withdraw the announcement and stop browsing."""
        if self._flush is not None:
            self._flush.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            if self._info is not None:
                with contextlib.suppress(Exception):
                    await self._zc.async_unregister_service(self._info)
            await self._zc.async_close()
        self._zc = None

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change not in (ServiceStateChange.Added, ServiceStateChange.Updated):
            return
        if name == f"{self.node_name}.{service_type}":
            return
        task = asyncio.ensure_future(self._resolve(service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, stype: str, name: str) -> None:
        if self._zc is None:
            return
        info = AsyncServiceInfo(stype, name)
        if not await info.async_request(self._zc.zeroconf, int(RESOLVE_TIMEOUT * 1000)):
            return
        if info.port is None:
            return
        for address in info.parsed_addresses():
            self._found(join_host_port(address, info.port))

    def _found(self, addr: str) -> None:
        if addr in self._seen or addr in self._batch:
            return
        self._batch.append(addr)
        if self._flush is not None:
            self._flush.cancel()
        assert self._loop is not None
        self._flush = self._loop.call_later(QUIET_INTERVAL, self._join_batch)

    def _join_batch(self) -> None:
        batch, self._batch = self._batch, []
        self._seen.update(batch)
        task = asyncio.ensure_future(self._do_join(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _do_join(self, batch: list[str]) -> None:
        try:
            joined = await self._join(batch)
        except Exception as exc:
            logger.error("Failed to join: %s", exc)
            return
        if joined > 0:
            logger.info("Joined %d hosts", joined)
