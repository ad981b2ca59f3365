"""``serf tags``: set or delete tags of the agent's node at runtime."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui, unmarshal_tags

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags
from serf_cli.rpc_client import RPCError

HELP = """\
Usage: serf tags [options] ...

  Modifies tags on a running Serf agent.

Options:

  -rpc-addr=127.0.0.1:7373  RPC Address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
  -set key=value            Creates or modifies the value of a tag
  -delete key               Removes a tag, if present"""


def run(args: list[str], ui: Ui) -> int:
    """Apply ``-set``/``-delete``; print ``Successfully updated agent tags``."""
    flags = FlagSet()
    flags.repeated("set")
    flags.repeated("delete")
    add_rpc_flags(flags)
    if parse_flags(flags, args, HELP, ui) is None:
        return 1
    pairs, delete = flags.get_list("set"), flags.get_list("delete")
    if not pairs and not delete:
        ui.output(HELP)
        return 1
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            tags = unmarshal_tags(pairs)
        except ValueError as exc:
            ui.output(f"Error: {exc}")
            return 1
        try:
            client.update_tags(tags, delete)
        except RPCError as exc:
            ui.output(f"Error setting tags: {exc}")
            return 1
    ui.output("Successfully updated agent tags")
    return 0
