"""``serf monitor``: stream the agent's log lines and events until interrupted."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui, go_sharp_v

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags
from serf_cli.rpc_client import ClientClosedError, RPCError

HELP = """\
Usage: serf monitor [options]

  Shows recent log messages of a Serf agent, and attaches to the agent,
  outputting log messages as they occur in real time. The monitor lets you
  listen for log levels that may be filtered out of the Serf agent. For
  example your agent may only be logging at INFO level, but with the monitor
  you can see the DEBUG level logs.

Options:

  -log-level=info          Log level of the agent.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent."""


def event_lines(record: dict[str, object]) -> list[str]:
    """``Event Info:`` then one ``<TAB>Key: <Go %#v>`` line per field."""
    return ["Event Info:", *(f"\t{key}: {go_sharp_v(value)}" for key, value in record.items())]


def run(args: list[str], ui: Ui) -> int:
    """Print log lines and events; exit 0 on Ctrl-C, 1 when the agent goes away."""
    flags = FlagSet()
    flags.string("log-level", "INFO")
    add_rpc_flags(flags)
    if parse_flags(flags, args, HELP, ui) is None:
        return 1
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            stream = client.stream("*")
        except RPCError as exc:
            ui.output(f"Error starting stream: {exc}")
            return 1
        try:
            client.monitor(flags.get_str("log-level"))
        except RPCError as exc:
            ui.output(f"Error starting monitor: {exc}")
            return 1
        try:
            while True:
                handle, record = client.next_record()
                if handle == stream:
                    for line in event_lines(record):
                        ui.output(line)
                else:
                    ui.output(str(record.get("Log", "")))
        except ClientClosedError:
            ui.output("")
            ui.output(
                "Remote side ended the monitor! This usually means that the\n"
                "remote side has exited or crashed."
            )
            return 1
        except KeyboardInterrupt:
            return 0
