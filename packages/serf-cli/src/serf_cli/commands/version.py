"""``serf version``: the Serf version string and protocol range Go Serf 0.9.4 prints."""

from __future__ import annotations

from serf_proto import GO_SERF_VERSION, SERF_PROTOCOL_MAX, SERF_PROTOCOL_MIN
from serf_proto.gocompat import Ui

#: Go's version command has an empty help text (``serf version -h`` prints a blank line).
HELP = ""


def version_text() -> str:
    """The two lines ``serf version`` prints (with trailing newline)."""
    protocol = f"Agent Protocol: {SERF_PROTOCOL_MAX} (Understands back to: {SERF_PROTOCOL_MIN})"
    return f"{GO_SERF_VERSION}\n{protocol}\n"


def run(args: list[str], ui: Ui) -> int:
    """Print the version; arguments are ignored."""
    del args
    ui.write_bytes(version_text().encode())
    return 0
