"""Pieces every RPC client command shares: the RPC flags, flag parsing and connecting."""

from __future__ import annotations

from serf_proto.gocompat import FlagError, FlagSet, HelpRequestedError, Ui

from serf_cli.dial import DialError
from serf_cli.rpc_client import RPCClient, RPCError, default_rpc_addr, default_rpc_auth


def add_rpc_flags(flags: FlagSet) -> None:
    """Define ``-rpc-addr`` (default ``$SERF_RPC_ADDR``) and ``-rpc-auth`` (``$SERF_RPC_AUTH``)."""
    flags.string("rpc-addr", default_rpc_addr())
    flags.string("rpc-auth", default_rpc_auth())


def parse_flags(flags: FlagSet, args: list[str], help_text: str, ui: Ui) -> list[str] | None:
    """Parse ``args``; on error print Go's message (stderr) and the help (stdout), return None."""
    try:
        return flags.parse(args)
    except HelpRequestedError:
        ui.output(help_text)
        return None
    except FlagError as exc:
        ui.stderr(str(exc))
        ui.output(help_text)
        return None


def connect(flags: FlagSet, ui: Ui) -> RPCClient | None:
    """Connect with the parsed RPC flags; print ``Error connecting to Serf agent: ...`` if not."""
    try:
        return RPCClient.connect(flags.get_str("rpc-addr"), flags.get_str("rpc-auth"))
    except (DialError, RPCError) as exc:
        ui.output(f"Error connecting to Serf agent: {exc}")
        return None


def usage_error(ui: Ui, message: str, help_text: str) -> int:
    """Print an argument error, a blank line and the help (all on stdout); return 1."""
    ui.output(message)
    ui.output("")
    ui.output(help_text)
    return 1
