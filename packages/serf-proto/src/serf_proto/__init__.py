"""serf_proto: the pure sans-IO core of pyserf (wire codec, membership, Serf layer, simulator).

This module is the public API of the core: the other packages (and library users) import what
they need from here or from a public subpackage (``serf_proto.serf``, ``serf_proto.memberlist``,
``serf_proto.wire``, ``serf_proto.gocompat``, ``serf_proto.simulate``, ``serf_proto.sim``), never
from the modules inside them. Names are loaded on first use, so ``import serf_proto`` (and
``import serf_proto.gocompat``) stays light: nothing here imports msgpack or cryptography until a
name that needs them is used.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from serf_proto.protocol_versions import GO_SERF_VERSION, SERF_PROTOCOL_MAX, SERF_PROTOCOL_MIN

#: The pyserf version: the one place it is written (every package's build reads it here).
__version__ = "0.1.0"


if TYPE_CHECKING:
    from serf_proto.config import (
        MemberlistConfig,
    )
    from serf_proto.coordinate import (
        Coordinate,
        CoordinateError,
        VivaldiClient,
        VivaldiConfig,
        distance,
    )
    from serf_proto.driving import (
        Core,
    )
    from serf_proto.drops import (
        DropReason,
    )
    from serf_proto.errors import (
        ChecksumMismatch,
        DecodeError,
        DecryptionFailed,
        InvalidState,
        KeyringError,
        LabelMismatch,
        MalformedMessage,
        PayloadTooLarge,
        SerfError,
        SizeLimitExceeded,
        TruncatedInput,
        UnknownMessageType,
        UnknownQuery,
        UnsupportedEncoding,
    )
    from serf_proto.events import (
        Event,
        JoinCompleted,
        KeyOpCompleted,
        KeyringChanged,
        LeaveCompleted,
        MemberEvent,
        MemberEventType,
        NodeShutdown,
        Query,
        QueryAck,
        QueryDone,
        QueryResponse,
        SnapshotAppend,
        UserEvent,
    )
    from serf_proto.goregex import (
        GoRegex,
        GoRegexError,
        compile_go,
        match_string,
    )
    from serf_proto.outputs import (
        CloseStream,
        IOCommand,
        OpenStream,
        SendPacket,
        SendStream,
    )
    from serf_proto.serf import (
        QueryParams,
        RecoveredState,
        SerfConfig,
        SerfNode,
        parse_snapshot,
    )
    from serf_proto.types import (
        Address,
        Member,
        MemberStatus,
        NodeState,
    )

#: Where each public name lives (imported on first use).
_PUBLIC: dict[str, tuple[str, ...]] = {
    "serf_proto.types": (
        "Address",
        "Member",
        "MemberStatus",
        "NodeState",
    ),
    "serf_proto.events": (
        "Event",
        "JoinCompleted",
        "KeyOpCompleted",
        "KeyringChanged",
        "LeaveCompleted",
        "MemberEvent",
        "MemberEventType",
        "NodeShutdown",
        "Query",
        "QueryAck",
        "QueryDone",
        "QueryResponse",
        "SnapshotAppend",
        "UserEvent",
    ),
    "serf_proto.outputs": (
        "CloseStream",
        "IOCommand",
        "OpenStream",
        "SendPacket",
        "SendStream",
    ),
    "serf_proto.errors": (
        "ChecksumMismatch",
        "DecodeError",
        "DecryptionFailed",
        "InvalidState",
        "KeyringError",
        "LabelMismatch",
        "MalformedMessage",
        "PayloadTooLarge",
        "SerfError",
        "SizeLimitExceeded",
        "TruncatedInput",
        "UnknownMessageType",
        "UnknownQuery",
        "UnsupportedEncoding",
    ),
    "serf_proto.driving": ("Core",),
    "serf_proto.coordinate": (
        "Coordinate",
        "CoordinateError",
        "VivaldiClient",
        "VivaldiConfig",
        "distance",
    ),
    "serf_proto.goregex": (
        "GoRegex",
        "GoRegexError",
        "compile_go",
        "match_string",
    ),
    "serf_proto.drops": ("DropReason",),
    "serf_proto.config": ("MemberlistConfig",),
    "serf_proto.serf": (
        "QueryParams",
        "RecoveredState",
        "SerfConfig",
        "SerfNode",
        "parse_snapshot",
    ),
}
_LAZY = {name: module for module, names in _PUBLIC.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'serf_proto' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "GO_SERF_VERSION",
    "SERF_PROTOCOL_MAX",
    "SERF_PROTOCOL_MIN",
    "Address",
    "ChecksumMismatch",
    "CloseStream",
    "Coordinate",
    "CoordinateError",
    "Core",
    "DecodeError",
    "DecryptionFailed",
    "DropReason",
    "Event",
    "GoRegex",
    "GoRegexError",
    "IOCommand",
    "InvalidState",
    "JoinCompleted",
    "KeyOpCompleted",
    "KeyringChanged",
    "KeyringError",
    "LabelMismatch",
    "LeaveCompleted",
    "MalformedMessage",
    "Member",
    "MemberEvent",
    "MemberEventType",
    "MemberStatus",
    "MemberlistConfig",
    "NodeShutdown",
    "NodeState",
    "OpenStream",
    "PayloadTooLarge",
    "Query",
    "QueryAck",
    "QueryDone",
    "QueryParams",
    "QueryResponse",
    "RecoveredState",
    "SendPacket",
    "SendStream",
    "SerfConfig",
    "SerfError",
    "SerfNode",
    "SizeLimitExceeded",
    "SnapshotAppend",
    "TruncatedInput",
    "UnknownMessageType",
    "UnknownQuery",
    "UnsupportedEncoding",
    "UserEvent",
    "VivaldiClient",
    "VivaldiConfig",
    "__version__",
    "compile_go",
    "distance",
    "match_string",
    "parse_snapshot",
]
