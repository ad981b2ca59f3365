"""``serf reachability``: ping every member with the internal ``_serf_ping`` query."""

from __future__ import annotations

import time

from serf_proto.gocompat import FlagSet, Ui

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags
from serf_cli.rpc_client import ClientClosedError, RPCError

HELP = """\
Usage: serf reachability [options]

  Tests the network reachability of this node

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.
  -rpc-auth=""              RPC auth token of the Serf agent.
  -verbose                  Verbose mode"""

TOO_MANY_ACKS = (
    "This could mean Serf is detecting false-failures due to a misconfiguration or network issue."
)
TOO_FEW_ACKS = (
    "This could mean Serf gossip packets are being lost due to a misconfiguration or network issue."
)
DUPLICATE_RESPONSES = (
    "Duplicate responses means there is a misconfiguration. Verify that node names are unique."
)
TROUBLESHOOTING = """
Troubleshooting tips:
* Ensure that the bind addr:port is accessible by all other nodes
* If an advertise address is set, ensure it routes to the bind address
* Check that no nodes are behind a NAT
* If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP and TCP)
* Verify networking equipment is functional"""


def run(args: list[str], ui: Ui) -> int:
    """Compare the acks of ``_serf_ping`` with the alive members; exit 1 on any mismatch."""
    flags = FlagSet()
    flags.boolean("verbose")
    add_rpc_flags(flags)
    if parse_flags(flags, args, HELP, ui) is None:
        return 1
    verbose = flags.get_bool("verbose")
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            members = client.members()
        except RPCError as exc:
            ui.output(f"Error getting members: {exc}")
            return 1
        live = [m.name for m in members if m.status == "alive"]
        live_set = set(live)
        ui.output(f"Total members: {len(members)}, live members: {len(live_set)}")
        try:
            records = client.query("_serf_ping", None, request_ack=True)
        except RPCError as exc:
            ui.output(f"Error sending query: {exc}")
            return 1
        ui.output("Starting reachability test...")
        start = last = time.monotonic()
        num_acks = 0
        acks_from: list[str] = []
        dups = False
        try:
            for rec in records:
                if rec.kind != "ack":
                    continue
                if verbose:
                    ui.output(f"\tAck from '{rec.sender}'")
                num_acks += 1
                if rec.sender in acks_from:
                    dups = True
                    ui.output(f"Duplicate response from '{rec.sender}'")
                else:
                    acks_from.append(rec.sender)
                last = time.monotonic()
        except ClientClosedError:
            pass
        except KeyboardInterrupt:
            ui.output("Test interrupted")
            return 1
    if verbose:
        total, to_last = time.monotonic() - start, last - start
        ui.output(f"Query time: {total:.2f} sec, time to last response: {to_last:.2f} sec")
    exit_code = 0
    if dups:
        ui.output(DUPLICATE_RESPONSES)
        exit_code = 1
    expected = len(live_set)
    if num_acks == expected:
        ui.output("Successfully contacted all live nodes")
    elif num_acks > expected:
        ui.output("Received more acks than live nodes! Acks from non-live nodes:")
        for name in acks_from:
            if name not in live_set:
                ui.output(f"\t{name}")
        ui.output(TOO_MANY_ACKS)
        ui.output(TROUBLESHOOTING)
        return 1
    else:
        ui.output("Received less acks than live nodes! Missing acks from:")
        for name in live:
            if name not in acks_from:
                ui.output(f"\t{name}")
        ui.output(TOO_FEW_ACKS)
        ui.output(TROUBLESHOOTING)
        return 1
    return exit_code
