"""``serf dissect``: decode captured gossip; implemented by ``serf_proto.wire.dissect``."""

from __future__ import annotations

from serf_proto.gocompat import Ui

from serf_cli.commands._delegate import delegate

#: ``serf_proto.wire.dissect.main`` prints its own help for ``-h``.
HELP = None


def run(args: list[str], ui: Ui) -> int:
    """Hand ``args`` to ``serf_proto.wire.dissect.main``."""
    return delegate("serf_proto.wire.dissect", "dissect", args, ui)
