"""The versions this implementation reports and speaks (stdlib only, imported eagerly)."""

from __future__ import annotations

__all__ = ["GO_SERF_VERSION", "SERF_PROTOCOL_MAX", "SERF_PROTOCOL_MIN"]

#: The Serf version string Go Serf 0.9.4 (Debian) reports; scripts parse it.
GO_SERF_VERSION = "0.8.2-dev"
#: Serf protocol versions this implementation speaks (Go ``ProtocolVersionMin/Max``).
SERF_PROTOCOL_MIN = 2
SERF_PROTOCOL_MAX = 5
