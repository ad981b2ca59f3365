"""The lan/wan/local profiles carry exactly Go memberlist's defaults."""

from __future__ import annotations

import pytest
from serf_proto.config import ConfigError, MemberlistConfig
from serf_proto.types import Address

GO_DEFAULTS = {
    # field: (lan, wan, local), from memberlist config.go
    "tcp_timeout": (10.0, 30.0, 1.0),
    "indirect_checks": (3, 3, 1),
    "retransmit_mult": (4, 4, 2),
    "suspicion_mult": (4, 6, 3),
    "suspicion_max_timeout_mult": (6, 6, 6),
    "push_pull_interval": (30.0, 60.0, 15.0),
    "probe_interval": (1.0, 5.0, 1.0),
    "probe_timeout": (0.5, 3.0, 0.2),
    "disable_tcp_pings": (False, False, False),
    "awareness_max_multiplier": (8, 8, 8),
    "gossip_nodes": (3, 4, 3),
    "gossip_interval": (0.2, 0.5, 0.1),
    "gossip_to_the_dead_time": (30.0, 60.0, 15.0),
    "gossip_verify_incoming": (True, True, True),
    "gossip_verify_outgoing": (True, True, True),
    "enable_compression": (True, True, True),
    "handoff_queue_depth": (1024, 1024, 1024),
    "udp_buffer_size": (1400, 1400, 1400),
    "dead_node_reclaim_time": (0.0, 0.0, 0.0),
    "protocol_version": (2, 2, 2),
    "bind_port": (7946, 7946, 7946),
}


@pytest.mark.parametrize("field", sorted(GO_DEFAULTS))
def test_profiles_match_go_defaults(field: str) -> None:
    lan, wan, local = GO_DEFAULTS[field]
    assert getattr(MemberlistConfig.lan("a"), field) == lan
    assert getattr(MemberlistConfig.wan("a"), field) == wan
    assert getattr(MemberlistConfig.local("a"), field) == local


def test_a_profile_is_chosen_by_name_and_accepts_overrides() -> None:
    config = MemberlistConfig.profile("wan", "a", gossip_nodes=7)
    assert config.probe_interval == 5.0
    assert config.gossip_nodes == 7


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        MemberlistConfig.profile("moon", "a")


@pytest.mark.parametrize(
    "bad",
    [
        {"name": ""},
        {"protocol_version": 6},
        {"probe_interval": 0.0},
        {"gossip_nodes": -1},
        {"retransmit_mult": 0},
        {"bind_port": 70000},
        {"udp_buffer_size": 10},
    ],
)
def test_out_of_range_values_raise_a_config_error(bad: dict[str, object]) -> None:
    values: dict[str, object] = {"name": "a", **bad}
    with pytest.raises(ConfigError):
        MemberlistConfig(**values)  # type: ignore[arg-type]


def test_the_advertised_address_falls_back_to_the_bind_address() -> None:
    config = MemberlistConfig.lan("a", bind_addr="10.0.0.1", bind_port=8000)
    assert config.advertise == Address("10.0.0.1", 8000)
    moved = config.replace(advertise_addr="192.0.2.1", advertise_port=9000)
    assert moved.advertise == Address("192.0.2.1", 9000)
