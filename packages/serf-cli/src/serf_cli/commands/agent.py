"""``serf agent``: run an agent; implemented by ``serf_agent.command``, imported only here."""

from __future__ import annotations

from serf_proto.gocompat import Ui

from serf_cli.commands._delegate import delegate

#: ``serf_agent.command.main`` prints its own help for ``-h``.
HELP = None


def run(args: list[str], ui: Ui) -> int:
    """Hand ``args`` to ``serf_agent.command.main``."""
    return delegate("serf_agent.command", "agent", args, ui)
