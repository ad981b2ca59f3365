"""``serf leave``: ask the agent to leave the cluster gracefully and shut down."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags
from serf_cli.rpc_client import RPCError

HELP = """\
Usage: serf leave

  Causes the agent to gracefully leave the Serf cluster and shutdown.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent."""


def run(args: list[str], ui: Ui) -> int:
    """Send ``leave``; print ``Graceful leave complete``."""
    flags = FlagSet()
    add_rpc_flags(flags)
    if parse_flags(flags, args, HELP, ui) is None:
        return 1
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            client.leave()
        except RPCError as exc:
            ui.output(f"Error leaving: {exc}")
            return 1
    ui.output("Graceful leave complete")
    return 0
