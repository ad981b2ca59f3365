"""``serf version``: Go Serf 0.9.4's two lines (scripts parse them), then the pyserf version."""

from __future__ import annotations

from serf_proto import GO_SERF_VERSION, SERF_PROTOCOL_MAX, SERF_PROTOCOL_MIN, __version__
from serf_proto.gocompat import Ui

#: Go's version command has an empty help text (``serf version -h`` prints a blank line).
HELP = ""


#: The line after Go's two naming this implementation (the only difference from Go's output).
PYSERF_LINE_PREFIX = "pyserf "


def version_text() -> str:
    """The lines ``serf version`` prints: Go's version and protocol lines, then ``pyserf X``."""
    protocol = f"Agent Protocol: {SERF_PROTOCOL_MAX} (Understands back to: {SERF_PROTOCOL_MIN})"
    return f"{GO_SERF_VERSION}\n{protocol}\n{PYSERF_LINE_PREFIX}{__version__}\n"


def run(args: list[str], ui: Ui) -> int:
    """Print the version; arguments are ignored."""
    del args
    ui.write_bytes(version_text().encode())
    return 0
