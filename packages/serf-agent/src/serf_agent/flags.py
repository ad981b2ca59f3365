"""The ``serf agent`` command line, parsed with the rules of Go's ``flag`` package.

Go's rules, which scripts rely on: one or two leading dashes are equivalent; a value is given as
``-f=v`` or ``-f v``; a boolean is ``-f`` / ``-f=true`` / ``-f=false`` (never ``-f false``);
parsing stops at the first argument that is not a flag (``--`` is swallowed); repeatable flags
append. The result is a config *layer* (see :mod:`serf_agent.config`) plus the list of config
paths, so the flags merge last, exactly as Go merges them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serf_agent.config import AgentConfig, ConfigError
from serf_agent.durations import DurationError, parse_duration


class FlagError(Exception):
    """The command line cannot be parsed; ``str()`` is Go's ``flag`` message (for stderr)."""


class HelpRequested(Exception):  # noqa: N818 - mirrors Go's flag.ErrHelp
    """``-h`` or ``-help`` was given as a flag."""


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
)

_BY_NAME = {spec.name: spec for spec in AGENT_FLAGS}


@dataclass(slots=True)
class AgentFlags:
    """What the command line said: the flag layer, the config paths, and leftover positionals."""

    layer: AgentConfig
    config_paths: list[str] = field(default_factory=list)
    positionals: list[str] = field(default_factory=list)


def parse_go_bool(text: str) -> bool:
    """Go ``strconv.ParseBool``; raises ``ValueError`` on anything else."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError(text)


def parse_go_int(text: str) -> int:
    """Go ``strconv.ParseInt(s, 0, 64)``: decimal, ``0x``, ``0o``/``0`` octal, ``0b``, ``_``."""
    body = text.lstrip("+-")
    if not body or body.startswith("_") or body.endswith("_"):
        raise ValueError(text)
    sign = -1 if text.startswith("-") else 1
    lowered = body.lower()
    if lowered.startswith(("0x", "0o", "0b")):
        value = int(lowered, 0)
    elif len(body) > 1 and body.startswith("0"):
        value = int(body.replace("_", ""), 8)
    else:
        if "_" in body:
            raise ValueError(text)
        value = int(body, 10)
    value *= sign
    if not -(2**63) <= value < 2**63:
        raise ValueError(text)
    return value


def split_flags(
    argv: list[str], is_bool: Callable[[str], bool | None]
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Split ``argv`` Go-style into ``(name, value)`` pairs and the remaining positionals.

    ``is_bool(name)`` says whether a flag is boolean (``None``: the flag does not exist). A
    non-boolean flag without ``=`` takes the next argument. Raises :class:`FlagError` with Go's
    texts and :class:`HelpRequested` for ``-h``/``-help``.
    """
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if len(arg) < 2 or not arg.startswith("-"):
            break
        i += 1
        dashes = 2 if arg.startswith("--") else 1
        if arg == "--":
            break
        name = arg[dashes:]
        if not name or name.startswith(("-", "=")):
            raise FlagError(f"bad flag syntax: {arg}")
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        kind = is_bool(name)
        if kind is None:
            if name in ("h", "help"):
                raise HelpRequested()
            raise FlagError(f"flag provided but not defined: -{name}")
        if not kind and value is None:
            if i >= len(argv):
                raise FlagError(f"flag needs an argument: -{name}")
            value = argv[i]
            i += 1
        pairs.append((name, value))
    return pairs, argv[i:]


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """Parse ``key=value`` strings; raises :class:`ConfigError` ``Invalid tag: '<s>'``."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"Invalid tag: '{pair}'")
        tags[key] = value
    return tags


def parse_agent_flags(argv: list[str]) -> AgentFlags:
    """Parse ``serf agent`` arguments into a config layer.

    Raises :class:`FlagError` (unknown flag, bad value: print it on stderr with the help),
    :class:`HelpRequested`, or :class:`ConfigError` (``Error: Invalid tag: 'foo'``,
    ``Error: time: invalid duration "abc"``), all before anything is started.
    """

    def is_bool(name: str) -> bool | None:
        spec = _BY_NAME.get(name)
        return None if spec is None else spec.kind == "bool"

    pairs, positionals = split_flags(argv, is_bool)
    values: dict[str, Any] = {}
    lists: dict[str, list[str]] = {}
    disable_compression = False
    for name, raw in pairs:
        spec = _BY_NAME[name]
        assert raw is not None or spec.kind == "bool"
        if spec.kind == "bool":
            try:
                flag = True if raw is None else parse_go_bool(raw)
            except ValueError:
                raise FlagError(f'invalid boolean value "{raw}" for -{name}: parse error') from None
            if name == "disable-compression":
                disable_compression = flag
            else:
                values[spec.key] = flag
        elif spec.kind == "int":
            assert raw is not None
            try:
                values[spec.key] = parse_go_int(raw)
            except ValueError:
                raise FlagError(f'invalid value "{raw}" for flag -{name}: parse error') from None
        elif spec.kind == "list":
            assert raw is not None
            lists.setdefault(spec.key, []).append(raw)
        else:
            values[spec.key] = raw
    try:
        values["tags"] = parse_tags(lists.pop("tags", []))
    except ConfigError as exc:
        raise ConfigError(f"Error: {exc}") from None
    for key in ("retry_interval", "broadcast_timeout"):
        if values.get(key):
            try:
                values[key] = parse_duration(values[key])
            except DurationError as exc:
                raise ConfigError(f"Error: {exc}") from None
        else:
            values.pop(key, None)
    if values.get("protocol", 0) < 0:
        values.pop("protocol")
    config_paths = lists.pop("config_paths", [])
    values.update(lists)
    values["enable_compression"] = not disable_compression
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
