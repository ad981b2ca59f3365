"""The async library API: Python nodes on loopback sockets form a cluster and talk."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from serf_asyncio import JoinError, NodeStopped, SerfNode, decode_key, node_config, start_node
from serf_asyncio.addresses import first_private_address
from serf_proto.errors import PayloadTooLarge, UnknownQuery
from serf_proto.events import MemberEvent, MemberEventType, Query, QueryAck, UserEvent
from serf_proto.serf import SerfConfig
from serf_proto.types import MemberStatus

from tests.asyncio.conftest import Runner

KEY = base64.b64encode(bytes(range(16))).decode()


def config(name: str, **kwargs: Any) -> SerfConfig:
    return node_config(name, bind="127.0.0.1:0", profile="local", **kwargs)


@asynccontextmanager
async def cluster(*names: str, **kwargs: Any) -> AsyncIterator[list[SerfNode]]:
    """Start nodes ``names`` and join each to the first; shut all down afterwards."""
    async with AsyncExitStack() as stack:
        nodes = [
            await stack.enter_async_context(SerfNode(config(n, **kwargs), leave_on_exit=False))
            for n in names
        ]
        for node in nodes[1:]:
            await node.join(str(nodes[0].address))
        await until(lambda: all(len(alive(n)) == len(nodes) for n in nodes))
        yield nodes


def alive(node: SerfNode) -> set[str]:
    return {m.name for m in node.members() if m.status is MemberStatus.ALIVE}


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` every 20 ms until it holds, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def test_nodes_join_and_list_each_other_alive_with_their_addresses(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b", "c") as (a, _, c):
            by_name = {m.name: m for m in c.members()}
            assert by_name["a"].addr == a.address
            assert a.local_member().name == "a"
            assert a.address.host == "127.0.0.1" and a.address.port == a.bind_address.port

    run_on_loop(body())


def test_every_subscriber_sees_a_user_event_exactly_once(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, b):
            first, second = b.events(UserEvent), b.events(UserEvent)
            a.user_event("deploy", b"v2", coalesce=False)
            for sub in (first, second):
                event = await sub.get(5.0)
                assert isinstance(event, UserEvent)
                assert (event.name, event.payload) == ("deploy", b"v2")
            with pytest.raises(TimeoutError):
                await first.get(0.3)

    run_on_loop(body())


def test_a_query_yields_acks_and_responses_until_its_deadline(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, b):
            queries = b.events(Query)
            handle = a.query("load", b"?", request_ack=True, timeout=1.0)
            query = await queries.get(5.0)
            assert isinstance(query, Query)
            b.respond(query, b"0.5")
            with pytest.raises(UnknownQuery):
                b.respond(query, b"again")
            seen = [item async for item in handle]
            assert handle.finished
            assert {x.node for x in seen if isinstance(x, QueryAck)} == {"a", "b"}
            assert handle.responses == {"b": b"0.5"}

    run_on_loop(body())


def test_tag_changes_reach_the_other_nodes_as_member_updates(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, b):
            updates = a.events(MemberEvent)
            b.set_tags({"role": "db"})
            await until(lambda: {m.name: m.tags for m in a.members()}["b"] == {"role": "db"})
            event = await updates.get(5.0)
            assert isinstance(event, MemberEvent) and event.type is MemberEventType.UPDATE

    run_on_loop(body())


def test_a_graceful_leave_is_seen_as_left_and_a_shutdown_as_failed(run_on_loop: Runner) -> None:
    async def body() -> None:
        fast = {"probe_interval": 0.2, "probe_timeout": 0.1, "suspicion_max_timeout_mult": 2}
        async with cluster("a", "b", "c", memberlist=fast) as (a, b, c):
            await b.leave()
            await b.shutdown()
            await until(lambda: {m.name: m.status for m in a.members()}["b"] is MemberStatus.LEFT)
            await c.shutdown()
            await until(
                lambda: {m.name: m.status for m in a.members()}["c"] is MemberStatus.FAILED,
            )

    run_on_loop(body())


def test_shutdown_ends_every_subscription_and_refuses_further_commands(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        node = SerfNode(config("solo"), leave_on_exit=False)
        async with node:
            events = node.events()
        assert [e async for e in events] == []
        with pytest.raises(NodeStopped):
            node.user_event("late")

    run_on_loop(body())


def test_joining_nobody_raises_join_error_with_the_reasons(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with start_node(config("lonely")) as node:
            with pytest.raises(JoinError) as info:
                await node.join(["127.0.0.1:1", "no-such-host.invalid"])
            assert any("no-such-host.invalid" in e for e in info.value.errors)
            assert any("refused" in e for e in info.value.errors)

    run_on_loop(body())


def test_a_join_target_may_be_a_host_name(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a") as (a,), start_node(config("b")) as b:
            assert await b.join(f"localhost:{a.address.port}") >= 1

    run_on_loop(body())


def test_oversized_user_events_are_refused_before_sending(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with start_node(config("a")) as a:
            with pytest.raises(PayloadTooLarge):
                a.user_event("big", b"x" * 600)

    run_on_loop(body())


def test_keys_rotate_across_an_encrypted_cluster(run_on_loop: Runner) -> None:
    async def body() -> None:
        new_key = base64.b64encode(bytes(range(16, 48))).decode()
        async with cluster("a", "b", keys=[KEY]) as (a, b):
            assert a.stats()["encrypted"] == "true"
            installed = await a.install_key(new_key)
            assert (installed.num_resp, installed.num_err) == (2, 0)
            await a.use_key(new_key)
            await b.remove_key(KEY)
            listed = await b.list_keys()
            assert listed.keys == {new_key: 2}
            assert a.keys() == b.keys() == (base64.b64decode(new_key),)

    run_on_loop(body())


def test_rtt_is_estimated_from_coordinates_once_nodes_have_pinged(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, _):
            await until(lambda: a.cached_coordinate("b") is not None, timeout=10.0)
            rtt = a.rtt("b")
            assert rtt is not None and 0.0 <= rtt < 1.0
            assert a.rtt("nobody") is None
            stats = a.stats()
            assert stats["members"] == "2"
            assert int(stats["transport_packets_received"]) > 0

    run_on_loop(body())


@pytest.mark.skipif(first_private_address() is None, reason="this host has no private address")
def test_a_wildcard_bind_advertises_the_hosts_private_address(run_on_loop: Runner) -> None:
    async def body() -> None:
        conf = node_config("wild", bind="0.0.0.0:0", profile="local")
        async with start_node(conf) as node:
            assert node.address.host == first_private_address()
            assert node.address.port == node.bind_address.port != 0

    run_on_loop(body())


def test_keys_decode_as_go_base64_with_go_s_error_texts() -> None:
    key = bytes(range(16))
    assert decode_key(base64.b64encode(key).decode()) == key
    assert decode_key(key) == key
    with pytest.raises(ValueError) as info:
        decode_key("abc$def")
    assert str(info.value) == "invalid encryption key: illegal base64 data at input byte 3"
    with pytest.raises(ValueError) as info:
        decode_key(base64.b64encode(b"short").decode())
    assert str(info.value) == "key size must be 16, 24 or 32 bytes"
