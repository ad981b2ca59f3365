"""``serf members``: list the cluster's members, filtered by name, status and tags."""

from __future__ import annotations

import socket

from serf_proto.gocompat import (
    FlagSet,
    GoStruct,
    Ui,
    columnize,
    go_json,
    go_trim_space,
    unmarshal_tags,
)

from serf_cli.commands._common import (
    add_rpc_flags,
    connect,
    parse_flags,
)
from serf_cli.rpc_client import Member, RPCError

HELP = """\
Usage: serf members [options]

  Outputs the members of a running Serf agent.

Options:

  -detailed                 Additional information such as protocol versions
                            will be shown (only affects text output format).

  -format                   If provided, output is returned in the specified
                            format. Valid formats are 'json', and 'text' (default)

  -name=<regexp>            If provided, only members matching the regexp are
                            returned. The regexp is anchored at the start and end,
                            and must be a full match.

  -role=<regexp>            If provided, output is filtered to only nodes matching
                            the regular expression for role
                            '-role' is deprecated in favor of '-tag role=foo'.
                            The regexp is anchored at the start and end, and must be
                            a full match.

  -status=<regexp>          If provided, output is filtered to only nodes matching
                            the regular expression for status

  -tag <key>=<regexp>       If provided, output is filtered to only nodes with the
                            tag <key> with value matching the regular expression.
                            tag can be specified multiple times to filter on
                            multiple keys. The regexp is anchored at the start and end,
                            and must be a full match.

  -rpc-addr=127.0.0.1:7373  RPC address of the Serf agent.

  -rpc-auth=""              RPC auth token of the Serf agent."""


def format_addr(addr: bytes, port: int) -> str:
    """``net.TCPAddr.String()``: ``ip:port``, ``[v6]:port``, ``:port`` for no IP."""
    if len(addr) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, addr)}:{port}"
    if len(addr) == 16:
        if addr[:12] == b"\x00" * 10 + b"\xff\xff":
            return f"{socket.inet_ntop(socket.AF_INET, addr[12:])}:{port}"
        return f"[{socket.inet_ntop(socket.AF_INET6, addr)}]:{port}"
    if not addr:
        return f":{port}"
    return "?" + "".join(f"{b:02x}" for b in addr) + f":{port}"


def members_text(members: list[Member], detailed: bool) -> str:
    """One aligned line per member: name, address, status, tags (and protocol if detailed)."""
    lines: list[str] = []
    for m in members:
        tags = ",".join(f"{k}={v}" for k, v in m.tags.items())
        line = f"{m.name}|{format_addr(m.addr, m.port)}|{m.status}|{tags}"
        if detailed:
            line += (
                f"|Protocol Version: {m.delegate_cur}"
                f"|Available Protocol Range: [{m.delegate_min}, {m.delegate_max}]"
            )
        lines.append(line)
    return columnize(lines)


def members_json(members: list[Member]) -> str:
    """``{"members": [...]}`` with Go's key names; ``null`` when nothing matched."""
    records: list[object] = [
        GoStruct(
            name=m.name,
            addr=format_addr(m.addr, m.port),
            port=m.port,
            tags=m.tags,
            status=m.status,
            protocol={"min": m.delegate_min, "max": m.delegate_max, "version": m.delegate_cur},
        )
        for m in members
    ]
    return go_json(GoStruct(members=records or None))


def run(args: list[str], ui: Ui) -> int:
    """Fetch members with ``members-filtered`` and print them."""
    flags = FlagSet()
    flags.boolean("detailed")
    flags.string("role")
    flags.string("status")
    flags.string("format", "text")
    flags.repeated("tag")
    flags.string("name")
    add_rpc_flags(flags)
    if parse_flags(flags, args, HELP, ui) is None:
        return 1
    tag_pairs = flags.get_list("tag")
    role = flags.get_str("role")
    if role:
        ui.output("Deprecation warning: 'Role' has been replaced with 'Tags'")
        tag_pairs.append(f"role={role}")
    try:
        tags = unmarshal_tags(tag_pairs)
    except ValueError as exc:
        ui.output(f"Error: {exc}")
        return 1
    client = connect(flags, ui)
    if client is None:
        return 1
    with client:
        try:
            members = client.members_filtered(tags, flags.get_str("status"), flags.get_str("name"))
        except RPCError as exc:
            ui.output(f"Error retrieving members: {exc}")
            return 1
    fmt = flags.get_str("format")
    if fmt == "json":
        text = members_json(members)
    elif fmt == "text":
        text = members_text(members, flags.get_bool("detailed"))
    else:
        ui.output(f'Encoding error: Invalid output format "{fmt}"')
        return 1
    ui.output(go_trim_space(text))
    return 0
