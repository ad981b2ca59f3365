"""Configuration of the membership core (Go ``memberlist.Config``), as a frozen dataclass.

Durations are float seconds. The three profiles reproduce Go's ``DefaultLANConfig``,
``DefaultWANConfig`` and ``DefaultLocalConfig`` exactly; Serf's ``-profile`` flag picks one.
Addresses arrive resolved: ``bind_addr``/``bind_port`` is where the binding listens, and
``advertise_addr``/``advertise_port`` (when set) is what the node tells its peers.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from serf_proto.types import Address
from serf_proto.wire.limits import META_MAX_SIZE

__all__ = [
    "META_MAX_SIZE",
    "PROTOCOL_VERSION_MAX",
    "PROTOCOL_VERSION_MIN",
    "ConfigError",
    "MemberlistConfig",
    "parse_cidrs",
]

#: memberlist protocol versions this implementation understands (Go ``ProtocolVersionMin/Max``).
PROTOCOL_VERSION_MIN = 1
PROTOCOL_VERSION_MAX = 5


class ConfigError(ValueError):
    """A configuration value is out of range."""


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidrs(values: Iterable[str]) -> tuple[str, ...]:
    """Check networks in CIDR notation (Go ``memberlist.ParseCIDRs``); returns them trimmed.

    Raises :class:`ConfigError` naming every bad one (``invalid cidr: 10.0.0.1``).
    """
    good: list[str] = []
    bad: list[str] = []
    for value in values:
        try:
            _network(value.strip())
        except ValueError:
            bad.append(f"invalid cidr: {value}")
        else:
            good.append(value.strip())
    if bad:
        raise ConfigError("; ".join(bad))
    return tuple(good)


@functools.lru_cache(maxsize=256)
def _network(text: str) -> IPNetwork:
    """One CIDR (host bits allowed, as Go's ``net.ParseCIDR``); the prefix is required."""
    if "/" not in text:
        raise ValueError(text)
    return ipaddress.ip_network(text, strict=False)


@functools.lru_cache(maxsize=16)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(_network(c) for c in cidrs)


@dataclass(frozen=True, slots=True)
class MemberlistConfig:
    """Every knob of the membership core; defaults are Go's LAN profile.

    Attributes (seconds for durations):
        name: unique node name.
        bind_addr, bind_port: where the binding listens (UDP and TCP on one port).
        advertise_addr, advertise_port: address gossiped to peers ("" / 0: use bind).
        protocol_version: memberlist protocol spoken (Serf uses 2).
        delegate_protocol_min/max/version: the delegate (Serf) protocol range gossiped in Vsn.
        tcp_timeout: deadline of stream operations (push/pull, TCP ping, reliable send).
        indirect_checks: helpers asked to probe a node that missed a direct ping.
        retransmit_mult: broadcasts are sent ``retransmit_mult * ceil(log10(n+1))`` times.
        suspicion_mult, suspicion_max_timeout_mult: Lifeguard suspicion timeout scale.
        push_pull_interval: period of anti-entropy state exchange (0 disables it).
        probe_interval, probe_timeout: failure-detector period and direct-ack deadline.
        disable_tcp_pings: never fall back to a TCP ping.
        awareness_max_multiplier: upper bound of the local-health timeout multiplier.
        gossip_nodes, gossip_interval: fan-out and period of gossip (interval 0 disables it).
        gossip_to_the_dead_time: how long dead nodes still receive gossip and stay listed.
        resend_accusations: answer a stale alive about a node we hold suspect or dead with
            the accusation, so the node refutes (pyserf; False: Go's behaviour).
        initial_incarnation: the incarnation we count up from (our first alive carries it + 1);
            the agent sets it when it restarts from a snapshot (pyserf; 0: Go).
        unprobed_push_pull: after this many probe intervals without a ping for us, push/pull
            with a random alive peer: our peers have lost us (pyserf; 0: never, as Go).
        gossip_verify_incoming/outgoing: require / produce encryption when a keyring is set.
        enable_compression: compress streams and (when smaller) packets with LZW.
        handoff_queue_depth: bound on queued state messages (kept for parity; see docs).
        udp_buffer_size: packet budget used when piggybacking broadcasts.
        dead_node_reclaim_time: after this, a dead node's name may come back on a new
            address (0: never).
        label: cluster label (memberlist ≥ 0.3): prefixed to every packet and dialled
            stream and authenticated with encryption; traffic with another label is dropped.
            Go Serf 0.9 / memberlist 0.2.2 cannot talk to labelled nodes. "" (default): none.
        skip_inbound_label_check: accept unlabelled traffic as if it carried our label.
        cidrs_allowed: networks (CIDR) allowed to talk to us and to be members (memberlist's
            ``CIDRsAllowed``): packets and streams from other sources, and alive news of
            nodes with other addresses, are dropped (``cidr_denied``). ``None``: allow all;
            ``()``: allow none.
        fast_wire: skip compression and encryption on send (simulator speed option).
    """

    name: str
    bind_addr: str = "0.0.0.0"
    bind_port: int = 7946
    advertise_addr: str = ""
    advertise_port: int = 0
    protocol_version: int = 2
    delegate_protocol_min: int = 0
    delegate_protocol_max: int = 0
    delegate_protocol_version: int = 0
    tcp_timeout: float = 10.0
    indirect_checks: int = 3
    retransmit_mult: int = 4
    suspicion_mult: int = 4
    suspicion_max_timeout_mult: int = 6
    push_pull_interval: float = 30.0
    probe_interval: float = 1.0
    probe_timeout: float = 0.5
    disable_tcp_pings: bool = False
    awareness_max_multiplier: int = 8
    gossip_nodes: int = 3
    gossip_interval: float = 0.2
    gossip_to_the_dead_time: float = 30.0
    resend_accusations: bool = True
    unprobed_push_pull: int = 8
    initial_incarnation: int = 0
    gossip_verify_incoming: bool = True
    gossip_verify_outgoing: bool = True
    enable_compression: bool = True
    handoff_queue_depth: int = 1024
    udp_buffer_size: int = 1400
    dead_node_reclaim_time: float = 0.0
    label: str = ""
    skip_inbound_label_check: bool = False
    cidrs_allowed: tuple[str, ...] | None = None
    fast_wire: bool = False

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def lan(cls, name: str, **overrides: Any) -> MemberlistConfig:
        """Go ``DefaultLANConfig``: tuned for a local network."""
        return cls(name=name, **overrides)

    @classmethod
    def wan(cls, name: str, **overrides: Any) -> MemberlistConfig:
        """Go ``DefaultWANConfig``: longer timeouts for wide-area links."""
        values: dict[str, Any] = {
            "tcp_timeout": 30.0,
            "suspicion_mult": 6,
            "push_pull_interval": 60.0,
            "probe_interval": 5.0,
            "probe_timeout": 3.0,
            "gossip_nodes": 4,
            "gossip_interval": 0.5,
            "gossip_to_the_dead_time": 60.0,
        }
        values.update(overrides)
        return cls(name=name, **values)

    @classmethod
    def local(cls, name: str, **overrides: Any) -> MemberlistConfig:
        """Go ``DefaultLocalConfig``: short timeouts for loopback or a single host."""
        values: dict[str, Any] = {
            "tcp_timeout": 1.0,
            "indirect_checks": 1,
            "retransmit_mult": 2,
            "suspicion_mult": 3,
            "push_pull_interval": 15.0,
            "probe_timeout": 0.2,
            "gossip_interval": 0.1,
            "gossip_to_the_dead_time": 15.0,
        }
        values.update(overrides)
        return cls(name=name, **values)

    @classmethod
    def profile(cls, profile: str, name: str, **overrides: Any) -> MemberlistConfig:
        """The profile called ``lan``, ``wan`` or ``local``."""
        factories = {"lan": cls.lan, "wan": cls.wan, "local": cls.local}
        if profile not in factories:
            raise ConfigError(f"unknown profile {profile!r} (expected lan, wan or local)")
        return factories[profile](name, **overrides)

    def replace(self, **changes: Any) -> MemberlistConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def advertise(self) -> Address:
        """The address peers should use to reach this node."""
        host = self.advertise_addr or self.bind_addr
        port = self.advertise_port or self.bind_port
        return Address(host, port)

    parse_cidrs = staticmethod(parse_cidrs)

    def ip_allowed(self, ip: str | bytes) -> bool:
        """Go ``IPAllowed``: whether address ``ip`` (text, or 4/16 packed bytes) may talk to us."""
        if self.cidrs_allowed is None:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in _networks(self.cidrs_allowed))

    def validate(self) -> None:
        """Raise :class:`ConfigError` for values Go would refuse or that cannot work."""
        if not self.name:
            raise ConfigError("node name must not be empty")
        if not PROTOCOL_VERSION_MIN <= self.protocol_version <= PROTOCOL_VERSION_MAX:
            raise ConfigError(
                f"protocol version {self.protocol_version} is outside "
                f"[{PROTOCOL_VERSION_MIN}, {PROTOCOL_VERSION_MAX}]"
            )
        if not 0 <= self.bind_port <= 65535 or not 0 <= self.advertise_port <= 65535:
            raise ConfigError("ports must be in 0..65535")
        positive = {
            "probe_interval": self.probe_interval,
            "probe_timeout": self.probe_timeout,
            "tcp_timeout": self.tcp_timeout,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{key} must be positive, got {value}")
        non_negative = {
            "push_pull_interval": self.push_pull_interval,
            "gossip_interval": self.gossip_interval,
            "gossip_to_the_dead_time": self.gossip_to_the_dead_time,
            "dead_node_reclaim_time": self.dead_node_reclaim_time,
        }
        for key, value in non_negative.items():
            if value < 0:
                raise ConfigError(f"{key} must not be negative, got {value}")
        counts = {
            "indirect_checks": self.indirect_checks,
            "gossip_nodes": self.gossip_nodes,
            "unprobed_push_pull": self.unprobed_push_pull,
        }
        for key, count in counts.items():
            if count < 0:
                raise ConfigError(f"{key} must not be negative, got {count}")
        at_least_one = {
            "retransmit_mult": self.retransmit_mult,
            "suspicion_mult": self.suspicion_mult,
            "suspicion_max_timeout_mult": self.suspicion_max_timeout_mult,
            "awareness_max_multiplier": self.awareness_max_multiplier,
        }
        for key, count in at_least_one.items():
            if count < 1:
                raise ConfigError(f"{key} must be at least 1, got {count}")
        if not 0 <= self.initial_incarnation < 2**31:
            raise ConfigError(
                f"initial_incarnation must be in [0, 2^31), got {self.initial_incarnation}"
            )
        if len(self.label.encode()) > 255:
            raise ConfigError("label is longer than 255 bytes")
        if self.cidrs_allowed is not None:
            parse_cidrs(self.cidrs_allowed)
        if self.udp_buffer_size < 64:
            raise ConfigError(f"udp_buffer_size {self.udp_buffer_size} is too small")
