"""The cluster page's server side on a loopback socket: static files and their headers, the
coordinate and status documents, and the server-sent event stream with its bounds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re

from serf_agent.http import events, server
from serf_agent.http.events import EventHub, StreamsFullError, event_record, sse_block
from serf_proto import MemberEvent, UserEvent
from serf_proto.events import MemberEventType
from serf_proto.types import MemberStatus

from tests.agent.rpc_fake_backend import FakeBackend
from tests.agent.test_http_server import exchange, get, http_serving

LOG = logging.getLogger("test.http.ui")


def _failed(backend: FakeBackend, name: str) -> MemberEvent:
    member = backend.members_by_name[name]
    return MemberEvent(MemberEventType.FAILED, (member,))


def test_the_page_is_served_at_root_and_ui_with_a_strict_policy() -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            for path in ("/", "/ui/", "/ui"):
                status, headers, body = await get(port, path)
                assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
                csp = headers["content-security-policy"]
                assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
                assert headers["x-content-type-options"] == "nosniff"
                assert headers["cache-control"] == "no-cache"
                # no inline script: every <script> element loads a file of this origin
                scripts = re.findall(rb"<script[^>]*>", body)
                assert scripts and all(b'src="/ui/' in tag for tag in scripts)
            status, headers, body = await get(port, "/ui/app.js")
            assert status == 200 and headers["content-type"].startswith("text/javascript")
            assert headers["cache-control"] == "public, max-age=3600"
            assert b"innerHTML" not in body and b"textContent" in body
            status, headers, _ = await get(port, "/ui/app.css")
            assert status == 200 and headers["content-type"].startswith("text/css")
            assert (await get(port, "/ui/../pyproject.toml"))[0] == 404
            assert (await get(port, "/ui/nope.js"))[0] == 404
            raw = await exchange(
                port, b"HEAD /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            assert raw.startswith(b"HTTP/1.1 405") and b"Allow: GET\r\n" in raw

    asyncio.run(scenario())


def test_coordinates_hold_every_member_and_a_symmetric_rtt_matrix() -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            status, _, body = await get(port, "/v1/coordinates")
            doc = json.loads(body)
            assert status == 200 and doc["local"] == "n1"
            assert [n["Node"] for n in doc["nodes"]] == ["n1", "n2", "n3"]
            assert all(len(n["Coord"]["Vec"]) == 8 for n in doc["nodes"])
            rtt = doc["rtt"]
            assert len(rtt) == 3 and all(len(row) == 3 for row in rtt)
            assert all(rtt[i][i] == 0.0 for i in range(3))
            assert all(rtt[i][j] == rtt[j][i] for i in range(3) for j in range(3))

    asyncio.run(scenario())


def test_status_reports_health_queues_encryption_protocols_and_drops() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        backend.metrics.set("serf_packets_dropped_total", 3, reason="checksum_mismatch")
        async with http_serving(backend) as (_, port):
            status, _, body = await get(port, "/v1/ui/status")
            doc = json.loads(body)
            assert status == 200 and doc["name"] == "n1" and doc["status"] == "alive"
            assert doc["health_score"] == 0 and doc["encrypted"] is False
            assert doc["queues"] == {"intent": 0, "event": 0, "query": 0}
            assert doc["protocol"]["serf"] == {"min": 2, "max": 5, "current": 5}
            assert doc["dropped"] == {"checksum_mismatch": 3}

    asyncio.run(scenario())


async def _open_stream(
    port: int, last_id: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    extra = f"Last-Event-ID: {last_id}\r\n" if last_id is not None else ""
    writer.write(f"GET /v1/events HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode())
    await writer.drain()
    async with asyncio.timeout(5):
        head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


async def _read_until(reader: asyncio.StreamReader, needle: bytes) -> bytes:
    got = b""
    async with asyncio.timeout(5):
        while needle not in got:
            chunk = await reader.read(4096)
            assert chunk, got
            got += chunk
    return got


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


def test_the_stream_replays_history_then_sends_live_events_and_resumes_by_id() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        async with http_serving(backend) as (_, port):
            backend.emit(UserEvent(1, "deploy", b"v1", True))
            reader, writer, head = await _open_stream(port)
            assert b" 200 " in head.split(b"\r\n")[0]
            assert b"text/event-stream" in head and b"chunked" in head.lower()
            got = await _read_until(reader, b'"name":"deploy"')
            first = int(got.split(b"id: ", 1)[1].split(b"\n", 1)[0])
            assert f"id: {first}\nevent: user\ndata: {{".encode() in got
            backend.emit(_failed(backend, "n2"))
            got = await _read_until(reader, b"member-failed")
            data = json.loads(got.split(b"data: ", 1)[1].split(b"\n", 1)[0])
            assert data["members"] == [{"name": "n2", "status": "alive"}]
            assert data["id"] == first + 1 and data["type"] == "member"
            await _close(writer)
            # a reconnecting EventSource sends Last-Event-ID: only newer records come back
            reader, writer, _ = await _open_stream(port, last_id=first)
            got = await _read_until(reader, b"member-failed")
            assert b'"name":"deploy"' not in got
            await _close(writer)

    asyncio.run(scenario())


def test_stream_clients_are_bounded_and_refused_with_503() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        async with http_serving(backend) as (_, port):
            opened = [await _open_stream(port) for _ in range(events.MAX_STREAMS)]
            assert all(b" 200 " in head for _, _, head in opened)
            _, writer, head = await _open_stream(port)
            assert head.startswith(b"HTTP/1.1 503")
            await _close(writer)
            for _, w, _ in opened:
                await _close(w)
            # the server stays up and serves other routes
            assert (await get(port, "/v1/members"))[0] == 200

    asyncio.run(scenario())


def test_history_is_bounded_and_a_slow_client_is_dropped_not_buffered() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        hub = EventHub(LOG, history=3, max_streams=1, clock=lambda: 0.0)
        hub.attach(backend)
        client = hub.open()
        try:
            hub.open()
        except StreamsFullError:
            pass
        else:
            raise AssertionError("a second stream was accepted")
        for i in range(events.CLIENT_QUEUE + 5):
            backend.emit(UserEvent(i, f"e{i}", b"", False))
        assert [r["id"] for r in hub.history()] == [
            events.CLIENT_QUEUE + 3,
            events.CLIENT_QUEUE + 4,
            events.CLIENT_QUEUE + 5,
        ]
        assert client.dropped and hub.dropped_clients == 1
        # bounded: the queue never grew past its size, and ends with the end marker
        assert client.queue.qsize() == events.CLIENT_QUEUE
        # a later process numbers on from its start time, above every id of this one
        later = EventHub(LOG, clock=lambda: 1.0)
        later.publish(UserEvent(1, "after-restart", b"", False))
        assert later.history()[0]["id"] > hub.history()[-1]["id"]
        queued = [client.queue.get_nowait() for _ in range(events.CLIENT_QUEUE)]
        assert queued[-1] is None
        hub.detach()
        assert backend.subscriber_count == 0

    asyncio.run(scenario())


def test_records_carry_names_as_data_and_payload_previews_as_text() -> None:
    backend = FakeBackend.cluster()
    record = event_record(9, UserEvent(4, "<script>x</script>", b"\xff" * 500, False), 1.0)
    assert record["name"] == "<script>x</script>" and record["payload_size"] == 500
    assert len(record["payload"]) == events.PAYLOAD_PREVIEW
    block = sse_block(record)
    assert block.count(b"\n\n") == 1 and block.endswith(b"\n\n")
    member = backend.members_by_name["n3"]
    left = event_record(10, MemberEvent(MemberEventType.LEAVE, (member,)), 2.0)
    assert left["members"] == [{"name": "n3", "status": str(MemberStatus.ALIVE)}]


def test_connections_beyond_the_bound_get_503_and_the_server_stays_up() -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            held = []
            for _ in range(server.MAX_CONNECTIONS):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                async with asyncio.timeout(5):
                    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                held.append(writer)
            status, _, body = await get(port, "/v1/members")
            assert status == 503 and body == b"too many connections\n"
            for writer in held:
                await _close(writer)
            await asyncio.sleep(0.1)
            assert (await get(port, "/v1/members"))[0] == 200

    asyncio.run(scenario())
