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
``float`` seconds here; a bad one gets Go's text plus the key it came from.

Keys match as Go's ``mapstructure`` matches them: a key spelled exactly like the field wins,
otherwise the first key equal to it ignoring case (``"NODE_NAME"``, ``"Bind"``); a second
spelling of a key already taken is an invalid key, as in Go.
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


class MDNSConfig(BaseModel):
    """Go 0.10's ``mdns`` block: the interface and IP families of ``-discover``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interface: str = ""
    disable_ipv4: bool = False
    disable_ipv6: bool = False


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
    mdns: MDNSConfig = Field(default_factory=MDNSConfig)
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
    validate_node_names: bool = False
    #: Go's ``MsgpackUseNewTimeFormat`` (a key without a snake_case tag); accepted, no effect.
    msgpack_use_new_time_format: bool = False
    # pyserf additions (all off by default; Go's agent rejects these keys).
    label: str = ""
    concurrent_handlers: bool = False
    log_json: bool = False
    http_addr: str = ""
    rejoin_failed: bool = False
    #: Unset (``None``) keeps memberlist's default (true); a later layer's value replaces.
    encrypt_verify_incoming: bool | None = None
    encrypt_verify_outgoing: bool | None = None
    max_queue_depth: int = 0
    min_queue_depth: int = 0
    cidrs_allowed: list[str] = Field(default_factory=list)
    metric_labels: dict[str, str] = Field(default_factory=dict)
    # pyserf: self-healing (on unless disabled) and handler timeout (off unless set).
    heal_interval: float = 0.0
    disable_self_healing: bool = False
    handler_timeout: float = 0.0

    #: Fields whose key in a file is not their name (Go fields without a ``mapstructure`` tag).
    GO_KEYS: ClassVar[dict[str, str]] = {"msgpack_use_new_time_format": "MsgpackUseNewTimeFormat"}
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
        if isinstance(new, dict):  # tags, metric_labels
            values[name] = {**getattr(base, name), **new}
        elif name == "mdns":
            values["mdns"] = {
                "interface": layer.mdns.interface or base.mdns.interface,
                "disable_ipv4": base.mdns.disable_ipv4 or layer.mdns.disable_ipv4,
                "disable_ipv6": base.mdns.disable_ipv6 or layer.mdns.disable_ipv6,
            }
        elif field.annotation == bool | None:
            if new is not None:
                values[name] = new
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
    skipped, numbers are truncated when the key is an integer, keys match ignoring case, and
    every other type mismatch or unknown key is an error. Raises :class:`ConfigError` with Go's
    message texts; a bad duration also names its key (Go's text alone does not).
    """
    raw = _decode_first_json_value(text)
    if not isinstance(raw, dict):
        raise ConfigError(f"'' expected a map, got '{_go_kind(raw)}'")
    errors: list[str] = []
    values = _decode_struct(raw, AgentConfig, "", errors)
    if errors:
        errors.sort()
        lines = "\n".join(f"* {e}" for e in errors)
        raise ConfigError(f"{len(errors)} error(s) decoding:\n\n{lines}")
    for key in AgentConfig.model_fields:  # Go parses the durations in field order
        if key in AgentConfig.DURATION_KEYS and key in values:
            try:
                values[key] = parse_duration(values[key]) / SECOND
            except DurationError as exc:
                raise ConfigError(f"{exc} (key '{key}')") from None
    try:
        return AgentConfig.model_validate(values)
    except ValidationError as exc:  # unreachable when the checks above are complete
        raise ConfigError(str(exc)) from None


def go_key(model: type[BaseModel], name: str) -> str:
    """The key a config file spells field ``name`` with."""
    keys: dict[str, str] = getattr(model, "GO_KEYS", {})
    return keys.get(name, name)


def match_keys(raw: dict[str, Any], names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """mapstructure's key matching: ``({name: document key}, unused document keys)``.

    A name takes the key spelled exactly like it, otherwise the first key (in document order)
    equal to it ignoring case; keys no name takes are unused (Go: invalid keys).
    """
    taken: dict[str, str] = {}
    for name in names:
        if name in raw:
            taken[name] = name
            continue
        folded = name.casefold()
        for key in raw:
            if key.casefold() == folded and key not in taken.values():
                taken[name] = key
                break
    used = set(taken.values())
    return taken, sorted(k for k in raw if k not in used)


def _decode_struct(
    raw: dict[str, Any], model: type[BaseModel], prefix: str, errors: list[str]
) -> dict[str, Any]:
    """Decode the keys of one JSON object into ``model``'s field values, collecting errors."""
    names = {go_key(model, name): name for name in model.model_fields}
    taken, unused = match_keys(raw, names)
    if unused:
        errors.append(f"'{prefix.rstrip('.')}' has invalid keys: {', '.join(unused)}")
    values: dict[str, Any] = {}
    for key, doc_key in taken.items():
        name, value = names[key], raw[doc_key]
        if value is None:
            continue
        path = prefix + key
        annotation = model.model_fields[name].annotation
        if name in AgentConfig.DURATION_KEYS and model is AgentConfig:
            _check_scalar(path, value, str, "string", values, errors, name)
        elif annotation is MDNSConfig:
            if isinstance(value, dict):
                values[name] = _decode_struct(value, MDNSConfig, f"{path}.", errors)
            else:
                errors.append(f"'{path}' expected a map, got '{_go_kind(value)}'")
        elif annotation is str:
            _check_scalar(path, value, str, "string", values, errors, name)
        elif annotation is bool or annotation == bool | None:
            _check_scalar(path, value, bool, "bool", values, errors, name)
        elif annotation is int:
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(_type_error(path, "int", value))
            else:
                values[name] = int(value)
        elif name in ("tags", "metric_labels"):
            _check_tags(name, value, values, errors)
        else:
            _check_string_list(path, value, values, errors)
    return values


def _check_scalar(
    key: str,
    value: Any,
    kind: type,
    go_name: str,
    out: dict[str, Any],
    errors: list[str],
    field: str,
) -> None:
    if isinstance(value, kind) and not (kind is not bool and isinstance(value, bool)):
        out[field] = value
    else:
        errors.append(_type_error(key, go_name, value))


def _check_tags(key: str, value: Any, out: dict[str, Any], errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"'{key}' expected a map, got '{_go_kind(value)}'")
        return
    tags: dict[str, str] = {}
    for name, tag in value.items():
        if tag is None:
            tags[name] = ""
        elif isinstance(tag, str):
            tags[name] = tag
        else:
            errors.append(_type_error(f"{key}[{name}]", "string", tag))
    out[key] = tags


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
