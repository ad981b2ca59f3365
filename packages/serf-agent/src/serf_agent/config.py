"""The agent's configuration: Go Serf's JSON keys, defaults, decoding and merge rules.

A config *layer* is one JSON file, or the command-line flags, decoded into an
:class:`AgentConfig` whose unset fields hold zero values (``""``, ``0``, ``False``, empty
collections). Layers are merged exactly as Go's agent merges them: defaults first, then every
``-config-file``/``-config-dir`` argument in command-line order, then the flags. Non-empty
strings and non-zero numbers replace, booleans can only be switched on, ``tags`` merge key by key
and the list keys append.

Decoding errors reproduce the texts Go prints (``1 error(s) decoding:`` / ``* 'protocol'
expected type 'int', got unconvertible type 'string', value: '5'``) so an operator sees the
key, the bad value and what was expected. Durations are Go strings in files (``"30s"``) and
``float`` seconds here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from serf_proto.gocompat import SECOND, DurationError, parse_duration

#: Gossip port used when an address has none (Go ``DefaultBindPort``).
DEFAULT_BIND_PORT = 7946
#: Default RPC listener.
DEFAULT_RPC_ADDR = "127.0.0.1:7373"
#: Newest Serf protocol version, the agent's default.
DEFAULT_PROTOCOL = 5


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is the message printed after ``==> ``."""


class AgentConfig(BaseModel):
    """Every key of Go's agent config file, plus pyserf's opt-in additions.

    Field names are Go's JSON keys. Durations are seconds (0 = use the library default).
    A freshly constructed instance is an empty layer; :func:`default_config` gives Go's defaults.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    node_name: str = ""
    role: str = ""
    disable_coordinates: bool = False
    tags: dict[str, str] = Field(default_factory=dict)
    tags_file: str = ""
    bind: str = ""
    advertise: str = ""
    encrypt_key: str = ""
    keyring_file: str = ""
    log_level: str = ""
    rpc_addr: str = ""
    rpc_auth: str = ""
    protocol: int = 0
    replay_on_join: bool = False
    query_response_size_limit: int = 0
    query_size_limit: int = 0
    user_event_size_limit: int = 0
    start_join: list[str] = Field(default_factory=list)
    event_handlers: list[str] = Field(default_factory=list)
    profile: str = ""
    snapshot_path: str = ""
    leave_on_terminate: bool = False
    skip_leave_on_interrupt: bool = False
    discover: str = ""
    interface: str = ""
    reconnect_interval: float = 0.0
    reconnect_timeout: float = 0.0
    tombstone_timeout: float = 0.0
    disable_name_resolution: bool = False
    enable_syslog: bool = False
    syslog_facility: str = ""
    retry_join: list[str] = Field(default_factory=list)
    retry_max_attempts: int = 0
    retry_interval: float = 0.0
    rejoin_after_leave: bool = False
    statsite_addr: str = ""
    statsd_addr: str = ""
    enable_compression: bool = False
    broadcast_timeout: float = 0.0
    # pyserf additions (all off by default; Go's agent rejects these keys).
    label: str = ""
    concurrent_handlers: bool = False
    log_json: bool = False
    http_addr: str = ""
    rejoin_failed: bool = False
    # pyserf: self-healing (on unless disabled) and handler timeout (off unless set).
    heal_interval: float = 0.0
    disable_self_healing: bool = False
    handler_timeout: float = 0.0

    #: Keys whose file values are Go duration strings.
    DURATION_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "reconnect_interval",
            "reconnect_timeout",
            "tombstone_timeout",
            "retry_interval",
            "broadcast_timeout",
            "heal_interval",
            "handler_timeout",
        }
    )
    #: Keys that SIGHUP re-applies (Go: log level, handlers, tags, leave-on-signal flags).
    RELOADABLE_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "log_level",
            "event_handlers",
            "tags",
            "role",
            "leave_on_terminate",
            "skip_leave_on_interrupt",
        }
    )


def default_config() -> AgentConfig:
    """Go's ``DefaultConfig()``: the base layer every merge starts from."""
    return AgentConfig(
        bind="0.0.0.0",
        log_level="INFO",
        rpc_addr=DEFAULT_RPC_ADDR,
        protocol=DEFAULT_PROTOCOL,
        profile="lan",
        retry_interval=30.0,
        syslog_facility="LOCAL0",
        query_response_size_limit=1024,
        query_size_limit=1024,
        broadcast_timeout=5.0,
    )


# --------------------------------------------------------------------------- merging


def merge(base: AgentConfig, layer: AgentConfig) -> AgentConfig:
    """Return ``base`` overlaid with ``layer`` by Go's ``MergeConfig`` rules.

    Non-empty strings and non-zero numbers replace, booleans only switch on, ``tags`` merge key
    by key (later wins), ``start_join``/``retry_join``/``event_handlers`` append.
    ``enable_compression`` is not touched here: the command line alone decides it.
    """
    values = base.model_dump()
    for name, field in AgentConfig.model_fields.items():
        new = getattr(layer, name)
        if name == "enable_compression":
            continue
        if name == "tags":
            values["tags"] = {**base.tags, **layer.tags}
        elif field.annotation is bool:
            values[name] = bool(values[name]) or bool(new)
        elif isinstance(new, list):
            values[name] = [*getattr(base, name), *new]
        elif name == "protocol":
            if new > 0:
                values[name] = new
        elif new:
            values[name] = new
    return AgentConfig.model_validate(values)


# --------------------------------------------------------------------------- decoding


def decode_config(text: str) -> AgentConfig:
    """Decode one JSON config document into a layer.

    Like Go, only the first JSON value is read (trailing bytes are ignored), ``null`` values are
    skipped, numbers are truncated when the key is an integer, and every other type mismatch or
    unknown key is an error. Raises :class:`ConfigError` with Go's message texts.
    """
    raw = _decode_first_json_value(text)
    if not isinstance(raw, dict):
        raise ConfigError(f"'' expected a map, got '{_go_kind(raw)}'")
    errors: list[str] = []
    unknown = sorted(k for k in raw if k not in AgentConfig.model_fields)
    if unknown:
        errors.append(f"'' has invalid keys: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    durations: dict[str, str] = {}
    for key, value in raw.items():
        if key not in AgentConfig.model_fields or value is None:
            continue
        annotation = AgentConfig.model_fields[key].annotation
        if key in AgentConfig.DURATION_KEYS:
            if isinstance(value, str):
                durations[key] = value
            else:
                errors.append(_type_error(key, "string", value))
        elif annotation is str:
            _check_scalar(key, value, str, "string", values, errors)
        elif annotation is bool:
            _check_scalar(key, value, bool, "bool", values, errors)
        elif annotation is int:
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(_type_error(key, "int", value))
            else:
                values[key] = int(value)
        elif key == "tags":
            _check_tags(value, values, errors)
        else:
            _check_string_list(key, value, values, errors)
    if errors:
        errors.sort()
        lines = "\n".join(f"* {e}" for e in errors)
        raise ConfigError(f"{len(errors)} error(s) decoding:\n\n{lines}")
    for key in sorted(durations):
        try:
            values[key] = parse_duration(durations[key]) / SECOND
        except DurationError as exc:
            raise ConfigError(str(exc)) from None
    try:
        return AgentConfig.model_validate(values)
    except ValidationError as exc:  # unreachable when the checks above are complete
        raise ConfigError(str(exc)) from None


def _check_scalar(
    key: str, value: Any, kind: type, go_name: str, out: dict[str, Any], errors: list[str]
) -> None:
    if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)):
        out[key] = value
    else:
        errors.append(_type_error(key, go_name, value))


def _check_tags(value: Any, out: dict[str, Any], errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"'tags' expected a map, got '{_go_kind(value)}'")
        return
    tags: dict[str, str] = {}
    for name, tag in value.items():
        if tag is None:
            tags[name] = ""
        elif isinstance(tag, str):
            tags[name] = tag
        else:
            errors.append(_type_error(f"tags[{name}]", "string", tag))
    out["tags"] = tags


def _check_string_list(key: str, value: Any, out: dict[str, Any], errors: list[str]) -> None:
    if not isinstance(value, list):
        kind = _go_kind(value)
        errors.append(f"'{key}': source data must be an array or slice, got {kind}")
        return
    items: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            items.append(item)
        elif item is None:
            items.append("")
        else:
            errors.append(_type_error(f"{key}[{index}]", "string", item))
    out[key] = items


def _type_error(key: str, expected: str, value: Any) -> str:
    return (
        f"'{key}' expected type '{expected}', got unconvertible type "
        f"'{_go_type(value)}', value: '{_go_value(value)}'"
    )


def _go_type(value: Any) -> str:
    """The Go type ``encoding/json`` decodes a JSON value into."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _go_kind(value: Any) -> str:
    """Go's ``reflect.Kind`` name of a decoded JSON value (``map``, ``slice``, ``string`` ...)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "slice"
    if value is None:
        return "invalid"
    return "map"


def _go_value(value: Any) -> str:
    """Format a decoded JSON value like Go's ``%v``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    items = " ".join(f"{k}:{_go_value(v)}" for k, v in sorted(value.items()))
    return f"map[{items}]"


_JSON_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": (
        "looking for beginning of object key string"
    ),
    "Expecting ',' delimiter": "after object key:value pair",
    "Expecting ':' delimiter": "after object key",
}


def _decode_first_json_value(text: str) -> Any:
    """Decode the first JSON value in ``text``, reporting errors in Go's words."""
    stripped = text.lstrip(" \t\r\n")
    if not stripped:
        raise ConfigError("EOF")
    try:
        value, _end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(stripped.rstrip(" \t\r\n")):
            raise ConfigError("unexpected EOF") from None
        char = stripped[exc.pos]
        context = _JSON_CONTEXT.get(exc.msg, "looking for beginning of value")
        raise ConfigError(f"invalid character {char!r} {context}") from None
    return value


# --------------------------------------------------------------------------- files


def read_config_file(path: str) -> AgentConfig:
    """Read and decode one JSON config file; errors are Go's ``Error reading``/``decoding``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"Error reading '{path}': open {path}: no such file or directory"
        ) from None
    except OSError as exc:
        raise ConfigError(f"Error reading '{path}': open {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Error decoding '{path}': invalid UTF-8 in JSON") from None
    try:
        return decode_config(text)
    except ConfigError as exc:
        raise ConfigError(f"Error decoding '{path}': {exc}") from None


def config_files_in(path: str) -> list[str]:
    """The ``*.json`` regular files directly inside directory ``path``, in lexical order."""
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    return [
        os.path.join(path, e.name)
        for e in entries
        if e.name.endswith(".json") and e.is_file(follow_symlinks=True)
    ]


def read_config_paths(paths: Iterable[str]) -> AgentConfig:
    """Read every path in order (a file, or a directory of ``*.json``) and merge them.

    The result is one layer; errors name the file and say what is wrong with it.
    """
    result = AgentConfig()
    for path in paths:
        try:
            is_dir = os.path.isdir(path)
        except OSError:
            is_dir = False
        if not is_dir:
            result = merge(result, read_config_file(path))
            continue
        try:
            files = config_files_in(path)
        except OSError as exc:
            raise ConfigError(f"Error reading '{path}': {exc.strerror}") from None
        for file in files:
            result = merge(result, read_config_file(file))
    return result
