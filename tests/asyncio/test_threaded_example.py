"""The selectors-and-threads binding in examples/ shares a cluster with asyncio nodes."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable

from serf_asyncio import SerfNode, node_config
from serf_proto.events import MemberEvent, Query, UserEvent
from serf_proto.types import Member, MemberStatus

from examples.threaded_node import ThreadedNode
from tests.asyncio.conftest import Runner


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def next_event_of(
    events: queue.Queue[MemberEvent | UserEvent | Query], kind: type[object], timeout: float = 10.0
) -> MemberEvent | UserEvent | Query:
    """The next event of ``kind`` from a thread-side queue, read without blocking the loop."""
    async with asyncio.timeout(timeout):
        while True:
            event = await asyncio.to_thread(events.get, True, 0.5)
            if isinstance(event, kind):
                return event


def test_a_threaded_node_and_asyncio_nodes_form_one_cluster(run_on_loop: Runner) -> None:
    async def body() -> None:
        a = SerfNode(node_config("async-a", bind="127.0.0.1:0", profile="local"))
        b = SerfNode(node_config("async-b", bind="127.0.0.1:0", profile="local"))
        threaded = ThreadedNode(node_config("threaded", bind="127.0.0.1:0", profile="local"))
        async with a, b:
            threaded.start()
            try:
                await b.join(str(a.address))
                joined = await asyncio.to_thread(threaded.join, [a.address])
                assert joined.joined == 1
                names = {"async-a", "async-b", "threaded"}

                def alive(members: list[Member]) -> set[str]:
                    return {m.name for m in members if m.status is MemberStatus.ALIVE}

                await until(lambda: alive(a.members()) == alive(b.members()) == names)
                assert alive(await asyncio.to_thread(threaded.members)) == names

                # A user event from the threaded node reaches the asyncio nodes, and back.
                received = b.events(UserEvent)
                threaded.user_event("from-thread", b"t", coalesce=False)
                event = await received.get(10.0)
                assert isinstance(event, UserEvent) and event.name == "from-thread"
                a.user_event("from-async", b"a", coalesce=False)
                event = await next_event_of(threaded.events, UserEvent)
                assert isinstance(event, UserEvent)
                while event.name != "from-async":
                    event = await next_event_of(threaded.events, UserEvent)
                    assert isinstance(event, UserEvent)

                # The threaded node answers a query from an asyncio node.
                handle = a.query("who", b"", timeout=2.0)
                query = await next_event_of(threaded.events, Query)
                assert isinstance(query, Query)
                threaded.respond(query, b"threads")
                assert (await handle.wait())["threaded"] == b"threads"

                # Its graceful leave is seen as left.
                await asyncio.to_thread(threaded.leave)
                await until(
                    lambda: {m.name: m.status for m in a.members()}["threaded"] is MemberStatus.LEFT
                )
            finally:
                await asyncio.to_thread(threaded.stop)

    run_on_loop(body())
