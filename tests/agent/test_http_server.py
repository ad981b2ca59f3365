"""The HTTP endpoint on a loopback socket: members, health, coordinates, metrics, bad input."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serf_agent.http import start_http_server
from serf_proto.types import MemberStatus

from tests.agent.rpc_fake_backend import FakeBackend


@contextlib.asynccontextmanager
async def http_serving(
    backend: FakeBackend | None = None,
) -> AsyncIterator[tuple[FakeBackend, int]]:
    backend = backend or FakeBackend.cluster()
    server = await start_http_server(backend, "127.0.0.1", 0)
    try:
        yield backend, server.address[1]
    finally:
        server.close()
        await server.wait_closed()


async def exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes, return everything the server wrote until it closed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.read(-1)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    raw = await exchange(
        port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_members_json_has_the_shape_of_serf_members_format_json() -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            status, headers, body = await get(port, "/v1/members")
            assert status == 200 and headers["content-type"] == "application/json"
            doc = json.loads(body)
            assert doc["members"][0] == {
                "name": "n1",
                "addr": "127.0.0.1:7946",
                "port": 7946,
                "tags": {"dc": "east", "role": "web"},
                "status": "alive",
                "protocol": {"max": 5, "min": 2, "version": 5},
            }

    asyncio.run(scenario())


def test_health_is_200_while_alive_and_503_after_leaving() -> None:
    async def scenario() -> None:
        async with http_serving() as (backend, port):
            status, _, body = await get(port, "/v1/health")
            assert status == 200 and json.loads(body)["status"] == "alive"
            backend.members_by_name["n1"] = replace(
                backend.local_member(), status=MemberStatus.LEFT
            )
            status, _, body = await get(port, "/v1/health")
            assert status == 503 and json.loads(body)["status"] == "left"

    asyncio.run(scenario())


def test_coordinate_of_a_known_node_and_404_for_an_unknown_one() -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            status, _, body = await get(port, "/v1/coordinate/n2")
            doc = json.loads(body)
            assert status == 200 and doc["Node"] == "n2" and len(doc["Coord"]["Vec"]) == 8
            status, _, _ = await get(port, "/v1/coordinate/nosuch")
            assert status == 404

    asyncio.run(scenario())


def test_metrics_parse_with_the_prometheus_text_parser() -> None:
    async def scenario() -> None:
        async with http_serving() as (backend, port):
            backend.metrics.inc("serf_probes_sent_total", 3)
            backend.metrics.inc("serf_packets_dropped_total", reason="bad-crc")
            backend.metrics.observe("serf_handler_duration_seconds", 0.2, event="member-join")
            status, headers, body = await get(port, "/metrics")
            assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
            families = {f.name: f for f in text_string_to_metric_families(body.decode())}
            assert families["serf_probes_sent"].samples[0].value == 3
            members = {s.labels["status"]: s.value for s in families["serf_members"].samples}
            assert members == {"alive": 3, "leaving": 0, "left": 0, "failed": 0}
            drops = families["serf_packets_dropped"].samples
            assert drops[0].labels == {"reason": "bad-crc"} and drops[0].value == 1
            hist = families["serf_handler_duration_seconds"]
            assert hist.type == "histogram"
            count = [s for s in hist.samples if s.name.endswith("_count")]
            assert count[0].value == 1
            assert families["serf_health_score"].samples[0].value == 0

    asyncio.run(scenario())


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            raw = await exchange(
                port,
                b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
                b"HEAD /v1/members HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            assert raw.count(b"HTTP/1.1 200") == 2 and b"HTTP/1.1 404" in raw

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
        b"GET /v1/members HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /" + b"a" * 20000,  # an unfinished head beyond the 16 KiB limit
        b"\x00\xff\x10binary\r\n\r\n",
    ],
    ids=["no-request-line", "no-host", "bad-header", "huge-target", "binary"],
)
def test_malformed_http_gets_a_400_class_answer_and_the_server_stays_up(raw: bytes) -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            answer = await exchange(port, raw)
            status = int(answer.split(b" ", 2)[1])
            assert 400 <= status < 500
            assert (await get(port, "/v1/health"))[0] == 200

    asyncio.run(scenario())


def test_methods_other_than_get_are_refused_with_405() -> None:
    async def scenario() -> None:
        async with http_serving() as (_, port):
            answer = await exchange(
                port,
                b"POST /v1/members HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            )
            assert answer.startswith(b"HTTP/1.1 405") and b"Allow: GET, HEAD" in answer

    asyncio.run(scenario())
