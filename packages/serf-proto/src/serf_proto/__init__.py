"""serf_proto: the pure sans-IO core of pyserf (wire codec, membership, Serf layer, simulator)."""

__version__ = "0.1.0"

#: The Serf version string Go Serf 0.9.4 (Debian) reports; scripts parse it.
GO_SERF_VERSION = "0.8.2-dev"
#: Serf protocol versions this implementation speaks (min, max).
SERF_PROTOCOL_MIN = 2
SERF_PROTOCOL_MAX = 5

__all__ = ["GO_SERF_VERSION", "SERF_PROTOCOL_MAX", "SERF_PROTOCOL_MIN", "__version__"]
