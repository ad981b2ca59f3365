"""Entry point of the ``serf`` command: Go's dispatch rules over lazily imported commands.

Dispatch follows Go Serf's CLI (``mitchellh/cli``):

* ``-v``/``--version`` anywhere prints the version (exit 0);
* ``-h``/``-help``/``--help`` anywhere before ``--`` prints the help of the command (stderr,
  exit 0), or the top-level usage when no command is named;
* no command or an unknown one prints the usage on stderr and exits 127;
* a flag before the command name (``serf -x members``) is refused (exit 1);
* otherwise the command runs and its exit code is returned.

Only the chosen command's module is imported, so ``serf members`` loads neither the agent nor
its heavy dependencies (cryptography, uvloop, pydantic).
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

from serf_proto.gocompat import Ui

#: command name -> (module implementing it, one-line synopsis shown in the usage)
COMMANDS: dict[str, tuple[str, str]] = {
    "agent": ("serf_cli.commands.agent", "Runs a Serf agent"),
    "dissect": ("serf_cli.commands.dissect", "Decodes captured Serf and memberlist packets"),
    "event": ("serf_cli.commands.event", "Send a custom event through the Serf cluster"),
    "force-leave": (
        "serf_cli.commands.force_leave",
        'Forces a member of the cluster to enter the "left" state',
    ),
    "info": ("serf_cli.commands.info", "Provides debugging information for operators"),
    "join": ("serf_cli.commands.join", "Tell Serf agent to join cluster"),
    "keygen": ("serf_cli.commands.keygen", "Generates a new encryption key"),
    "keys": ("serf_cli.commands.keys", "Manipulate the internal encryption keyring used by Serf"),
    "leave": ("serf_cli.commands.leave", "Gracefully leaves the Serf cluster and shuts down"),
    "members": ("serf_cli.commands.members", "Lists the members of a Serf cluster"),
    "monitor": ("serf_cli.commands.monitor", "Stream logs from a Serf agent"),
    "query": ("serf_cli.commands.query", "Send a query to the Serf cluster"),
    "reachability": ("serf_cli.commands.reachability", "Test network reachability"),
    "rtt": ("serf_cli.commands.rtt", "Estimates network round trip time between nodes"),
    "simulate": ("serf_cli.commands.simulate", "Runs a cluster on the deterministic simulator"),
    "tags": ("serf_cli.commands.tags", "Modify tags of a running Serf agent"),
    "version": ("serf_cli.commands.version", "Prints the Serf version"),
}

_HELP_FLAGS = ("-h", "-help", "--help")
_INVALID_TOP_FLAGS = (
    "Invalid flags before the subcommand. If these flags are for\n"
    "the subcommand, please put them after the subcommand.\n"
)


def usage_text() -> str:
    """The top-level usage (Go's ``BasicHelpFunc``), ending in a blank line."""
    width = max(len(name) for name in COMMANDS)
    lines = ["Usage: serf [--version] [--help] <command> [<args>]", "", "Available commands are:"]
    lines += [f"    {name.ljust(width)}    {syn}" for name, (_, syn) in sorted(COMMANDS.items())]
    return "\n".join(lines) + "\n"


def version_text() -> str:
    """The text ``serf version`` prints."""
    from serf_cli.commands.version import version_text as text

    return text()


def _load(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[name][0])


def _run_command(module: ModuleType, args: list[str], ui: Ui) -> int:
    code = module.run(args, ui)
    assert isinstance(code, int)
    return code


def dispatch(args: list[str], ui: Ui) -> int:
    """Run the command line ``args`` (without the program name); return the exit code."""
    if any(arg in ("-v", "--version") for arg in args):
        args = ["version", *args]
    is_help = False
    name = ""
    sub_args: list[str] = []
    top_flags: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in _HELP_FLAGS:
            is_help = True
            continue
        if name:
            continue
        if arg in ("-v", "-version", "--version"):
            continue
        if arg.startswith("-"):
            top_flags.append(arg)
        elif arg:
            name = arg
            sub_args = args[i + 1 :]
    if is_help and not name:
        ui.write_bytes((usage_text() + "\n").encode(), err=True)
        return 0
    if name not in COMMANDS:
        ui.write_bytes((usage_text() + "\n").encode(), err=True)
        return 127
    module = _load(name)
    help_text: str | None = module.HELP
    if is_help or top_flags:
        if top_flags:
            ui.stderr(_INVALID_TOP_FLAGS)
        if help_text is None:
            code = _run_command(module, ["-h"], ui)
            return 1 if top_flags else code
        ui.stderr(help_text)
        return 1 if top_flags else 0
    return _run_command(module, sub_args, ui)


def main(argv: list[str] | None = None) -> int:
    """Run ``serf`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return dispatch(args, Ui(sys.stdout.buffer, sys.stderr.buffer))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        if argv is None:
            # Nobody reads stdout any more (``serf members | head -1``): stay quiet at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
