"""``serf rtt``: estimate the round-trip time between two nodes from network coordinates."""

from __future__ import annotations

import math

from serf_proto.gocompat import FlagSet, Ui, go_quote

from serf_cli.commands._common import add_rpc_flags, connect, parse_flags, usage_error
from serf_cli.rpc_client import Coordinate, RPCError

HELP = """\
Usage: serf rtt [options] node1 [node2]

  Estimates the round trip time between two nodes using Serf's network
  coordinate model of the cluster.

  At least one node name is required. If the second node name isn't given, it
  is set to the agent's node name. Note that these are node names as known to
  Serf as "serf members" would show, not IP addresses.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.

  -rpc-auth=""              RPC auth token of the Serf agent."""


def distance_ns(a: Coordinate, b: Coordinate) -> int:
    """Vivaldi distance in whole nanoseconds (Euclidean + heights, adjusted when positive)."""
    if len(a.vec) != len(b.vec):
        raise ValueError("coordinate dimensionality does not match")
    dist = math.sqrt(sum((x - y) ** 2 for x, y in zip(a.vec, b.vec, strict=True)))
    dist += a.height + b.height
    adjusted = dist + a.adjustment + b.adjustment
    if adjusted > 0.0:
        dist = adjusted
    return int(dist * 1.0e9)


def format_rtt_ms(nanoseconds: int) -> str:
    """``Duration.Seconds()*1000`` with three decimals, as Go prints it."""
    seconds = nanoseconds // 1_000_000_000 + (nanoseconds % 1_000_000_000) / 1e9
    if nanoseconds < 0:
        seconds = -((-nanoseconds) // 1_000_000_000 + ((-nanoseconds) % 1_000_000_000) / 1e9)
    return f"{seconds * 1000.0:.3f} ms"


def run(args: list[str], ui: Ui) -> int:
    """Print ``Estimated A <-> B rtt: X ms``; connects before checking the arguments, as Go."""
    flags = FlagSet()
    add_rpc_flags(flags)
    nodes = parse_flags(flags, args, HELP, ui)
    if nodes is None:
        return 1
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        if len(nodes) == 1:
            try:
                stats = client.stats()
            except RPCError as exc:
                ui.output(f"Error querying agent: {exc}")
                return 1
            nodes.append(stats.get("agent", {}).get("name", ""))
        elif len(nodes) != 2:
            return usage_error(ui, "One or two node names must be specified", HELP)
        coords: list[Coordinate] = []
        for node in nodes:
            try:
                coord = client.get_coordinate(node)
            except RPCError as exc:
                ui.output(f"Error getting coordinates: {exc}")
                return 1
            if coord is None:
                ui.output(f"Could not find a coordinate for node {go_quote(node)}")
                return 1
            coords.append(coord)
    try:
        rtt = format_rtt_ms(distance_ns(coords[0], coords[1]))
    except ValueError as exc:
        ui.output(f"Error getting coordinates: {exc}")
        return 1
    ui.output(f"Estimated {nodes[0]} <-> {nodes[1]} rtt: {rtt}")
    return 0
