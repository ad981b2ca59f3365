"""Go Serf 0.10.2 config files start our agent: its new keys and flags, keys in any case.

Go decodes config files with ``mapstructure``, which matches a key spelled exactly like the
field first and otherwise ignores case; the differential cases run Go 0.9.4 (/usr/bin/serf) on
the same files and compare the error text.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from serf_agent.command import load_config
from serf_agent.config import (
    AgentConfig,
    ConfigError,
    MDNSConfig,
    decode_config,
    merge,
    read_config_paths,
)
from serf_agent.discovery import zeroconf_choice
from serf_agent.flags import parse_agent_flags
from serf_proto import MemberlistConfig
from serf_proto.serf import SerfConfig, node_name_error
from zeroconf import IPVersion

from tests.agent.test_config import EVERY_KEY

GO_SERF = shutil.which("serf") or "/usr/bin/serf"

#: The keys Go 0.10.2 adds to 0.9.4's (cmd/serf/command/agent/config.go).
GO_010_KEYS = {
    "mdns": {"interface": "lo", "disable_ipv4": False, "disable_ipv6": True},
    "validate_node_names": True,
    "MsgpackUseNewTimeFormat": True,
}


def test_a_go_0_10_2_file_with_every_key_decodes() -> None:
    config = decode_config(json.dumps({**EVERY_KEY, **GO_010_KEYS}))
    assert config.mdns == MDNSConfig(interface="lo", disable_ipv6=True)
    assert config.validate_node_names
    assert config.msgpack_use_new_time_format
    go_keys = {AgentConfig.GO_KEYS.get(name, name) for name in AgentConfig.model_fields}
    assert set(EVERY_KEY) | set(GO_010_KEYS) <= go_keys


def test_keys_match_ignoring_case_like_mapstructure() -> None:
    config = decode_config(
        '{"NODE_NAME": "x", "Bind": "127.0.0.1", "msgpackusenewtimeformat": true,'
        ' "MDNS": {"Disable_IPv4": true}, "Tags": {"Role": "web"}}'
    )
    assert (config.node_name, config.bind) == ("x", "127.0.0.1")
    assert config.msgpack_use_new_time_format and config.mdns.disable_ipv4
    assert config.tags == {"Role": "web"}  # tag names are data, kept as written


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"bind": "a", "Bind": "b", "NODE_NAME": "x", "zz": 1},
            "1 error(s) decoding:\n\n* '' has invalid keys: Bind, zz",
        ),
        (
            {"Protocol": "x", "TAGS": 3},
            "2 error(s) decoding:\n\n"
            "* 'protocol' expected type 'int', got unconvertible type 'string', value: 'x'\n"
            "* 'tags' expected a map, got 'float64'",
        ),
    ],
)
def test_case_errors_match_go(tmp_path: Path, document: dict[str, object], message: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as info:
        read_config_paths([str(path)])
    assert str(info.value) == f"Error decoding '{path}': {message}"
    if Path(GO_SERF).exists():
        go = subprocess.run(
            [GO_SERF, "agent", f"-config-file={path}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert go.stdout == f"==> {info.value}\n"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"mdns": 3}, "1 error(s) decoding:\n\n* 'mdns' expected a map, got 'float64'"),
        (
            {"mdns": {"iface": "lo", "disable_ipv6": "yes"}},
            "2 error(s) decoding:\n\n"
            "* 'mdns' has invalid keys: iface\n"
            "* 'mdns.disable_ipv6' expected type 'bool', got unconvertible type 'string', "
            "value: 'yes'",
        ),
        (
            {"tombstone_timeout": "soon"},
            "time: invalid duration \"soon\" (key 'tombstone_timeout')",
        ),
    ],
)
def test_new_key_errors_name_the_key(document: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        decode_config(json.dumps(document))
    assert str(info.value) == message


def test_mdns_merges_like_go() -> None:
    base = decode_config('{"mdns": {"interface": "eth0", "disable_ipv4": true}}')
    layer = decode_config('{"mdns": {"disable_ipv6": true}}')
    expected = MDNSConfig(interface="eth0", disable_ipv4=True, disable_ipv6=True)
    assert merge(base, layer).mdns == expected
    assert merge(layer, base).mdns.interface == "eth0"


def test_mdns_flags() -> None:
    flags = parse_agent_flags(["-mdns-iface=lo", "-mdns-disable-ipv6", "-discover=c"])
    assert flags.layer.mdns == MDNSConfig(interface="lo", disable_ipv6=True)
    assert load_config(["-mdns-iface=lo", "-discover=c"], "h").config.mdns.interface == "lo"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-mdns-iface=lo"], "mDNS interface specified without enabling mDNS discovery"),
        (
            ["-mdns-iface=nope0", "-discover=c"],
            "Invalid mDNS network interface: route ip+net: no such network interface",
        ),
        (
            ["-discover=c", "-mdns-disable-ipv4", "-mdns-disable-ipv6"],
            "Invalid mDNS configuration: both IPv4 and IPv6 are disabled",
        ),
        (
            ["-mdns-iface=lo", "-discover=c", "-mdns-disable-ipv4", "-mdns-disable-ipv6"],
            "Invalid mDNS configuration: both IPv4 and IPv6 are disabled",
        ),
    ],
)
def test_mdns_checks_use_gos_text(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(argv, "h")
    assert str(info.value) == message


def test_zeroconf_choice_drops_the_disabled_family() -> None:
    assert zeroconf_choice(None) == (None, IPVersion.All)
    assert zeroconf_choice(None, disable_ipv6=True) == (None, IPVersion.V4Only)
    addrs = ["127.0.0.1", "::1"]
    assert zeroconf_choice(addrs, disable_ipv4=True) == (["::1"], IPVersion.V6Only)
    assert zeroconf_choice(addrs, disable_ipv6=True) == (["127.0.0.1"], IPVersion.V4Only)
    with pytest.raises(ValueError, match="no address"):
        zeroconf_choice(["::1"], disable_ipv6=True)


def test_node_name_rules_and_gos_text() -> None:
    assert node_name_error("web-1.example") is None
    assert node_name_error("web_1") == (
        "Node name contains invalid characters web_1 , Valid characters include "
        "all alpha-numerics and dashes and '.' "
    )
    assert node_name_error("a" * 129) == (
        "Node name is 129 characters. Valid length is between 1 and 128 characters"
    )
    ml = MemberlistConfig.profile("lan", "web_1")
    SerfConfig(memberlist=ml)  # off by default, as in Go
    with pytest.raises(ValueError, match="invalid characters web_1"):
        SerfConfig(memberlist=ml, validate_node_names=True)


def test_verify_switches_are_unset_until_a_layer_says_either_value(tmp_path: Path) -> None:
    assert load_config([], "h").config.encrypt_verify_incoming is None
    path = tmp_path / "v.json"
    path.write_text('{"encrypt_verify_incoming": false, "encrypt_verify_outgoing": false}')
    loaded = load_config([f"-config-file={path}", "-encrypt-verify-outgoing=true"], "h")
    assert (loaded.config.encrypt_verify_incoming, loaded.config.encrypt_verify_outgoing) == (
        False,
        True,
    )


def test_queue_depths_reach_serf_and_negative_ones_stop_the_start(tmp_path: Path) -> None:
    from serf_agent.keyring_file import StartupState
    from serf_agent.settings import node_config, resolve_network

    path = tmp_path / "q.json"
    path.write_text(
        '{"max_queue_depth": 100, "min_queue_depth": 10, "encrypt_verify_incoming": false}'
    )
    config = load_config([f"-config-file={path}", "-bind=127.0.0.1"], "h").config
    serf = node_config(config, resolve_network(config), StartupState({}, []))
    assert (serf.max_queue_depth, serf.min_queue_depth) == (100, 10)
    assert not serf.memberlist.gossip_verify_incoming and serf.memberlist.gossip_verify_outgoing
    path.write_text('{"max_queue_depth": -1}')
    with pytest.raises(ConfigError, match=r"^'max_queue_depth' must not be negative, got -1$"):
        load_config([f"-config-file={path}"], "h")


def test_cidrs_allowed_reaches_memberlist_and_a_bad_one_stops_the_start(tmp_path: Path) -> None:
    from serf_agent.keyring_file import StartupState
    from serf_agent.settings import node_config, resolve_network

    path = tmp_path / "c.json"
    path.write_text('{"cidrs_allowed": ["10.0.0.0/8"]}')
    argv = [f"-config-file={path}", "-cidrs-allowed=127.0.0.0/8, ::1/128", "-bind=127.0.0.1"]
    config = load_config(argv, "h").config
    assert config.cidrs_allowed == ["10.0.0.0/8", "127.0.0.0/8", "::1/128"]
    ml = node_config(config, resolve_network(config), StartupState({}, [])).memberlist
    assert ml.ip_allowed("127.0.0.1") and not ml.ip_allowed("192.168.0.1")
    with pytest.raises(ConfigError) as info:
        load_config(["-cidrs-allowed=10.0.0.1,10.0.0.0/33"], "h")
    assert str(info.value) == (
        "Invalid cidrs_allowed: invalid cidr: 10.0.0.1; invalid cidr: 10.0.0.0/33"
    )


def test_metric_labels_merge_like_tags_and_bad_names_stop_the_start(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"metric_labels": {"dc": "east", "rack": "r1"}}')
    config = load_config([f"-config-file={path}", "-metric-label=rack=r2"], "h").config
    assert config.metric_labels == {"dc": "east", "rack": "r2"}
    for name, why in (("bad-name", "invalid label name"), ("reason", "used by the metrics")):
        with pytest.raises(ConfigError, match=f"^Invalid metric_labels: .*{why}"):
            load_config([f"-metric-label={name}=x"], "h")
    with pytest.raises(ConfigError) as info:
        decode_config('{"metric_labels": {"dc": 1}}')
    assert "'metric_labels[dc]' expected type 'string'" in str(info.value)
