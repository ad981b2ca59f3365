"""Entry point of the ``serf`` command: dispatches to lazily imported command modules."""

from __future__ import annotations

import sys

from serf_proto import GO_SERF_VERSION, SERF_PROTOCOL_MAX, SERF_PROTOCOL_MIN


def version_text() -> str:
    """The text ``serf version`` prints, as Go Serf prints it."""
    protocol = f"Agent Protocol: {SERF_PROTOCOL_MAX} (Understands back to: {SERF_PROTOCOL_MIN})"
    return f"{GO_SERF_VERSION}\n{protocol}\n"


def main(argv: list[str] | None = None) -> int:
    """Run the ``serf`` command with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("version", "-v", "--version"):
        sys.stdout.write(version_text())
        return 0
    sys.stderr.write("serf: this command is not available yet\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
