"""``serf force-leave``: force a member into the ``left`` state (or prune it)."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags, usage_error
from serf_cli.rpc_client import RPCError

HELP = """\
Usage: serf force-leave [options] name

  Forces a member of a Serf cluster to enter the "left" state. Note
  that if the member is still actually alive, it will eventually rejoin
  the cluster. This command is most useful for cleaning out "failed" nodes
  that are never coming back. If you do not force leave a failed node,
  Serf will attempt to reconnect to those failed nodes for some period of
  time before eventually reaping them.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
  -prune                    Remove agent forcibly from list of members"""


def run(args: list[str], ui: Ui) -> int:
    """Ask the agent to force ``name`` out; prints nothing on success."""
    flags = FlagSet()
    flags.boolean("prune")
    add_rpc_flags(flags)
    rest = parse_flags(flags, args, HELP, ui)
    if rest is None:
        return 1
    if len(rest) != 1:
        return usage_error(ui, "A node name must be specified to force leave.", HELP)
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            client.force_leave(rest[0], prune=flags.get_bool("prune"))
        except RPCError as exc:
            ui.output(f"Error force leaving: {exc}")
            return 1
    return 0
