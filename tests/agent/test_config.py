"""Config files: every key, Go's defaults, merge order and every decoding error text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serf_agent.config import (
    AgentConfig,
    ConfigError,
    decode_config,
    default_config,
    merge,
    read_config_paths,
)
from serf_proto.gocompat import SECOND, parse_duration

# One value for every key a Go config file may carry (durations as Go strings).
EVERY_KEY = {
    "node_name": "n1",
    "role": "web",
    "disable_coordinates": True,
    "tags": {"dc": "east"},
    "tags_file": "/tmp/tags.json",
    "bind": "127.0.0.1:7946",
    "advertise": "10.0.0.1",
    "encrypt_key": "YS029FLySwr2lkH4HAqaxcLwAK+j3pl2HNISYL8BHDQ=",
    "keyring_file": "/tmp/keyring.json",
    "log_level": "debug",
    "rpc_addr": "127.0.0.1:7374",
    "rpc_auth": "token",
    "protocol": 4,
    "replay_on_join": True,
    "start_join": ["127.0.0.1:7947"],
    "event_handlers": ["handler.sh"],
    "profile": "wan",
    "snapshot_path": "/tmp/snap",
    "leave_on_terminate": True,
    "skip_leave_on_interrupt": True,
    "discover": "cluster",
    "interface": "lo",
    "reconnect_interval": "10s",
    "reconnect_timeout": "1h",
    "tombstone_timeout": "2h",
    "disable_name_resolution": True,
    "enable_syslog": True,
    "syslog_facility": "LOCAL1",
    "retry_join": ["127.0.0.1:7948"],
    "retry_max_attempts": 3,
    "retry_interval": "5s",
    "rejoin_after_leave": True,
    "statsite_addr": "127.0.0.1:8125",
    "statsd_addr": "127.0.0.1:8126",
    "query_response_size_limit": 2048,
    "query_size_limit": 2048,
    "user_event_size_limit": 1024,
    "enable_compression": False,
    "broadcast_timeout": "7s",
}


def test_every_go_config_key_decodes_to_its_value() -> None:
    config = decode_config(json.dumps(EVERY_KEY))
    for key, value in EVERY_KEY.items():
        got = getattr(config, key)
        expected = (
            parse_duration(str(value)) / SECOND if key in AgentConfig.DURATION_KEYS else value
        )
        assert got == expected, key


def test_defaults_are_gos() -> None:
    config = default_config()
    assert config.bind == "0.0.0.0"
    assert config.rpc_addr == "127.0.0.1:7373"
    assert config.log_level == "INFO"
    assert config.protocol == 5
    assert config.profile == "lan"
    assert config.retry_interval == 30.0
    assert config.broadcast_timeout == 5.0
    assert config.syslog_facility == "LOCAL0"
    assert config.query_response_size_limit == 1024
    assert config.query_size_limit == 1024
    assert config.tags == {}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "EOF"),
        ('{"node_name": "x"', "unexpected EOF"),
        ("[]", "'' expected a map, got 'slice'"),
        ('"x"', "'' expected a map, got 'string'"),
        ('{"foo": 1}', "1 error(s) decoding:\n\n* '' has invalid keys: foo"),
        ('{"foo": 1, "bar": 2}', "1 error(s) decoding:\n\n* '' has invalid keys: bar, foo"),
        (
            '{"protocol": "5"}',
            "1 error(s) decoding:\n\n* 'protocol' expected type 'int', "
            "got unconvertible type 'string', value: '5'",
        ),
        (
            '{"protocol": "5", "node_name": 3}',
            "2 error(s) decoding:\n\n"
            "* 'node_name' expected type 'string', got unconvertible type 'float64', value: '3'\n"
            "* 'protocol' expected type 'int', got unconvertible type 'string', value: '5'",
        ),
        ('{"tags": "x"}', "1 error(s) decoding:\n\n* 'tags' expected a map, got 'string'"),
        (
            '{"tags": {"a": 1}}',
            "1 error(s) decoding:\n\n* 'tags[a]' expected type 'string', "
            "got unconvertible type 'float64', value: '1'",
        ),
        (
            '{"start_join": "a"}',
            "1 error(s) decoding:\n\n* 'start_join': source data must be an array or slice, "
            "got string",
        ),
        (
            '{"replay_on_join": "true"}',
            "1 error(s) decoding:\n\n* 'replay_on_join' expected type 'bool', "
            "got unconvertible type 'string', value: 'true'",
        ),
        (
            '{"retry_interval": 5}',
            "1 error(s) decoding:\n\n* 'retry_interval' expected type 'string', "
            "got unconvertible type 'float64', value: '5'",
        ),
        ('{"retry_interval": "abc"}', "time: invalid duration \"abc\" (key 'retry_interval')"),
    ],
)
def test_bad_documents_get_gos_error_text(document: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        decode_config(document)
    assert str(info.value) == message


def test_nulls_are_skipped_and_only_the_first_json_value_is_read() -> None:
    assert decode_config('{"node_name": null}') == AgentConfig()
    assert decode_config('{"node_name": "a"}{').node_name == "a"


def test_numbers_for_integer_keys_are_truncated_like_go() -> None:
    assert decode_config('{"protocol": 4.7}').protocol == 4


def test_merge_follows_gos_rules() -> None:
    first = AgentConfig(
        node_name="a",
        tags={"k": "file", "x": "1"},
        event_handlers=["a.sh"],
        start_join=["h1"],
        replay_on_join=True,
        protocol=4,
    )
    second = AgentConfig(
        node_name="",
        tags={"k": "flag"},
        event_handlers=["b.sh"],
        start_join=["h2"],
        replay_on_join=False,
        protocol=0,
    )
    merged = merge(first, second)
    assert merged.node_name == "a"  # empty strings never replace
    assert merged.tags == {"k": "flag", "x": "1"}  # key by key, later wins
    assert merged.event_handlers == ["a.sh", "b.sh"]  # lists append
    assert merged.start_join == ["h1", "h2"]
    assert merged.replay_on_join is True  # booleans can only be switched on
    assert merged.protocol == 4  # zero never replaces


def test_a_negative_protocol_never_replaces() -> None:
    assert merge(default_config(), AgentConfig(protocol=-1)).protocol == 5


def write(path: Path, data: dict[str, object]) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_files_merge_in_command_line_order_and_directories_lexically(tmp_path: Path) -> None:
    cdir = tmp_path / "cdir"
    cdir.mkdir()
    write(cdir / "b.json", {"node_name": "from-b", "event_handlers": ["b.sh"]})
    write(cdir / "a.json", {"node_name": "from-a", "event_handlers": ["a.sh"]})
    (cdir / "z.txt").write_text("{not json")  # ignored: not *.json
    (cdir / "sub.json").mkdir()  # ignored: a directory
    single = write(tmp_path / "f.json", {"node_name": "from-f"})
    assert read_config_paths([str(cdir), single]).node_name == "from-f"
    merged = read_config_paths([single, str(cdir)])
    assert merged.node_name == "from-b"
    assert merged.event_handlers == ["a.sh", "b.sh"]


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_config_paths(["nope.json"])
    assert str(info.value) == "Error reading 'nope.json': open nope.json: no such file or directory"


def test_a_bad_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path / "typeerr.json", {"protocol": "5"})
    with pytest.raises(ConfigError) as info:
        read_config_paths([path])
    assert str(info.value).startswith(f"Error decoding '{path}': 1 error(s) decoding:")
    assert "'protocol' expected type 'int'" in str(info.value)


def test_the_example_config_directory_loads_and_passes_the_checks() -> None:
    from serf_agent.command import load_config

    deploy = Path(__file__).resolve().parents[2] / "deploy" / "serf.d"
    loaded = load_config([f"-config-dir={deploy}"], hostname="host-1")
    config = loaded.config
    assert config.node_name == "host-1"
    assert config.snapshot_path == "/var/lib/serf/snapshot"
    assert config.retry_join == ["10.0.0.11:7946", "10.0.0.12:7946"]
    assert [h.filter.key() for h in loaded.handlers] == [
        "member-join:",
        "member-leave:",
        "member-failed:",
        "user:deploy",
        "query:uptime",
    ]
    assert loaded.notices == []
