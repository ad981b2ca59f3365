"""``serf join``: tell the agent to join a cluster through one or more addresses."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags, usage_error
from serf_cli.rpc_client import RPCError

HELP = """\
Usage: serf join [options] address ...

  Tells a running Serf agent (with "serf agent") to join the cluster
  by specifying at least one existing member.

Options:

  -replay                   Replay past user events.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent."""


def run(args: list[str], ui: Ui) -> int:
    """Join; print ``Successfully joined cluster by contacting N nodes.``."""
    flags = FlagSet()
    flags.boolean("replay")
    add_rpc_flags(flags)
    addrs = parse_flags(flags, args, HELP, ui)
    if addrs is None:
        return 1
    if not addrs:
        return usage_error(ui, "At least one address to join must be specified.", HELP)
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            num, error = client.join(addrs, flags.get_bool("replay"))
        except RPCError as exc:
            num, error = 0, str(exc)
    if error:
        ui.output(f"Error joining the cluster: {error}")
        return 1
    ui.output(f"Successfully joined cluster by contacting {num} nodes.")
    return 0
