"""Configuration of the Serf layer (Go ``serf.Config``), as a frozen dataclass.

Durations are float seconds. Defaults are Go's ``serf.DefaultConfig()`` (library defaults:
protocol 4, coalescing off); :meth:`SerfConfig.for_agent` applies what ``serf agent`` changes
(protocol 5, 3 s / 1 s coalescing). The membership core's settings live in ``memberlist``; the
Serf node overrides its delegate protocol fields and the memberlist protocol version itself.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from serf_proto.config import ConfigError, MemberlistConfig
from serf_proto.coordinate import VivaldiConfig
from serf_proto.errors import PayloadTooLarge
from serf_proto.protocol_versions import SERF_PROTOCOL_MAX, SERF_PROTOCOL_MIN
from serf_proto.serf.members import TimeoutOverride
from serf_proto.types import Member
from serf_proto.wire.limits import USER_EVENT_SIZE_LIMIT_HARD
from serf_proto.wire.tags import encode_tags

#: A merge hook (Go ``MergeDelegate.NotifyMerge``): sees the members a join, a push/pull merge
#: or an alive message would add; a returned string refuses them (the reason is logged).
MergeHook = Callable[[list[Member]], str | None]
#: Longest node name ``validate_node_names`` allows, in bytes (Go ``MaxNodeNameLength``).
MAX_NODE_NAME_LENGTH = 128
_INVALID_NAME = re.compile(r"[^A-Za-z0-9\-.]+")


def node_name_error(name: str) -> str | None:
    """Go's ``validateNodeName`` verdict for ``name``: its error text, or ``None`` if valid.

    Only alphanumerics, ``-`` and ``.``, at most 128 bytes (applied when
    ``SerfConfig.validate_node_names`` is set).
    """
    if _INVALID_NAME.search(name):
        return (
            f"Node name contains invalid characters {name} , Valid characters include "
            "all alpha-numerics and dashes and '.' "
        )
    if len(name.encode()) > MAX_NODE_NAME_LENGTH:
        return (
            f"Node name is {len(name.encode())} characters. "
            f"Valid length is between 1 and {MAX_NODE_NAME_LENGTH} characters"
        )
    return None


@dataclass(frozen=True, slots=True)
class SerfConfig:
    """Every knob of a Serf node.

    Attributes (seconds for durations):
        memberlist: the membership core's configuration; ``memberlist.name`` is the node name.
        tags: initial tags (gossiped as node meta, at most 512 bytes encoded).
        protocol_version: Serf protocol spoken (2..5; tags need 3, queries 4, relays 5).
        keys: initial encryption keys, primary first (empty: gossip in plain text).
        broadcast_timeout: how long leave and force-leave wait for their intent to go out.
        leave_propagate_delay: how long a leaving node keeps answering after its leave.
        event_buffer, query_buffer: sizes of the user-event and query de-duplication rings.
        query_timeout_mult: default query timeout is ``gossip_interval * mult * ceil(log10(N+1))``.
        query_response_size_limit, query_size_limit: encoded size limits in bytes.
        user_event_size_limit: limit for name + payload and for the encoded event (≤ 9 KiB).
        max_queue_depth, min_queue_depth: bound of each broadcast queue (min > 0 makes the
            bound ``max(min_queue_depth, 2 * members)``).
        queue_check_interval, queue_depth_warning: how often queues are checked, and the
            depth that logs a warning.
        recent_intent_timeout: how long intents for unknown nodes are kept.
        reap_interval, reconnect_interval: periods of the reaper and the reconnector.
        reconnect_timeout, tombstone_timeout: how long failed / left members are kept.
        heal_interval: self-healing period (pyserf; 0 disables it, as in Go): while members
            are failed, each node pings a random one with probability ``failed / alive``
            and pushes/pulls with it when it answers, so a healed partition merges within
            seconds instead of waiting for the reconnector.
        flap_timeout: a failed member returning within this is counted as a flap.
        coalesce_period, quiescent_period: member-event coalescing (both > 0 to enable).
        user_coalesce_period, user_quiescent_period: user-event coalescing likewise.
        enable_name_conflict_resolution: resolve a clash over our name by majority vote.
        disable_coordinates: do not run Vivaldi nor carry coordinates in acks.
        rejoin_after_leave: a snapshot's leave record does not forget the cluster.
        rejoin_failed: after a restart from a snapshot, when no member last seen alive
            answers, also try the members last seen failed (not in Go; the agent's
            ``-rejoin-failed``).
        snapshot: emit ``SnapshotAppend`` records for a snapshot file.
        validate_node_names: refuse names outside Go's rules (:func:`node_name_error`), our
            own at start and those of joining nodes.
        reconnect_timeout_override: ``(member, timeout) -> timeout`` for one member (Go's
            ``ReconnectTimeoutOverride``), asked by the reaper for failed and left members.
        merge_hook: veto joins and push/pull merges (Go's ``MergeDelegate``); see
            :data:`MergeHook`. Runs after Go's own checks of every joining node.
        vivaldi: Vivaldi tuning.
    """

    memberlist: MemberlistConfig
    tags: Mapping[str, str] = field(default_factory=dict)
    protocol_version: int = 4
    keys: tuple[bytes, ...] = ()
    broadcast_timeout: float = 5.0
    leave_propagate_delay: float = 1.0
    event_buffer: int = 512
    query_buffer: int = 512
    query_timeout_mult: int = 16
    query_response_size_limit: int = 1024
    query_size_limit: int = 1024
    user_event_size_limit: int = 512
    max_queue_depth: int = 4096
    min_queue_depth: int = 0
    queue_check_interval: float = 30.0
    queue_depth_warning: int = 128
    recent_intent_timeout: float = 300.0
    reap_interval: float = 15.0
    reconnect_interval: float = 30.0
    reconnect_timeout: float = 24 * 3600.0
    heal_interval: float = 2.0
    tombstone_timeout: float = 24 * 3600.0
    flap_timeout: float = 60.0
    coalesce_period: float = 0.0
    quiescent_period: float = 0.0
    user_coalesce_period: float = 0.0
    user_quiescent_period: float = 0.0
    enable_name_conflict_resolution: bool = True
    disable_coordinates: bool = False
    rejoin_after_leave: bool = False
    rejoin_failed: bool = False
    snapshot: bool = False
    validate_node_names: bool = False
    merge_hook: MergeHook | None = None
    reconnect_timeout_override: TimeoutOverride | None = None
    vivaldi: VivaldiConfig = field(default_factory=VivaldiConfig)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def node_name(self) -> str:
        """The node's name (from the memberlist configuration)."""
        return self.memberlist.name

    @classmethod
    def build(
        cls,
        name: str,
        *,
        profile: str = "lan",
        bind: tuple[str, int] | None = None,
        advertise: tuple[str, int] | None = None,
        agent_defaults: bool = False,
        memberlist: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> SerfConfig:
        """The one way to build a node's configuration from its parts.

        ``profile`` is Go's memberlist timing profile (``lan``, ``wan``, ``local``); ``bind``
        and ``advertise`` are ``(ip, port)`` pairs (an ``Address`` will do; advertise port 0 =
        the bound port); ``agent_defaults`` applies :meth:`for_agent`'s values before
        ``overrides``; ``memberlist`` overrides any other ``MemberlistConfig`` field and
        ``overrides`` any ``SerfConfig`` field. Raises ``ConfigError`` for bad values.
        """
        ml_values: dict[str, Any] = {}
        if bind is not None:
            ml_values["bind_addr"], ml_values["bind_port"] = bind
        if advertise is not None:
            ml_values["advertise_addr"], ml_values["advertise_port"] = advertise
        ml_values.update(memberlist or {})
        ml = MemberlistConfig.profile(profile, name, **ml_values)
        if agent_defaults:
            return cls.for_agent(ml, **overrides)
        return cls(memberlist=ml, **overrides)

    @classmethod
    def lan(cls, name: str, **overrides: Any) -> SerfConfig:
        """Library defaults over memberlist's LAN profile."""
        return cls.build(name, profile="lan", **overrides)

    @classmethod
    def wan(cls, name: str, **overrides: Any) -> SerfConfig:
        """Library defaults over memberlist's WAN profile."""
        return cls.build(name, profile="wan", **overrides)

    @classmethod
    def local(cls, name: str, **overrides: Any) -> SerfConfig:
        """Library defaults over memberlist's local (loopback) profile."""
        return cls.build(name, profile="local", **overrides)

    @classmethod
    def for_agent(cls, memberlist: MemberlistConfig, **overrides: Any) -> SerfConfig:
        """What ``serf agent`` runs with: protocol 5 and 3 s / 1 s coalescing of both kinds."""
        values: dict[str, Any] = {
            "protocol_version": 5,
            "coalesce_period": 3.0,
            "quiescent_period": 1.0,
            "user_coalesce_period": 3.0,
            "user_quiescent_period": 1.0,
        }
        values.update(overrides)
        return cls(memberlist=memberlist, **values)

    def replace(self, **changes: Any) -> SerfConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise ``ConfigError`` for values Go refuses or that cannot work."""
        if not SERF_PROTOCOL_MIN <= self.protocol_version <= SERF_PROTOCOL_MAX:
            raise ConfigError(
                f"protocol version {self.protocol_version} is outside "
                f"[{SERF_PROTOCOL_MIN}, {SERF_PROTOCOL_MAX}]"
            )
        if self.user_event_size_limit > USER_EVENT_SIZE_LIMIT_HARD:
            raise ConfigError(
                f"user event size limit exceeds limit of {USER_EVENT_SIZE_LIMIT_HARD} bytes"
            )
        for name in ("event_buffer", "query_buffer", "query_timeout_mult"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in (
            "broadcast_timeout",
            "reap_interval",
            "reconnect_interval",
            "queue_check_interval",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.heal_interval < 0:
            raise ConfigError("heal_interval must not be negative")
        for key in self.keys:
            if len(key) not in (16, 24, 32):
                raise ConfigError("key size must be 16, 24 or 32 bytes")
        try:
            encode_tags(self.tags, legacy=self.protocol_version < 3)
        except PayloadTooLarge as exc:
            raise ConfigError(str(exc)) from exc
        if self.validate_node_names and (error := node_name_error(self.node_name)):
            raise ConfigError(error)
