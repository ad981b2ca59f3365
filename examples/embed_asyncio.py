"""Embed Serf membership in an asyncio program with ``serf_asyncio``.

Run without arguments for a self-contained demo (two nodes on loopback exchange an event and a
query, then one leaves)::

    python examples/embed_asyncio.py

or run one long-lived node that joins a cluster (Go agents included) and prints its events::

    python examples/embed_asyncio.py NAME BIND_IP:PORT [JOIN_ADDR ...]
"""

from __future__ import annotations

import contextlib
import sys

from serf_asyncio import SerfNode, node_config, run
from serf_proto import MemberEvent, Query, UserEvent


async def demo() -> None:
    """Two nodes: join, a user event, a query with a response, a graceful leave."""
    web = node_config("web", bind="127.0.0.1:0", profile="local", tags={"role": "web"})
    db = node_config("db", bind="127.0.0.1:0", profile="local", tags={"role": "db"})
    async with SerfNode(web) as first, SerfNode(db) as second:
        events = first.events(UserEvent, MemberEvent)
        queries = second.events(Query)
        joined = await second.join(str(first.address))
        print(f"db joined through {joined} node(s)")

        second.user_event("deploy", b"v42", coalesce=False)
        while not isinstance(event := await events.get(10.0), UserEvent):
            pass
        print(f"web got user event {event.name!r} payload {event.payload!r}")

        handle = first.query("load", b"", filter_tags={"role": "db"}, timeout=2.0)
        query = await queries.get(10.0)
        assert isinstance(query, Query)
        second.respond(query, b"0.25")
        async for answer in handle:
            print(f"web got {type(answer).__name__} from {answer.node}")

        for member in first.members():
            print(f"member {member.name} {member.addr} {member.status} {member.tags}")
        rtt = first.rtt("db")
        print("rtt to db:", "unknown yet" if rtt is None else f"{rtt * 1000:.3f} ms")
    print("both nodes left and shut down")


async def serve(name: str, bind: str, join: list[str]) -> None:
    """Run one node until interrupted, printing every event and answering queries."""
    async with SerfNode(node_config(name, bind=bind, agent_defaults=True)) as node:
        print(f"{name} listening on {node.bind_address}, advertising {node.address}")
        if join:
            print(f"joined through {await node.join(join)} node(s)")
        async for event in node.events():
            print(event)
            if isinstance(event, Query):
                node.respond(event, f"hello from {name}".encode())


def main(argv: list[str]) -> None:
    if not argv:
        run(demo())
    else:
        name, bind, *join = argv
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops the node
            run(serve(name, bind, join))


if __name__ == "__main__":
    main(sys.argv[1:])
