"""``serf info``: the agent's ``stats`` sections, as text or JSON."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui, go_json, go_trim_space

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags
from serf_cli.rpc_client import RPCError

HELP = """\
Usage: serf info [options]

\tProvides debugging information for operators

Options:

  -format                  If provided, output is returned in the specified
                           format. Valid formats are 'json', and 'text' (default)

  -rpc-addr=127.0.0.1:7373 RPC address of the Serf agent.

  -rpc-auth=""             RPC auth token of the Serf agent."""


def stats_text(stats: dict[str, dict[str, str]]) -> str:
    """Sections and keys sorted: ``section:`` then ``<TAB>key = value`` lines."""
    lines: list[str] = []
    for section in sorted(stats):
        lines.append(f"{section}:")
        values = stats[section]
        lines.extend(f"\t{key} = {values[key]}" for key in sorted(values))
    return "\n".join(lines) + "\n" if lines else ""


def run(args: list[str], ui: Ui) -> int:
    """Fetch ``stats`` and print them in the requested format."""
    flags = FlagSet()
    flags.string("format", "text")
    add_rpc_flags(flags)
    if parse_flags(flags, args, HELP, ui) is None:
        return 1
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            stats = client.stats()
        except RPCError as exc:
            ui.output(f"Error querying agent: {exc}")
            return 1
    fmt = flags.get_str("format")
    if fmt == "json":
        text = go_json(stats)
    elif fmt == "text":
        text = stats_text(stats)
    else:
        ui.output(f'Encoding error: Invalid output format "{fmt}"')
        return 1
    ui.output(go_trim_space(text))
    return 0
