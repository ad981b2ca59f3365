"""``serf query``: send a query and print acks and responses as they arrive.

Go's command always waits for the query's full timeout. ``-early-exit`` (ours, opt-in) first
asks the agent which alive members the query's filters select (``-node`` names and ``-tag``
regexes, matched by the agent exactly as the query will be), then ends the query as soon as
every one of them has sent a response. Nodes that only acknowledge still keep it open until
the timeout, so a handler that answers nothing costs the full wait, as without the flag.
"""

from __future__ import annotations

from serf_proto.gocompat import FlagSet, GoStruct, Ui, go_json, go_trim_space, unmarshal_tags

from serf_cli.commands._common import (
    add_rpc_flags,
    connect,
    parse_flags,
    usage_error,
)
from serf_cli.rpc_client import ClientClosedError, RPCClient, RPCError

HELP = """\
Usage: serf query [options] name payload

  Dispatches a query to the Serf cluster.

Options:

  -format                   If provided, output is returned in the specified
                            format. Valid formats are 'json', and 'text' (default)

  -node=NAME                This flag can be provided multiple times to filter
                            responses to only named nodes.

  -tag key=regexp           This flag can be provided multiple times to filter
                            responses to only nodes matching the tags.

  -timeout="15s"            Providing a timeout overrides the default timeout.

  -no-ack                   Setting this prevents nodes from sending an acknowledgement
                            of the query.

  -relay-factor             If provided, query responses will be relayed through this
                            number of extra nodes for redundancy.

  -early-exit               End the query as soon as every alive node selected by
                            -node and -tag has responded, instead of waiting for
                            the timeout. (pyserf addition)

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.

  -rpc-auth=""              RPC auth token of the Serf agent."""


def _selected_nodes(client: RPCClient, nodes: list[str], tags: dict[str, str]) -> set[str]:
    """Alive members the query's filters select, as the agent matches them.

    The agent anchors a members filter (``^expr$``) while a query's tag filter matches
    anywhere in the value, so each expression is widened to ``.*(?:expr).*`` first.
    """
    searched = {tag: f"(?s:.*)(?:{expr})(?s:.*)" for tag, expr in tags.items()}
    members = client.members_filtered(searched, "alive", "")
    names = {m.name for m in members}
    if nodes:
        names &= set(nodes)
    return names


def _strip_newline(payload: bytes) -> bytes:
    return payload[:-1] if payload.endswith(b"\n") else payload


def run(args: list[str], ui: Ui) -> int:
    """Send the query; stream text output, or print JSON at the end."""
    flags = FlagSet()
    flags.repeated("node")
    flags.repeated("tag")
    flags.duration("timeout", 0)
    flags.boolean("no-ack")
    flags.string("format", "text")
    flags.integer("relay-factor", 0)
    flags.boolean("early-exit")
    add_rpc_flags(flags)
    rest = parse_flags(flags, args, HELP, ui)
    if rest is None:
        return 1
    try:
        filter_tags = unmarshal_tags(flags.get_list("tag"))
    except ValueError as exc:
        ui.output(f"Error: {exc}")
        return 1
    if not rest:
        return usage_error(ui, "A query name must be specified.", HELP)
    if len(rest) > 2:
        return usage_error(
            ui, "Too many command line arguments. Only a name and payload must be specified.", HELP
        )
    relay_factor = flags.get_int("relay-factor")
    if not 0 <= relay_factor <= 255:
        ui.output("Relay factor must be between 0 and 255")
        return 1
    name = rest[0]
    payload = rest[1].encode("utf-8", "surrogateescape") if len(rest) == 2 else None
    no_ack = flags.get_bool("no-ack")
    nodes = flags.get_list("node")
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        fmt = flags.get_str("format")
        if fmt not in ("text", "json"):
            ui.output(f"Invalid format: {fmt}")
            return 1
        waiting: set[str] | None = None
        if flags.get_bool("early-exit"):
            try:
                waiting = _selected_nodes(client, nodes, filter_tags)
            except RPCError as exc:
                ui.output(f"Error sending query: {exc}")
                return 1
        try:
            records = client.query(
                name,
                payload,
                filter_nodes=nodes or None,
                filter_tags=filter_tags,
                request_ack=not no_ack,
                relay_factor=relay_factor,
                timeout_ns=flags.get_int("timeout"),
            )
        except RPCError as exc:
            ui.output(f"Error sending query: {exc}")
            return 1
        acks: list[str] = []
        responses: dict[str, bytes] = {}
        num_responses = 0
        if fmt == "text":
            ui.output(f"Query '{name}' dispatched")
        try:
            for rec in records if waiting is None or waiting else ():
                if rec.kind == "ack":
                    acks.append(rec.sender)
                    if fmt == "text":
                        ui.output(f"Ack from '{rec.sender}'")
                elif rec.kind == "response":
                    responses[rec.sender] = rec.payload
                    num_responses += 1
                    if fmt == "text":
                        ui.write_bytes(
                            f"Response from '{rec.sender}': ".encode("utf-8", "surrogateescape")
                            + _strip_newline(rec.payload)
                            + b"\n"
                        )
                    if waiting is not None:
                        waiting.discard(rec.sender)
                        if not waiting:
                            break
        except ClientClosedError:
            ui.output("Error: the connection to the Serf agent closed before the query finished")
            return 1
        except KeyboardInterrupt:
            return 1
    if fmt == "text":
        if not no_ack:
            ui.output(f"Total Acks: {len(acks)}")
        ui.output(f"Total Responses: {num_responses}")
        return 0
    result = GoStruct(
        Acks=acks or None,
        Responses={k: v.decode("utf-8", "surrogateescape") for k, v in responses.items()},
    )
    ui.output(go_trim_space(go_json(result)))
    return 0
