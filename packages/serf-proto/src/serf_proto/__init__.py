"""serf_proto: the pure sans-IO core of pyserf (wire codec, membership, Serf layer, simulator)."""

from typing import TYPE_CHECKING, Any

#: The pyserf version: the one place it is written (every package's build reads it here).
__version__ = "0.1.0"

#: The Serf version string Go Serf 0.9.4 (Debian) reports; scripts parse it.
GO_SERF_VERSION = "0.8.2-dev"
#: Serf protocol versions this implementation speaks (min, max).
SERF_PROTOCOL_MIN = 2
SERF_PROTOCOL_MAX = 5

if TYPE_CHECKING:
    from serf_proto.serf import QueryParams, RecoveredState, SerfConfig, SerfNode, parse_snapshot

#: Public names loaded on first use, so ``import serf_proto`` stays light (no cryptography).
_LAZY = {"QueryParams", "RecoveredState", "SerfConfig", "SerfNode", "parse_snapshot"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from serf_proto import serf

        return getattr(serf, name)
    raise AttributeError(f"module 'serf_proto' has no attribute {name!r}")


__all__ = [
    "GO_SERF_VERSION",
    "SERF_PROTOCOL_MAX",
    "SERF_PROTOCOL_MIN",
    "QueryParams",
    "RecoveredState",
    "SerfConfig",
    "SerfNode",
    "__version__",
    "parse_snapshot",
]
