"""Turn a merged :class:`~serf_agent.config.AgentConfig` into checked, typed start-up settings.

Every check the Go agent makes before it binds a socket happens here, in Go's order and with
Go's message texts (printed after ``==> `` by the command), so a bad configuration exits with
status 1 before anything listens. The checks are split by the phase in which Go reports them:
:func:`check_config` (reading the configuration), :func:`resolve_network` (setting up the
agent: addresses, interface, key, profile) and :func:`check_serf_limits` (creating Serf:
protocol, key size, size limits), because Go prints ``Starting Serf agent...`` between the
second and the third.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import serf_asyncio
from serf_asyncio import SerfConfig
from serf_proto import SERF_PROTOCOL_MAX, SERF_PROTOCOL_MIN, MemberlistConfig
from serf_proto.gocompat import (
    KEY_SIZE_ERROR,
    KEY_SIZES,
    AddrError,
    Base64Error,
    decode_base64,
    join_host_port,
    parse_port,
    split_host_port,
)
from serf_proto.wire import USER_EVENT_SIZE_LIMIT_HARD

from serf_agent.config import DEFAULT_BIND_PORT, AgentConfig, ConfigError
from serf_agent.handlers import HandlerSpec, InvalidHandlerError, parse_handler_specs
from serf_agent.metrics import metric_label_error

if TYPE_CHECKING:  # keyring_file imports this module
    from serf_agent.keyring_file import StartupState

#: Minimum retry interval and broadcast timeout (seconds); lower values are raised to this.
MIN_RETRY_INTERVAL = 1.0
MIN_BROADCAST_TIMEOUT = 1.0
PROFILES = ("lan", "wan", "local")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERR")


@dataclass(frozen=True, slots=True)
class CheckedConfig:
    """The config after Go's ``readConfig`` checks, with the notices Go prints for it."""

    config: AgentConfig
    handlers: list[HandlerSpec]
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    """Addresses, key and profile resolved from the config (Go's ``setupAgent``)."""

    bind_host: str
    bind_port: int
    advertise_host: str | None
    advertise_port: int | None
    encrypt_key: bytes | None
    profile: str
    notices: list[str] = field(default_factory=list)

    @property
    def bind_display(self) -> str:
        """``ip:port`` (``[v6]:port``) as the banner prints it."""
        return join_host_port(self.bind_host, self.bind_port)


def address_parts(address: str, default_port: int = DEFAULT_BIND_PORT) -> tuple[str, int]:
    """Go's ``AddrParts``: ``ip[:port]`` (or a host name) to an IP string and a port.

    A missing port becomes ``default_port``; host names are resolved. Raises
    :class:`ValueError` with a Go-like message.
    """
    try:
        host, port_text = split_host_port(address)
    except AddrError as exc:
        if exc.why != "missing port in address":
            raise
        host, port_text = split_host_port(f"{address}:{default_port}")
    port = parse_port(port_text, lambda name: socket.getservbyname(name, "tcp"))
    if not host:
        return "0.0.0.0", port
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ValueError(f"lookup {host}: no such host") from None
    ips = [str(info[4][0]) for info in infos]
    v4 = [ip for ip in ips if ":" not in ip]
    return (v4 or ips)[0], port


# --------------------------------------------------------------------------- interfaces


def interface_addresses(name: str) -> list[str]:
    """The IP addresses of network interface ``name`` (IPv4 first, then IPv6).

    Raises :class:`ValueError` (``route ip+net: no such network interface``) when it does not
    exist.
    """
    try:
        return serf_asyncio.interface_addresses(name)
    except serf_asyncio.AddressError:
        raise ValueError("route ip+net: no such network interface") from None


# --------------------------------------------------------------------------- checks


def check_config(config: AgentConfig, hostname: str | None = None) -> CheckedConfig:
    """Go's ``readConfig`` checks: node name, handlers, interface, role, lower bounds.

    Returns the completed config (hostname filled in, ``role`` applied to tags, intervals
    raised to their minimum) with the notices Go prints; raises :class:`ConfigError`.
    """
    updates: dict[str, object] = {}
    notices: list[str] = []
    if not config.node_name:
        try:
            updates["node_name"] = hostname or socket.gethostname()
        except OSError as exc:
            raise ConfigError(f"Error determining hostname: {exc}") from None
    try:
        handlers = parse_handler_specs(config.event_handlers)
    except InvalidHandlerError as exc:
        raise ConfigError(str(exc)) from None
    if config.interface:
        try:
            interface_addresses(config.interface)
        except ValueError as exc:
            raise ConfigError(f"Invalid network interface: {exc}") from None
    _check_mdns(config)
    for name in config.metric_labels:
        if error := metric_label_error(name):
            raise ConfigError(f"Invalid metric_labels: {error}")
    if config.cidrs_allowed:
        try:
            updates["cidrs_allowed"] = list(cidr_list(config.cidrs_allowed))
        except ValueError as exc:
            raise ConfigError(f"Invalid cidrs_allowed: {exc}") from None
    for key in ("max_queue_depth", "min_queue_depth"):
        if getattr(config, key) < 0:
            raise ConfigError(f"'{key}' must not be negative, got {getattr(config, key)}")
    if config.role:
        notices.append("Deprecation warning: 'Role' has been replaced with 'Tags'")
        updates["tags"] = {**config.tags, "role": config.role}
    if config.retry_interval < MIN_RETRY_INTERVAL:
        updates["retry_interval"] = MIN_RETRY_INTERVAL
        notices.append("Warning: 'RetryInterval' is too low. Setting to 1s")
    if config.broadcast_timeout < MIN_BROADCAST_TIMEOUT:
        updates["broadcast_timeout"] = MIN_BROADCAST_TIMEOUT
        notices.append("Warning: 'BroadcastTimeout' is too low. Setting to 1s")
    if config.rejoin_after_leave and not config.snapshot_path:
        notices.append("Warning: 'RejoinAfterLeave' enabled without snapshot file")
    return CheckedConfig(config.model_copy(update=updates), handlers, notices)


def cidr_list(values: list[str]) -> tuple[str, ...]:
    """The networks of ``cidrs_allowed`` (items may hold comma lists); Go's ``invalid cidr``."""
    items = [part for value in values for part in value.replace(",", " ").split()]
    return MemberlistConfig.parse_cidrs(items)


def _check_mdns(config: AgentConfig) -> None:
    """Go 0.10's ``mdns`` checks, in its order and words.

    Go checks the IP families only when ``mdns.interface`` is set; pyserf also refuses both
    families disabled with ``-discover`` alone, since discovery could not send anything.
    """
    mdns = config.mdns
    if mdns.interface:
        if not config.discover:
            raise ConfigError("mDNS interface specified without enabling mDNS discovery")
        try:
            interface_addresses(mdns.interface)
        except ValueError as exc:
            raise ConfigError(f"Invalid mDNS network interface: {exc}") from None
    if (mdns.interface or config.discover) and mdns.disable_ipv4 and mdns.disable_ipv6:
        raise ConfigError("Invalid mDNS configuration: both IPv4 and IPv6 are disabled")


def check_log_level(level: str) -> str:
    """Upper-case and validate a log level; raises :class:`ConfigError` with Go's text."""
    upper = level.upper()
    if upper not in LOG_LEVELS:
        valid = " ".join(LOG_LEVELS)
        raise ConfigError(f"Invalid log level: {upper}. Valid log levels are: [{valid}]")
    return upper


def resolve_network(config: AgentConfig) -> NetworkSettings:
    """Go's ``setupAgent`` checks: bind/advertise addresses, interface, key and profile."""
    notices: list[str] = []
    try:
        bind_host, bind_port = address_parts(config.bind)
    except ValueError as exc:
        raise ConfigError(f"Invalid bind address: {exc}") from None
    if config.interface:
        addrs = interface_addresses(config.interface)
        if not addrs:
            raise ConfigError(f"Interface '{config.interface}' has no addresses")
        if bind_host == "0.0.0.0":
            usable = [a for a in addrs if not ipaddress.ip_address(a).is_link_local]
            if not usable:
                raise ConfigError(
                    f"Failed to find usable address for interface '{config.interface}'"
                )
            bind_host = usable[0]
            notices.append(f"Using interface '{config.interface}' address '{bind_host}'")
        elif bind_host not in addrs:
            raise ConfigError(f"Interface '{config.interface}' has no '{bind_host}' address")
    advertise_host: str | None = None
    advertise_port: int | None = None
    if config.advertise:
        try:
            advertise_host, advertise_port = address_parts(config.advertise)
        except ValueError as exc:
            raise ConfigError(f"Invalid advertise address: {exc}") from None
    key: bytes | None = None
    if config.encrypt_key:
        try:
            key = decode_base64(config.encrypt_key)
        except Base64Error as exc:
            raise ConfigError(f"Invalid encryption key: {exc}") from None
    if config.profile not in PROFILES:
        raise ConfigError(f"Unknown profile: {config.profile}")
    return NetworkSettings(
        bind_host, bind_port, advertise_host, advertise_port, key or None, config.profile, notices
    )


def check_serf_limits(config: AgentConfig, key: bytes | None) -> None:
    """Checks Go makes while creating Serf (reported as ``Error creating Serf: ...``)."""
    if config.protocol < SERF_PROTOCOL_MIN:
        raise ConfigError(
            f"Protocol version '{config.protocol}' too low. "
            f"Must be in range: [{SERF_PROTOCOL_MIN}, {SERF_PROTOCOL_MAX}]"
        )
    if config.protocol > SERF_PROTOCOL_MAX:
        raise ConfigError(
            f"Protocol version '{config.protocol}' too high. "
            f"Must be in range: [{SERF_PROTOCOL_MIN}, {SERF_PROTOCOL_MAX}]"
        )
    if config.user_event_size_limit > USER_EVENT_SIZE_LIMIT_HARD:
        raise ConfigError(
            f"user event size limit exceeds limit of {USER_EVENT_SIZE_LIMIT_HARD} bytes"
        )
    if key is not None and len(key) not in KEY_SIZES:
        raise ConfigError(f"Failed to create memberlist: {KEY_SIZE_ERROR}")


#: 2024-01-01T00:00:00Z: resumed incarnations count seconds from here (they fit in 31 bits
#: until 2092).
RESUME_EPOCH = 1_704_067_200


def resume_incarnation(wall_seconds: float) -> int:
    """The incarnation a node restarting from its snapshot counts up from (pyserf).

    Seconds since :data:`RESUME_EPOCH`: above whatever the previous instance reached, unless
    it refuted more than once per second of its whole life. Its first alive then overrides the
    suspect and dead news about that instance at once, instead of being ignored as stale."""
    return max(0, min(int(wall_seconds) - RESUME_EPOCH, 2**31 - 2))


def node_config(config: AgentConfig, network: NetworkSettings, state: StartupState) -> SerfConfig:
    """The node's configuration (``SerfConfig.build``): Go's agent defaults and the settings."""
    memberlist: dict[str, Any] = {"enable_compression": config.enable_compression}
    if config.label:
        memberlist["label"] = config.label
    if config.cidrs_allowed:
        memberlist["cidrs_allowed"] = tuple(config.cidrs_allowed)
    if config.encrypt_verify_incoming is not None:
        memberlist["gossip_verify_incoming"] = config.encrypt_verify_incoming
    if config.encrypt_verify_outgoing is not None:
        memberlist["gossip_verify_outgoing"] = config.encrypt_verify_outgoing
    if config.disable_self_healing:
        memberlist["resend_accusations"] = False
        memberlist["unprobed_push_pull"] = 0
    advertise = None
    if network.advertise_host is not None:
        advertise = (network.advertise_host, network.advertise_port or 0)
    overrides: dict[str, Any] = {
        "tags": dict(state.tags),
        "protocol_version": config.protocol,
        "keys": tuple(state.keys),
        "broadcast_timeout": config.broadcast_timeout,
        "enable_name_conflict_resolution": not config.disable_name_resolution,
        "rejoin_after_leave": config.rejoin_after_leave,
        "rejoin_failed": config.rejoin_failed,
        "snapshot": bool(config.snapshot_path),
        "validate_node_names": config.validate_node_names,
    }
    if config.disable_self_healing:
        overrides["heal_interval"] = 0.0
    for key in (
        "query_response_size_limit",
        "query_size_limit",
        "user_event_size_limit",
        "reconnect_interval",
        "reconnect_timeout",
        "tombstone_timeout",
        "max_queue_depth",
        "min_queue_depth",
        "heal_interval",
    ):
        if key == "heal_interval" and config.disable_self_healing:
            continue
        if getattr(config, key):
            overrides[key] = getattr(config, key)
    return SerfConfig.build(
        config.node_name,
        profile=network.profile,
        bind=(network.bind_host, network.bind_port),
        advertise=advertise,
        agent_defaults=True,
        memberlist=memberlist,
        **overrides,
    )
