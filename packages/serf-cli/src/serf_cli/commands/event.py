"""``serf event``: dispatch a custom user event through the cluster."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags, usage_error
from serf_cli.rpc_client import RPCError

HELP = """\
Usage: serf event [options] name payload

  Dispatches a custom event across the Serf cluster.

Options:

  -coalesce=true/false      Whether this event can be coalesced. This means
                            that repeated events of the same name within a
                            short period of time are ignored, except the last
                            one received. Default is true.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent."""


def run(args: list[str], ui: Ui) -> int:
    """Send the event; print ``Event 'NAME' dispatched! Coalescing enabled: BOOL``."""
    flags = FlagSet()
    flags.boolean("coalesce", True)
    add_rpc_flags(flags)
    rest = parse_flags(flags, args, HELP, ui)
    if rest is None:
        return 1
    if not rest:
        return usage_error(ui, "An event name must be specified.", HELP)
    if len(rest) > 2:
        return usage_error(
            ui, "Too many command line arguments. Only a name and payload must be specified.", HELP
        )
    name = rest[0]
    payload = rest[1].encode("utf-8", "surrogateescape") if len(rest) == 2 else None
    coalesce = flags.get_bool("coalesce")
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            client.user_event(name, payload, coalesce)
        except RPCError as exc:
            ui.output(f"Error sending event: {exc}")
            return 1
    ui.output(f"Event '{name}' dispatched! Coalescing enabled: {str(coalesce).lower()}")
    return 0
