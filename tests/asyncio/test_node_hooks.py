"""The node's hooks for programs that persist state: raw outputs, counters, why it stopped;
and what cancelling ``join``/``leave`` and a failed bind look like."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import assert_type

import pytest
from serf_asyncio import (
    Event,
    JoinCompleted,
    MemberEvent,
    MemberStatus,
    NodeShutdown,
    SerfNode,
    SerfState,
    SnapshotAppend,
    Subscription,
    UserEvent,
    parse_snapshot,
    start_node,
)

from tests.asyncio.conftest import Runner
from tests.asyncio.test_node import cluster, config, until


def test_output_listeners_see_snapshot_records_from_the_start_and_every_result(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        seen: list[Event] = []
        async with cluster("a") as (a,):
            b = SerfNode(config("b", snapshot=True), leave_on_exit=False)
            remove = b.add_output_listener(seen.append)
            async with b:
                assert await b.join(str(a.address)) == 1
                await until(lambda: any(isinstance(o, JoinCompleted) for o in seen))
                await until(lambda: "alive: a " in snapshot_text(seen))
                remove()
                count = len(seen)
                b.user_event("after-remove", coalesce=False)
                await asyncio.sleep(0.2)
                assert len(seen) == count
        state = parse_snapshot(snapshot_text(seen))
        assert {p.name for p in state.alive} == {"a", "b"}  # b's own join came during start()
        assert any(isinstance(o, MemberEvent) for o in seen)

    run_on_loop(body())


def snapshot_text(outputs: list[Event]) -> str:
    return "".join(
        f"{line}\n" for o in outputs if isinstance(o, SnapshotAppend) for line in o.lines
    )


def test_a_failing_listener_is_logged_and_the_node_keeps_going(
    run_on_loop: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_out: Event) -> None:
        raise RuntimeError("listener bug")

    async def body() -> None:
        async with cluster("a", "b") as (a, b):
            a.add_output_listener(broken)
            events = b.events(UserEvent)
            a.user_event("still", coalesce=False)
            assert (await events.get(10.0)).name == "still"

    with caplog.at_level(logging.ERROR, logger="serf_asyncio.node"):
        run_on_loop(body())
    assert any(r.getMessage() == "output listener failed" for r in caplog.records)


def test_counters_copy_both_layers_and_the_transport(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, _b):
            await until(lambda: a.counters().memberlist.packets_out > 0)
            counters = a.counters()
            assert counters.memberlist.push_pulls >= 1
            assert counters.transport.packets_sent > 0
            assert counters.transport.streams_accepted >= 1
            assert isinstance(counters.dropped, dict) and isinstance(counters.serf, dict)
            before = counters.transport.packets_sent
            await until(lambda: a.counters().transport.packets_sent > before)
            assert counters.transport.packets_sent == before  # a copy, not a live view
            assert a.counters().transport.packets_sent > before

    run_on_loop(body())


def test_events_of_one_kind_are_typed_and_member_status_compares_with_text(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, b):
            sub = b.events(UserEvent)
            assert_type(sub, Subscription[UserEvent])
            a.user_event("typed", b"1", coalesce=False)
            event = await sub.get(10.0)
            assert_type(event, UserEvent)
            assert event.payload == b"1"
            statuses = {m.name: m.status for m in a.members()}
            assert statuses == {"a": "alive", "b": "alive"}
            assert statuses["b"] is MemberStatus.ALIVE and MemberStatus.ALIVE.code == 1

    run_on_loop(body())


def test_a_cancelled_join_leaves_nothing_behind_and_the_node_joins_later(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        with socket.socket() as silent:  # accepts connections but never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            async with cluster("a") as (a,), start_node(config("b")) as b:
                task = asyncio.create_task(b.join(f"127.0.0.1:{silent.getsockname()[1]}"))
                await asyncio.sleep(0.2)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert b._ops == {}  # no future waits for the abandoned join
                assert await b.join(str(a.address)) == 1
                assert b._ops == {}

    run_on_loop(body())


def test_a_cancelled_leave_still_leaves_and_leaves_nothing_behind(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, b):
            task = asyncio.create_task(b.leave())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert b._ops == {}
            await until(lambda: b.state is SerfState.LEFT)
            await until(lambda: {m.name: m.status for m in a.members()}["b"] == "left")

    run_on_loop(body())


def test_a_port_in_use_is_refused_with_the_address_in_the_message(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with start_node(config("a")) as a:
            taken = f"127.0.0.1:{a.bind_address.port}"
            other = SerfNode(config("b").replace(memberlist=a.config.memberlist.replace(name="b")))
            with pytest.raises(OSError, match=f"cannot bind {taken}"):
                await other.start()
            assert not other.running

    run_on_loop(body())


def test_a_node_that_loses_a_name_conflict_stops_and_says_why(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with cluster("a", "b") as (a, b):
            impostor = SerfNode(config("a"), leave_on_exit=False)
            seen: list[Event] = []
            impostor.add_output_listener(seen.append)
            async with impostor:
                await impostor.join(str(b.address))
                async with asyncio.timeout(20.0):
                    await impostor.wait_stopped()
            assert impostor.shutdown_reason == "lost name conflict resolution"
            assert any(isinstance(o, NodeShutdown) for o in seen)
            assert a.running and a.shutdown_reason is None

    run_on_loop(body())


def test_a_normal_shutdown_has_no_reason(run_on_loop: Runner) -> None:
    async def body() -> str | None:
        async with start_node(config("a")) as a:
            pass
        return a.shutdown_reason

    assert run_on_loop(body()) is None
