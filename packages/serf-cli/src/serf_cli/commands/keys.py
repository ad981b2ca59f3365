"""``serf keys``: install, switch, remove or list the cluster's encryption keys."""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, Ui, columnize

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags
from serf_cli.rpc_client import KeyResponse, RPCClient, RPCError

HELP = """\
Usage: serf keys [options]...

  Manage the internal encryption keyring used by Serf. Modifications made by
  this command will be broadcasted to all members in the cluster and applied
  locally on each member. Operations of this command are idempotent.

  To facilitate key rotation, Serf allows for multiple encryption keys to be in
  use simultaneously. Only one key, the "primary" key, will be used for
  encrypting messages. All other keys are used for decryption only.

  All variations of this command will return 0 if all nodes reply and report
  no errors. If any node fails to respond or reports failure, we return 1.

  WARNING: Running with multiple encryption keys enabled is recommended as a
  transition state only. Performance may be impacted by using multiple keys.

Options:

  -install=<key>            Install a new key onto Serf's internal keyring. This
                            will enable the key for decryption. The key will not
                            be used to encrypt messages until the primary key is
                            changed.
  -use=<key>                Change the primary key used for encrypting messages.
                            All nodes in the cluster must already have this key
                            installed if they are to continue communicating with
                            eachother.
  -remove=<key>             Remove a key from Serf's internal keyring. The key
                            being removed may not be the current primary key.
  -list                     List all currently known keys in the cluster. This
                            will ask all nodes in the cluster for a list of keys
                            and dump a summary containing each key and the
                            number of members it is installed on to the console.
  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent."""

#: (flag, RPC command, progress line, success line, error prefix)
_ACTIONS = (
    (
        "install",
        "install-key",
        "Installing key on all members...",
        "Successfully installed key!",
        "Error installing key",
    ),
    (
        "use",
        "use-key",
        "Changing primary key on all members...",
        "Successfully changed primary key!",
        "Error changing primary key",
    ),
    (
        "remove",
        "remove-key",
        "Removing key on all members...",
        "Successfully removed key!",
        "Error removing key",
    ),
)


def _print_failures(ui: Ui, resp: KeyResponse) -> None:
    if resp.messages:
        ui.output(columnize([f"failed: | {node} | {msg}" for node, msg in resp.messages.items()]))
    ui.output("")


def _list(ui: Ui, client: RPCClient) -> int:
    ui.output("==> Asking all members for installed keys...")
    try:
        resp = client.key_operation("list-keys")
    except RPCError as exc:
        resp = KeyResponse(str(exc), {}, {}, 0, 0, 0)
    if resp.error:
        _print_failures(ui, resp)
        ui.output(f"Failed to gather member keys: {resp.error}")
        return 1
    ui.output("==> Keys gathered, listing cluster keys...")
    ui.output("")
    ui.output(columnize([f"{key} | [{num}/{resp.num_nodes}]" for key, num in resp.keys.items()]))
    return 0


def run(args: list[str], ui: Ui) -> int:
    """Run exactly one of ``-install``, ``-use``, ``-remove`` or ``-list``."""
    flags = FlagSet()
    flags.string("install")
    flags.string("use")
    flags.string("remove")
    flags.boolean("list")
    add_rpc_flags(flags)
    if parse_flags(flags, args, HELP, ui) is None:
        return 1
    chosen = [a for a in _ACTIONS if flags.get_str(a[0])]
    if len(chosen) + int(flags.get_bool("list")) > 1:
        ui.output("Only one of -install, -use, -remove, or -list allowed")
        return 1
    if not chosen and not flags.get_bool("list"):
        ui.output(HELP)
        return 1
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        if not chosen:
            return _list(ui, client)
        flag, command, progress, success, error_prefix = chosen[0]
        ui.output(f"==> {progress}")
        try:
            resp = client.key_operation(command, flags.get_str(flag))
        except RPCError as exc:
            resp = KeyResponse(str(exc), {}, {}, 0, 0, 0)
    if resp.error:
        _print_failures(ui, resp)
        ui.output(f"{error_prefix}: {resp.error}")
        return 1
    ui.output(f"==> {success}")
    return 0
