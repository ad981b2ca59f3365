"""The ``serf agent`` command line, parsed by Go's ``flag`` rules (:mod:`serf_proto.gocompat`).

The result is a config *layer* (see :mod:`serf_agent.config`) plus the list of config paths, so
the flags merge last, exactly as Go merges them. ``-retry-interval`` and ``-broadcast-timeout``
are string flags parsed afterwards with ``time.ParseDuration``, as in Go, so their errors read
``Error: time: invalid duration "x"`` (pyserf adds ``(flag -retry-interval)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serf_proto.gocompat import SECOND, DurationError, FlagSet, parse_duration, unmarshal_tags

from serf_agent.config import AgentConfig, ConfigError


@dataclass(frozen=True, slots=True)
class FlagSpec:
    """One flag: its name, the config key it feeds, its kind and whether it repeats."""

    name: str
    key: str
    kind: str  # "string", "int", "bool", "list"
    placeholder: str
    help: str


#: Every flag ``serf agent`` accepts, in help order. ``key`` is the config key it sets
#: (``config_paths``, ``tag_pairs``, ``disable_compression`` and the two duration flags are
#: resolved in :func:`parse_agent_flags`).
AGENT_FLAGS: tuple[FlagSpec, ...] = (
    FlagSpec(
        "bind",
        "bind",
        "string",
        "0.0.0.0:7946",
        "Address (ip[:port]) to gossip on, TCP and UDP. IPv6 as [::1]:7946.",
    ),
    FlagSpec(
        "iface",
        "interface",
        "string",
        "name",
        "Network interface whose address to bind to (also the mDNS interface).",
    ),
    FlagSpec(
        "mdns-iface",
        "mdns.interface",
        "string",
        "name",
        "Network interface for mDNS (-discover); default: -iface.",
    ),
    FlagSpec("mdns-disable-ipv4", "mdns.disable_ipv4", "bool", "", "Disable IPv4 for mDNS."),
    FlagSpec("mdns-disable-ipv6", "mdns.disable_ipv6", "bool", "", "Disable IPv6 for mDNS."),
    FlagSpec(
        "advertise",
        "advertise",
        "string",
        "ip[:port]",
        "Address other members should use to reach this node.",
    ),
    FlagSpec(
        "config-file", "config_paths", "list", "path", "JSON config file to read. Repeatable."
    ),
    FlagSpec(
        "config-dir",
        "config_paths",
        "list",
        "path",
        "Directory whose *.json files are read in lexical order. Repeatable.",
    ),
    FlagSpec(
        "discover",
        "discover",
        "string",
        "cluster",
        "mDNS cluster name: find and join peers on the local network.",
    ),
    FlagSpec(
        "encrypt",
        "encrypt_key",
        "string",
        "key",
        "Base64 gossip encryption key (16, 24 or 32 bytes).",
    ),
    FlagSpec(
        "keyring-file",
        "keyring_file",
        "string",
        "path",
        "JSON keyring file, rewritten when keys change.",
    ),
    FlagSpec(
        "event-handler",
        "event_handlers",
        "list",
        "spec",
        "Event handler, [filter[,filter]=]command. Repeatable.",
    ),
    FlagSpec(
        "join",
        "start_join",
        "list",
        "addr",
        "Agent to join at start; start-up fails if none answers. Repeatable.",
    ),
    FlagSpec("replay", "replay_on_join", "bool", "", "Replay past user events when joining."),
    FlagSpec(
        "log-level", "log_level", "string", "info", "Log level: trace, debug, info, warn or err."
    ),
    FlagSpec(
        "node", "node_name", "string", "hostname", "Node name; must be unique in the cluster."
    ),
    FlagSpec("profile", "profile", "string", "lan", "Timing profile: lan, wan or local."),
    FlagSpec("protocol", "protocol", "int", "5", "Serf protocol version to speak (2-5)."),
    FlagSpec(
        "rejoin",
        "rejoin_after_leave",
        "bool",
        "",
        "With -snapshot: rejoin even after a previous leave.",
    ),
    FlagSpec(
        "retry-join",
        "retry_join",
        "list",
        "addr",
        "Agent to join in the background until it works. Repeatable.",
    ),
    FlagSpec(
        "retry-interval", "retry_interval", "string", "30s", "Time between -retry-join attempts."
    ),
    FlagSpec(
        "retry-max",
        "retry_max_attempts",
        "int",
        "0",
        "Retries before the agent gives up and exits (0: forever).",
    ),
    FlagSpec(
        "disable-compression", "enable_compression", "bool", "", "Do not compress gossip messages."
    ),
    FlagSpec("role", "role", "string", "name", "Deprecated: sets the tag 'role'."),
    FlagSpec("rpc-addr", "rpc_addr", "string", "127.0.0.1:7373", "Address of the RPC listener."),
    FlagSpec(
        "snapshot",
        "snapshot_path",
        "string",
        "path",
        "Snapshot file: rejoin after a restart, never replay old events.",
    ),
    FlagSpec("tag", "tags", "list", "key=value", "Tag to attach to this node. Repeatable."),
    FlagSpec(
        "tags-file",
        "tags_file",
        "string",
        "path",
        "JSON file persisting tags (no -tag allowed with it).",
    ),
    FlagSpec("syslog", "enable_syslog", "bool", "", "Also send logs to the local syslog."),
    FlagSpec(
        "broadcast-timeout",
        "broadcast_timeout",
        "string",
        "5s",
        "How long to wait for leave and force-leave broadcasts.",
    ),
    FlagSpec(
        "label",
        "label",
        "string",
        "name",
        "pyserf: cluster label; members with another label are ignored.",
    ),
    FlagSpec(
        "concurrent-handlers",
        "concurrent_handlers",
        "bool",
        "",
        "pyserf: run handlers concurrently (ordered per event type).",
    ),
    FlagSpec("log-json", "log_json", "bool", "", "pyserf: write log lines as JSON objects."),
    FlagSpec(
        "http-addr",
        "http_addr",
        "string",
        "host:port",
        "pyserf: serve the HTTP API (JSON and metrics) here.",
    ),
    FlagSpec(
        "rejoin-failed",
        "rejoin_failed",
        "bool",
        "",
        "pyserf: with -snapshot, also try failed members when rejoining.",
    ),
    FlagSpec(
        "encrypt-verify-incoming",
        "encrypt_verify_incoming",
        "bool",
        "",
        "pyserf: refuse unencrypted gossip when a key is set (default true).",
    ),
    FlagSpec(
        "encrypt-verify-outgoing",
        "encrypt_verify_outgoing",
        "bool",
        "",
        "pyserf: encrypt outgoing gossip when a key is set (default true).",
    ),
    FlagSpec(
        "cidrs-allowed",
        "cidrs_allowed",
        "list",
        "10.0.0.0/8",
        "pyserf: only these networks may gossip with us (comma list; repeatable).",
    ),
    FlagSpec(
        "metric-label",
        "metric_labels",
        "list",
        "key=value",
        "pyserf: label added to every exported metric. Repeatable.",
    ),
    FlagSpec(
        "heal-interval",
        "heal_interval",
        "string",
        "2s",
        "pyserf: how often a node pings a failed member to find a healed network.",
    ),
    FlagSpec(
        "disable-self-healing",
        "disable_self_healing",
        "bool",
        "",
        "pyserf: run Go's rules (no heal pings, stale alives ignored).",
    ),
    FlagSpec(
        "handler-timeout",
        "handler_timeout",
        "string",
        "0s",
        "pyserf: kill an event handler still running after this (0: never).",
    ),
)

_BY_NAME = {spec.name: spec for spec in AGENT_FLAGS}


@dataclass(slots=True)
class AgentFlags:
    """What the command line said: the flag layer, the config paths, and leftover positionals."""

    layer: AgentConfig
    config_paths: list[str] = field(default_factory=list)
    positionals: list[str] = field(default_factory=list)


def agent_flag_set() -> FlagSet:
    """A :class:`FlagSet` defining every flag of :data:`AGENT_FLAGS`."""
    flags = FlagSet()
    define: dict[str, Callable[[str], None]] = {
        "string": flags.string,
        "bool": flags.boolean,
        "int": flags.integer,
        "list": flags.repeated,
    }
    for spec in AGENT_FLAGS:
        define[spec.kind](spec.name)
    return flags


def parse_agent_flags(argv: list[str]) -> AgentFlags:
    """Parse ``serf agent`` arguments into a config layer.

    Raises :class:`~serf_proto.gocompat.FlagError` (unknown flag, bad value: print it on stderr
    with the help), :class:`~serf_proto.gocompat.HelpRequestedError`, or :class:`ConfigError`
    (``Error: Invalid tag: 'foo'``, ``Error: time: invalid duration "abc"``), all before
    anything is started.
    """
    flags = agent_flag_set()
    positionals = flags.parse(argv)
    values: dict[str, Any] = {}
    lists: dict[str, list[str]] = {}
    for name, text in flags.given:
        spec = _BY_NAME[name]
        if spec.kind == "list":  # -config-file and -config-dir share one ordered list
            lists.setdefault(spec.key, []).append(text)
    for spec in AGENT_FLAGS:
        if spec.kind == "list" or spec.name == "disable-compression":
            continue
        if not flags.was_set(spec.name):
            continue
        if spec.kind == "bool":
            values[spec.key] = flags.get_bool(spec.name)
        elif spec.kind == "int":
            values[spec.key] = flags.get_int(spec.name)
        else:
            values[spec.key] = flags.get_str(spec.name)
    try:
        values["tags"] = unmarshal_tags(lists.pop("tags", []))
        values["metric_labels"] = unmarshal_tags(lists.pop("metric_labels", []))
    except ValueError as exc:
        raise ConfigError(f"Error: {exc}") from None
    for key in ("retry_interval", "broadcast_timeout", "heal_interval", "handler_timeout"):
        if values.get(key):
            try:
                values[key] = parse_duration(values[key]) / SECOND
            except DurationError as exc:
                flag = next(spec.name for spec in AGENT_FLAGS if spec.key == key)
                raise ConfigError(f"Error: {exc} (flag -{flag})") from None
        else:
            values.pop(key, None)
    if values.get("protocol", 0) < 0:
        values.pop("protocol")
    for key in [k for k in values if "." in k]:  # nested blocks: "mdns.interface"
        block, name = key.split(".", 1)
        values.setdefault(block, {})[name] = values.pop(key)
    config_paths = lists.pop("config_paths", [])
    values.update(lists)
    values["enable_compression"] = not flags.get_bool("disable-compression")
    return AgentFlags(AgentConfig.model_validate(values), config_paths, positionals)


def agent_help() -> str:
    """The help text of ``serf agent``."""
    lines = [
        "Usage: serf agent [options]",
        "",
        "  Runs a Serf agent: one cluster member that gossips, runs event handlers",
        "  and serves RPC until it is interrupted.",
        "",
        "Options:",
        "",
    ]
    for spec in AGENT_FLAGS:
        head = f"-{spec.name}" + (f"={spec.placeholder}" if spec.placeholder else "")
        lines.append(f"  {head:<26} {spec.help}")
    lines += [
        "",
        "Event handlers:",
        "",
        "  A handler is a shell command run for cluster events. Give it as",
        "  'command' (every event), 'member-join=command', 'user:deploy=command',",
        "  'query:load=command', or a comma list of such filters before the '='.",
        "  Filters: member-join, member-leave, member-failed, member-update,",
        "  member-reap, user, user:NAME, query, query:NAME and '*'.",
        "",
    ]
    return "\n".join(lines)
