"""The RPC server on a loopback socket: streams, monitor, queries, hostile input, many clients."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

import msgpack
import pytest
from serf_agent.rpc import start_rpc_server
from serf_agent.rpc.server import REPLY_BACKLOG
from serf_proto.events import MemberEvent, MemberEventType, QueryAck, UserEvent

from tests.agent.rpc_fake_backend import (
    FakeBackend,
    RawClient,
    response,
    serving,
    wait_for,
)


async def members_still_work(port: int) -> None:
    """A fresh client can still handshake and list members."""
    client = await RawClient.connect(port)
    await client.handshake(1)
    await client.send({"Command": "members", "Seq": 2})
    assert await client.recv() == {"Error": "", "Seq": 2}
    body = await client.recv()
    assert isinstance(body, dict) and len(body["Members"]) == 3
    await client.close()


def test_a_stream_receives_matching_user_events_and_member_events() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": "stream", "Seq": 5}, {"Type": "user:deploy,member-join"})
            assert await client.recv() == {"Error": "", "Seq": 5}
            backend.emit(UserEvent(3, "other", b"x", False))
            backend.emit(UserEvent(4, "deploy", b"v2", True))
            member = backend.members_by_name["n2"]
            backend.emit(MemberEvent(MemberEventType.JOIN, (member,)))
            assert await client.recv() == {"Error": "", "Seq": 5}
            assert await client.recv() == {
                "Coalesce": True,
                "Event": "user",
                "LTime": 4,
                "Name": "deploy",
                "Payload": b"v2",
            }
            assert await client.recv() == {"Error": "", "Seq": 5}
            record = await client.recv()
            assert isinstance(record, dict) and record["Event"] == "member-join"
            assert record["Members"][0]["Name"] == "n2"
            assert record["Members"][0]["Addr"] == b"\x7f\x00\x00\x01"
            await client.send({"Command": "stop", "Seq": 6}, {"Stop": 5})
            assert await client.recv() == {"Error": "", "Seq": 6}
            backend.emit(UserEvent(5, "deploy", b"v3", False))
            await client.send({"Command": "stop", "Seq": 7}, {"Stop": 99})
            assert await client.recv() == {"Error": "", "Seq": 7}
            await client.close()
            await wait_for(lambda: backend.subscriber_count == 0)

    asyncio.run(scenario())


def test_a_streamed_query_can_be_answered_once_with_respond() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": "stream", "Seq": 3}, {"Type": "query"})
            assert await client.recv() == {"Error": "", "Seq": 3}
            deadline = asyncio.get_running_loop().time() + 30
            backend.emit(backend.query_event("_serf_ping", b"", deadline))
            backend.emit(backend.query_event("q1", b"hello", deadline))
            assert await client.recv() == {"Error": "", "Seq": 3}
            record = await client.recv()
            assert record == {
                "Event": "query",
                "ID": 1,
                "LTime": 1,
                "Name": "q1",
                "Payload": b"hello",
            }
            await client.send({"Command": "respond", "Seq": 4}, {"ID": 1, "Payload": b"answer"})
            assert await client.recv() == {"Error": "", "Seq": 4}
            await client.send({"Command": "respond", "Seq": 5}, {"ID": 1, "Payload": b"again"})
            assert await client.recv() == {
                "Error": "failed to respond to key query: response already sent",
                "Seq": 5,
            }
            await client.send({"Command": "respond", "Seq": 6}, {"ID": 42, "Payload": b"x"})
            assert await client.recv() == {"Error": "No pending queries matching ID", "Seq": 6}
            assert backend.responses == {7: b"answer"}
            await client.close()

    asyncio.run(scenario())


def test_a_query_streams_acks_and_responses_then_exactly_one_done() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        backend.query_records = [QueryAck(0, "n1"), response("n2", b"r2")]
        async with serving(backend) as (_, port):
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send(
                {"Command": "query", "Seq": 9},
                {"Name": "q", "Payload": b"p", "RequestAck": True, "Timeout": 50_000_000},
            )
            frames = [await client.recv() for _ in range(7)]
            assert frames == [
                {"Error": "", "Seq": 9},
                {"Error": "", "Seq": 9},
                {"From": "n1", "Payload": None, "Type": "ack"},
                {"Error": "", "Seq": 9},
                {"From": "n2", "Payload": b"r2", "Type": "response"},
                {"Error": "", "Seq": 9},
                {"From": "", "Payload": None, "Type": "done"},
            ]
            assert backend.calls[-1][-1] == pytest.approx(0.05)
            await client.send({"Command": "query", "Seq": 10}, {"Name": "x" * 2000})
            assert await client.recv() == {"Error": "query exceeds limit of 1024 bytes", "Seq": 10}
            await client.close()

    asyncio.run(scenario())


def test_monitor_filters_by_level_and_stop_ends_it() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        backend.log_lines = [
            "2026/01/01 00:00:00 [DEBUG] agent: old debug",
            "2026/01/01 00:00:00 [WARN] agent: old warning",
        ]
        async with serving(backend) as (_, port):
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": "monitor", "Seq": 2}, {"LogLevel": "warn"})
            assert await client.recv() == {"Error": "", "Seq": 2}
            assert await client.recv() == {"Error": "", "Seq": 2}
            assert await client.recv() == {"Log": "2026/01/01 00:00:00 [WARN] agent: old warning"}
            backend.log("2026/01/01 00:00:01 [INFO] agent: filtered")
            backend.log("untagged line passes")
            assert await client.recv() == {"Error": "", "Seq": 2}
            assert await client.recv() == {"Log": "untagged line passes"}
            await client.send({"Command": "stop", "Seq": 3}, {"Stop": 2})
            assert await client.recv() == {"Error": "", "Seq": 3}
            await wait_for(lambda: not backend._log_listeners)
            await client.close()

    asyncio.run(scenario())


def test_a_stream_consumer_that_never_reads_is_bounded_and_the_agent_keeps_going() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": "stream", "Seq": 1}, {"Type": "user"})
            assert await client.recv() == {"Error": "", "Seq": 1}
            payload = b"x" * 400
            for i in range(20_000):  # ~8 MB: far beyond socket buffers plus 512 records
                backend.emit(UserEvent(i, "flood", payload, False))
            assert backend.metrics.value("serf_rpc_dropped_records_total") > 10_000
            await members_still_work(port)
            await client.close()

    asyncio.run(scenario())


def test_many_clients_are_served_at_once() -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            await asyncio.gather(*(members_still_work(port) for _ in range(20)))

    asyncio.run(scenario())


# -- hostile and malformed input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xc1\xc1\xc1", id="reserved-byte"),
        pytest.param(msgpack.packb(42), id="header-is-an-int"),
        pytest.param(
            msgpack.packb({"Command": b"members", "Seq": 1}, use_bin_type=True), id="command-as-bin"
        ),
        pytest.param(msgpack.packb({"Command": "handshake", "Seq": -5}), id="negative-seq"),
        pytest.param(msgpack.packb({1: 2}), id="int-map-key"),
        pytest.param(
            msgpack.packb({"Command": "handshake", "Seq": 1}) + msgpack.packb({"Version": 1.5}),
            id="float-version",
        ),
    ],
)
def test_undecodable_requests_close_the_connection_without_a_reply(data: bytes) -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            client = await RawClient.connect(port)
            await client.send_raw(data)
            assert await client.closed_by_server()
            await client.close()
            await members_still_work(port)

    asyncio.run(scenario())


def test_wrong_body_types_after_handshake_close_the_connection() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": "query", "Seq": 2}, {"Name": "q", "Timeout": 1.5e9})
            assert await client.closed_by_server()
            await client.close()
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": "join", "Seq": 2}, {"Existing": "127.0.0.1", "Replay": 1})
            assert await client.closed_by_server()
            await client.close()
            assert not [c for c in backend.calls if c[0] in ("join", "query")]
            await members_still_work(port)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "prefix",
    [b"\xc6", b"\xdb", b"\xdd", b"\xdf"],
    ids=["bin32", "str32", "array32", "map32"],
)
def test_huge_32_bit_length_headers_are_refused_without_allocating(prefix: bytes) -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            client = await RawClient.connect(port)
            await client.send_raw(prefix + b"\xff\xff\xff\xff" + b"\x00" * 100)
            # The server buffers at most 1 MiB of an incomplete request, then gives up.
            with_more = b"\x00" * 65536
            closed = False
            for _ in range(40):
                try:
                    await client.send_raw(with_more)
                except ConnectionError:
                    closed = True
                    break
            assert closed or await client.closed_by_server()
            await client.close()
            await members_still_work(port)

    asyncio.run(scenario())


def test_random_garbage_never_takes_the_server_down() -> None:
    async def scenario() -> None:
        rng = random.Random(8)
        async with serving() as (_, port):
            for _ in range(30):
                client = await RawClient.connect(port)
                blob = rng.randbytes(rng.randrange(1, 2000))
                try:
                    await client.send_raw(blob)
                    await client.recv(timeout=0.2)
                except (EOFError, ConnectionError, TimeoutError):
                    pass
                await client.close()
            await members_still_work(port)

    asyncio.run(scenario())


def test_commands_before_handshake_and_unknown_commands_get_gos_errors() -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            client = await RawClient.connect(port)
            await client.send({"Command": "members", "Seq": 7})
            assert await client.recv() == {"Error": "Handshake required", "Seq": 7}
            assert await client.closed_by_server()
            await client.close()
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": " get-coordinate", "Seq": 2}, {"Node": "n1"})
            assert await client.recv() == {"Error": "Unsupported command", "Seq": 2}
            assert await client.closed_by_server()
            await client.close()
            client = await RawClient.connect(port)
            await client.send(["handshake", 3], {"Version": 1}, ["stats", 4])
            assert await client.recv() == {"Error": "", "Seq": 3}
            assert await client.recv() == {"Error": "", "Seq": 4}
            stats = await client.recv()
            assert isinstance(stats, dict) and stats["agent"] == {"name": "n1"}
            await client.close()

    asyncio.run(scenario())


def test_leave_may_shut_the_server_down_from_inside_the_connection() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        server = await start_rpc_server(backend, "127.0.0.1", 0)

        async def shutdown() -> None:  # what the agent does: stop its RPC server and wait
            backend.calls.append(("shutdown",))
            server.close()
            await server.wait_closed()

        backend.shutdown = shutdown  # type: ignore[method-assign]
        client = await RawClient.connect(server.address[1])
        await client.handshake()
        await client.send({"Command": "leave", "Seq": 2})
        assert await client.recv() == {"Error": "", "Seq": 2}
        assert await client.closed_by_server()
        await client.close()
        await asyncio.wait_for(server.wait_closed(), 5)
        assert backend.calls[-2:] == [("leave",), ("shutdown",)]

    asyncio.run(scenario())


def test_unknown_command_names_share_one_metrics_label() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            for name in ("x1", "x2"):
                client = await RawClient.connect(port)
                await client.handshake()
                await client.send({"Command": name, "Seq": 2})
                assert await client.recv() == {"Error": "Unsupported command", "Seq": 2}
                await client.close()
            await wait_for(
                lambda: backend.metrics.value("serf_rpc_commands_total", command="unknown") == 2
            )
            assert backend.metrics.value("serf_rpc_commands_total", command="handshake") == 2

    asyncio.run(scenario())


def test_an_event_that_cannot_be_encoded_never_raises_into_the_agent() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            client = await RawClient.connect(port)
            await client.handshake()
            await client.send({"Command": "stream", "Seq": 1}, {"Type": "*"})
            assert await client.recv() == {"Error": "", "Seq": 1}
            broken = replace(backend.members_by_name["n2"], tags={"x": object()})  # type: ignore[dict-item]
            backend.emit(MemberEvent(MemberEventType.UPDATE, (broken,)))  # must not raise
            backend.emit(UserEvent(1, "after", b"", False))
            assert await client.recv() == {"Error": "", "Seq": 1}
            record = await client.recv()
            assert isinstance(record, dict) and record["Name"] == "after"
            await client.close()

    asyncio.run(scenario())


def test_a_client_that_pipelines_requests_but_never_reads_gets_bounded_buffering() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        server = await start_rpc_server(backend, "127.0.0.1", 0)
        client = await RawClient.connect(server.address[1])
        await client.handshake()
        request = msgpack.packb({"Command": "stats", "Seq": 2})
        writer_task = asyncio.create_task(client.send_raw(request * 200_000))  # ~4 MB of requests
        (conn,) = server._connections
        peak = 0
        for _ in range(100):
            await asyncio.sleep(0.01)
            peak = max(peak, conn.queued_bytes)
        assert 0 < peak <= REPLY_BACKLOG + 4096
        writer_task.cancel()
        client.writer.transport.abort()  # our own 4 MB are unsent: do not wait for them
        server.close()
        await asyncio.wait_for(server.wait_closed(), 10)

    asyncio.run(scenario())


def test_member_filters_are_gos_regexp_and_a_refused_one_closes_only_that_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def names(client: RawClient, seq: int, **filters: object) -> list[str]:
        body = {"Tags": {}, "Status": "", "Name": "", **filters}
        await client.send({"Command": "members-filtered", "Seq": seq}, body)
        assert await client.recv() == {"Error": "", "Seq": seq}
        reply = await client.recv()
        assert isinstance(reply, dict)
        return sorted(m["Name"] for m in reply["Members"] or [])

    async def scenario() -> None:
        async with serving() as (_, port):
            client = await RawClient.connect(port)
            await client.handshake()
            assert await names(client, 2, Name="n[[:digit:]]") == ["n1", "n2", "n3"]
            assert await names(client, 3, Name="(?i)N1") == ["n1"]
            assert await names(client, 4, Tags={"role": r"\pL{2}"}) == ["n2"]
            assert await names(client, 5, Name="n1\n") == []  # `$` is the end of the text
            await client.send(
                {"Command": "members-filtered", "Seq": 6},
                {"Tags": {}, "Status": "", "Name": "(?<x>n)1"},
            )
            assert await client.closed_by_server()
            await client.close()
            await members_still_work(port)

    asyncio.run(scenario())
    assert (
        "Failed to compile regex: error parsing regexp: "
        "invalid or unsupported Perl syntax: `(?<`" in caplog.text
    )
