"""`serf agent` flags (Go flag rules) and the start-up checks with their exact messages."""

from __future__ import annotations

import pytest
from serf_agent.config import AgentConfig, ConfigError, default_config, merge
from serf_agent.flags import agent_help, parse_agent_flags
from serf_agent.settings import (
    address_parts,
    check_config,
    check_log_level,
    check_serf_limits,
    resolve_network,
)
from serf_proto.gocompat import FlagError, HelpRequestedError, decode_base64


def test_every_go_agent_flag_sets_its_config_key() -> None:
    flags = parse_agent_flags(
        [
            "-bind=127.0.0.1:1",
            "-iface=lo",
            "-advertise=10.0.0.1",
            "-config-file=a.json",
            "-config-dir=cdir",
            "-discover=c",
            "-encrypt=k",
            "-keyring-file=kr",
            "-event-handler=a.sh",
            "-event-handler=user:x=b.sh",
            "-join=h1",
            "-join",
            "h2",
            "-replay",
            "-log-level=debug",
            "-node=n",
            "-profile=wan",
            "-protocol=4",
            "-rejoin",
            "-retry-join=r1",
            "-retry-interval=5s",
            "-retry-max=2",
            "-disable-compression",
            "-role=web",
            "-rpc-addr=127.0.0.1:2",
            "-snapshot=snap",
            "-tag",
            "a=b=c",
            "--tag=d=",
            "-tags-file=tf",
            "-syslog",
            "-broadcast-timeout=2s",
        ]
    )
    layer = flags.layer
    assert flags.config_paths == ["a.json", "cdir"]
    assert layer.bind == "127.0.0.1:1"
    assert layer.interface == "lo"
    assert layer.advertise == "10.0.0.1"
    assert layer.discover == "c"
    assert layer.encrypt_key == "k"
    assert layer.keyring_file == "kr"
    assert layer.event_handlers == ["a.sh", "user:x=b.sh"]
    assert layer.start_join == ["h1", "h2"]
    assert layer.replay_on_join is True
    assert layer.log_level == "debug"
    assert layer.node_name == "n"
    assert layer.profile == "wan"
    assert layer.protocol == 4
    assert layer.rejoin_after_leave is True
    assert layer.retry_join == ["r1"]
    assert layer.retry_interval == 5.0
    assert layer.retry_max_attempts == 2
    assert layer.enable_compression is False
    assert layer.role == "web"
    assert layer.rpc_addr == "127.0.0.1:2"
    assert layer.snapshot_path == "snap"
    assert layer.tags == {"a": "b=c", "d": ""}
    assert layer.tags_file == "tf"
    assert layer.enable_syslog is True
    assert layer.broadcast_timeout == 2.0


def test_pyserf_additions_are_flags_too() -> None:
    layer = parse_agent_flags(
        ["-label=blue", "-concurrent-handlers", "-log-json", "-http-addr=127.0.0.1:1"]
    ).layer
    assert (layer.label, layer.concurrent_handlers, layer.log_json) == ("blue", True, True)
    assert layer.http_addr == "127.0.0.1:1"


def test_parsing_stops_at_the_first_positional() -> None:
    flags = parse_agent_flags(["-node=a", "extra", "-node=b"])
    assert flags.layer.node_name == "a"
    assert flags.positionals == ["extra", "-node=b"]


def test_compression_is_on_unless_disabled_and_flags_merge_last() -> None:
    assert parse_agent_flags([]).layer.enable_compression is True
    file_layer = AgentConfig(node_name="file", tags={"k": "file", "x": "1"})
    flags = parse_agent_flags(["-node=flag", "-tag", "k=flag"])
    merged = merge(merge(default_config(), file_layer), flags.layer)
    assert merged.node_name == "flag"
    assert merged.tags == {"k": "flag", "x": "1"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-bogus"], "flag provided but not defined: -bogus"),
        (["-protocol=abc"], 'invalid value "abc" for flag -protocol: parse error'),
        (["-retry-max=x"], 'invalid value "x" for flag -retry-max: parse error'),
        (["-rejoin=maybe"], 'invalid boolean value "maybe" for -rejoin: parse error'),
        (["-node"], "flag needs an argument: -node"),
        (["---node=x"], "bad flag syntax: ---node=x"),
    ],
)
def test_flag_errors_use_gos_text(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as info:
        parse_agent_flags(argv)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-tag", "foo"], "Error: Invalid tag: 'foo'"),
        (["-tag", "=v"], "Error: Invalid tag: '=v'"),
        (["-retry-interval=abc"], 'Error: time: invalid duration "abc" (flag -retry-interval)'),
        (
            ["-broadcast-timeout=1"],
            'Error: time: missing unit in duration "1" (flag -broadcast-timeout)',
        ),
    ],
)
def test_value_errors_use_gos_text(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_agent_flags(argv)
    assert str(info.value) == message


def test_help_flags_are_recognised_and_the_help_lists_every_flag() -> None:
    for arg in ("-h", "-help", "--help"):
        with pytest.raises(HelpRequestedError):
            parse_agent_flags([arg])
    text = agent_help()
    for name in ("-bind", "-snapshot", "-retry-max", "-tags-file", "-label"):
        assert name in text


@pytest.mark.parametrize(
    ("text", "value"), [("0x10", 16), ("-3", -3), ("010", 8), ("1_000", 1000), ("0b_11", 3)]
)
def test_integer_flags_take_go_base_zero_syntax(text: str, value: int) -> None:
    assert parse_agent_flags([f"-retry-max={text}"]).layer.retry_max_attempts == value


def test_durations_beyond_go_s_range_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_agent_flags(["-retry-interval=2562048h"])
    assert str(info.value) == 'Error: time: invalid duration "2562048h" (flag -retry-interval)'
    flags = parse_agent_flags(["-retry-interval=2562047h"])
    assert flags.layer.retry_interval == 2562047 * 3600


def checked(**values: object) -> AgentConfig:
    return merge(default_config(), AgentConfig.model_validate(values))


def test_the_node_name_defaults_to_the_hostname() -> None:
    assert check_config(checked(), hostname="vm").config.node_name == "vm"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"event_handlers": ["bogus=/bin/true"]},
            "Invalid event script: Event 'bogus' invoking '/bin/true'",
        ),
        (
            {"event_handlers": ["FOO=1 /bin/true"]},
            "Invalid event script: Event 'FOO' invoking '1 /bin/true'",
        ),
        (
            {"interface": "nope0"},
            "Invalid network interface: route ip+net: no such network interface",
        ),
    ],
)
def test_read_phase_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_config(checked(**values), hostname="vm")
    assert str(info.value) == message


def test_read_phase_notices_and_corrections() -> None:
    result = check_config(
        checked(role="web", retry_interval=0.1, broadcast_timeout=0.5, rejoin_after_leave=True),
        hostname="vm",
    )
    assert result.config.tags["role"] == "web"
    assert result.config.retry_interval == 1.0
    assert result.config.broadcast_timeout == 1.0
    assert result.notices == [
        "Deprecation warning: 'Role' has been replaced with 'Tags'",
        "Warning: 'RetryInterval' is too low. Setting to 1s",
        "Warning: 'BroadcastTimeout' is too low. Setting to 1s",
        "Warning: 'RejoinAfterLeave' enabled without snapshot file",
    ]


def test_log_levels_are_case_insensitive_and_checked() -> None:
    assert check_log_level("warn") == "WARN"
    with pytest.raises(ConfigError) as info:
        check_log_level("bogus")
    assert str(info.value) == (
        "Invalid log level: BOGUS. Valid log levels are: [TRACE DEBUG INFO WARN ERR]"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"encrypt_key": "abc"}, "Invalid encryption key: illegal base64 data at input byte 0"),
        (
            {"encrypt_key": "abcdefghi"},
            "Invalid encryption key: illegal base64 data at input byte 8",
        ),
        ({"profile": "bogus"}, "Unknown profile: bogus"),
        ({"bind": "::1"}, "Invalid bind address: address ::1: too many colons in address"),
        ({"interface": "lo", "bind": "127.0.0.2"}, "Interface 'lo' has no '127.0.0.2' address"),
    ],
)
def test_setup_phase_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_network(checked(**values))
    assert str(info.value) == message


def test_addresses_default_to_port_7946_and_keep_ipv6() -> None:
    assert address_parts("127.0.0.1") == ("127.0.0.1", 7946)
    assert address_parts("[::1]") == ("::1", 7946)
    assert address_parts("[::1]:8000") == ("::1", 8000)
    assert address_parts("0.0.0.0:0") == ("0.0.0.0", 0)
    network = resolve_network(checked(bind="127.0.0.1:19946", advertise="127.0.0.1"))
    assert network.bind_display == "127.0.0.1:19946"
    assert (network.advertise_host, network.advertise_port) == ("127.0.0.1", 7946)


def test_the_interface_supplies_the_bind_address() -> None:
    network = resolve_network(checked(interface="lo"))
    assert network.bind_host == "127.0.0.1"
    assert network.notices == ["Using interface 'lo' address '127.0.0.1'"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"protocol": 1}, "Protocol version '1' too low. Must be in range: [2, 5]"),
        ({"protocol": 6}, "Protocol version '6' too high. Must be in range: [2, 5]"),
        ({"user_event_size_limit": 9217}, "user event size limit exceeds limit of 9216 bytes"),
    ],
)
def test_create_phase_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_serf_limits(checked(**values), None)
    assert str(info.value) == message


def test_a_key_of_the_wrong_size_is_refused_like_memberlist() -> None:
    with pytest.raises(ConfigError) as info:
        check_serf_limits(checked(), decode_base64("abcdefghij=="))
    assert str(info.value) == "Failed to create memberlist: key size must be 16, 24 or 32 bytes"


@pytest.mark.parametrize(
    ("text", "position"),
    [("ab==cdef", 4), ("abcde=", 5), ("abcd=", 4), ("ab=c", 2), ("abc$def", 3), ("abcdefg", 4)],
)
def test_base64_errors_report_gos_byte_position(text: str, position: int) -> None:
    with pytest.raises(ValueError) as info:
        decode_base64(text)
    assert str(info.value) == f"illegal base64 data at input byte {position}"


def test_self_healing_and_handler_timeout_flags_reach_the_node_config() -> None:
    from serf_agent.keyring_file import StartupState
    from serf_agent.settings import NetworkSettings, node_config

    network = NetworkSettings("127.0.0.1", 7946, None, None, None, "lan")
    state = StartupState({}, [])

    def build(argv: list[str]) -> tuple[AgentConfig, float, bool, int]:
        config = merge(default_config(), parse_agent_flags(["-node=a", *argv]).layer)
        serf = node_config(config, network, state)
        ml = serf.memberlist
        return config, serf.heal_interval, ml.resend_accusations, ml.unprobed_push_pull

    config, heal, resend, unprobed = build([])
    assert (heal, resend, unprobed, config.handler_timeout) == (2.0, True, 8, 0.0)
    config, heal, _, _ = build(["-heal-interval=500ms", "-handler-timeout=2s"])
    assert (heal, config.handler_timeout) == (0.5, 2.0)
    _, heal, resend, unprobed = build(["-disable-self-healing", "-heal-interval=5s"])
    assert (heal, resend, unprobed) == (0.0, False, 0)
    from_file = AgentConfig.model_validate({"heal_interval": 1.0, "handler_timeout": 3.0})
    merged = merge(default_config(), from_file)
    assert (merged.heal_interval, merged.handler_timeout) == (1.0, 3.0)


def test_a_node_restarting_from_its_snapshot_resumes_above_its_last_incarnation() -> None:
    from serf_agent.settings import RESUME_EPOCH, resume_incarnation

    assert resume_incarnation(RESUME_EPOCH + 3600.5) == 3600
    assert resume_incarnation(RESUME_EPOCH - 10) == 0  # a clock before the epoch: Go's start
    assert resume_incarnation(RESUME_EPOCH + 2.0**40) == 2**31 - 2  # fits Go's uint32
    earlier, later = resume_incarnation(RESUME_EPOCH + 100), resume_incarnation(RESUME_EPOCH + 160)
    assert later > earlier
