"""Go's own ``serf`` CLI talks to our RPC server (backed by an in-memory agent) unchanged."""

from __future__ import annotations

import asyncio
import json

import pytest
from serf_proto.events import MemberEvent, MemberEventType, QueryAck
from serf_proto.types import MemberStatus

from tests.agent.rpc_fake_backend import FakeBackend, response, serving, wait_for

pytestmark = pytest.mark.interop
SERF = "/usr/bin/serf"


async def serf(port: int, *args: str, timeout: float = 20.0) -> tuple[int, str]:
    """Run ``serf ARGS -rpc-addr=...``; returns (exit code, stdout+stderr)."""
    proc = await asyncio.create_subprocess_exec(
        SERF,
        *args[:1],
        f"-rpc-addr=127.0.0.1:{port}",
        *args[1:],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def test_members_prints_every_member_in_text_json_and_detailed_form() -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            code, out = await serf(port, "members")
            assert code == 0
            n1 = next(line.split() for line in out.splitlines() if line.startswith("n1 "))
            assert n1[:3] == ["n1", "127.0.0.1:7946", "alive"]
            assert set(n1[3].split(",")) == {"role=web", "dc=east"}  # Go prints tags unordered
            assert len(out.splitlines()) == 3
            code, out = await serf(port, "members", "-format=json")
            doc = json.loads(out)
            assert [m["name"] for m in doc["members"]] == ["n1", "n2", "n3"]
            assert doc["members"][0]["addr"] == "127.0.0.1:7946"
            assert doc["members"][0]["protocol"] == {"max": 5, "min": 2, "version": 5}
            code, out = await serf(port, "members", "-detailed")
            assert "Protocol Version: 5  Available Protocol Range: [2, 5]" in out

    asyncio.run(scenario())


def test_members_filters_by_tag_status_and_anchored_name() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        n3 = backend.members_by_name["n3"]
        backend.members_by_name["n3"] = type(n3)(
            n3.name, n3.addr, n3.tags, MemberStatus.FAILED, n3.protocol, n3.delegate
        )
        async with serving(backend) as (_, port):
            _, out = await serf(port, "members", "-tag", "role=w.*")
            assert [line.split()[0] for line in out.splitlines()] == ["n1"]
            _, out = await serf(port, "members", "-tag", "role=w|cach")
            assert [line.split()[0] for line in out.splitlines()] == ["n1"]
            _, out = await serf(port, "members", "-status", "failed")
            assert [line.split()[0] for line in out.splitlines()] == ["n3"]
            code, out = await serf(port, "members", "-name", "n")
            assert code == 0 and out.strip() == ""
            code, out = await serf(port, "members", "-status", "(")
            assert code == 1 and "client closed" in out

    asyncio.run(scenario())


def test_event_join_force_leave_and_tags_reach_the_agent() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            code, out = await serf(port, "event", "-coalesce=false", "deploy", "v1")
            assert code == 0 and "Event 'deploy' dispatched! Coalescing enabled: false" in out
            code, out = await serf(port, "event", "big", "x" * 600)
            assert code == 1
            assert "user event exceeds configured limit of 512 bytes before encoding" in out
            code, out = await serf(port, "join", "-replay", "127.0.0.1:7947")
            assert code == 0 and "Successfully joined cluster by contacting 1 nodes." in out
            code, out = await serf(port, "join", "127.0.0.1:1")
            assert code == 1 and "Failed to join 127.0.0.1" in out
            code, _ = await serf(port, "force-leave", "-prune", "n9")
            assert code == 0
            code, out = await serf(port, "tags", "-set", "build=42", "-delete", "dc")
            assert code == 0 and "Successfully updated agent tags" in out
            assert ("event", "deploy", b"v1", False) in backend.calls
            assert ("join", ("127.0.0.1:7947",), True) in backend.calls
            assert ("force-leave", "n9", True) in backend.calls
            assert backend.local_member().tags == {"role": "web", "build": "42"}

    asyncio.run(scenario())


def test_info_rtt_and_keys_print_like_go() -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            code, out = await serf(port, "info")
            assert code == 0 and "agent:\n\tname = n1" in out and "members = 3" in out
            code, out = await serf(port, "rtt", "n1", "n2")
            assert code == 0 and "Estimated n1 <-> n2 rtt:" in out
            code, out = await serf(port, "rtt", "nosuch")
            assert code == 1 and 'Could not find a coordinate for node "nosuch"' in out
            code, out = await serf(port, "keys", "-list")
            assert code == 0 and "a2tra2tra2tra2tra2traw==  [3/3]" in out
            key = "hbbBBrflCBbYjPCBx/GlQd81gxmXG6L+aXWfEYX/2cE="
            code, out = await serf(port, "keys", "-install", key)
            assert code == 0 and "Successfully installed key" in out
            code, out = await serf(port, "keys", "-use", key)
            assert code == 0 and "Successfully changed primary key" in out
            code, out = await serf(port, "keys", "-remove", key)
            assert code == 1 and "Removing the primary key is not allowed" in out
            code, out = await serf(port, "keys", "-install", "not-base64!")
            assert code == 1 and "illegal base64 data at input byte 3" in out

    asyncio.run(scenario())


def test_query_prints_acks_and_responses_in_text_and_json() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        backend.query_records = [QueryAck(0, "n1"), response("n1", b"pong"), QueryAck(0, "n2")]
        async with serving(backend) as (_, port):
            code, out = await serf(port, "query", "-timeout=300ms", "q1", "hello")
            assert code == 0
            assert "Ack from 'n1'" in out and "Response from 'n1': pong" in out
            assert "Total Acks: 2" in out and "Total Responses: 1" in out
            code, out = await serf(
                port, "query", "-format=json", "-node=n1", "-tag", "role=web", "q1"
            )
            doc = json.loads(out)
            assert doc["Acks"] == ["n1"] and doc["Responses"] == {"n1": "pong"}
            _, name, _, nodes, tags, ack, relay, timeout = backend.calls[-1]
            assert (name, nodes, tags, ack, relay, timeout) == (
                "q1",
                ("n1",),
                {"role": "web"},
                True,
                0,
                0.0,
            )

    asyncio.run(scenario())


def test_reachability_uses_the_bare_serf_ping_query() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        backend.query_records = [QueryAck(0, n) for n in ("n1", "n2", "n3")]
        async with serving(backend) as (_, port):
            code, out = await serf(port, "reachability")
            assert code == 0 and "Successfully contacted all live nodes" in out
            assert backend.calls[-1][1] == "_serf_ping"

    asyncio.run(scenario())


def test_monitor_replays_the_log_backlog_then_streams_new_lines() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        backend.log_lines = [
            "2026/11/27 05:17:19 [INFO] agent: Serf agent starting",
            "2026/11/27 05:17:19 [DEBUG] memberlist: noise",
        ]
        async with serving(backend) as (_, port):
            proc = await asyncio.create_subprocess_exec(
                SERF,
                "monitor",
                f"-rpc-addr=127.0.0.1:{port}",
                "-log-level=info",
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                assert proc.stdout is not None
                async with asyncio.timeout(10):
                    first = await proc.stdout.readline()
                    await wait_for(lambda: len(backend._log_listeners) == 1)
                    backend.log("2026/11/27 05:17:20 [INFO] serf: EventMemberJoin: n4 127.0.0.1")
                    second = await proc.stdout.readline()
                assert b"Serf agent starting" in first
                assert b"EventMemberJoin: n4" in second
            finally:
                proc.terminate()
                await proc.wait()

    asyncio.run(scenario())


def test_leave_replies_then_shuts_the_agent_down() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            code, out = await serf(port, "leave")
            assert code == 0 and "Graceful leave complete" in out, out
            assert backend.calls[-2:] == [("leave",), ("shutdown",)]

    asyncio.run(scenario())


def test_go_cli_against_an_auth_protected_agent_needs_the_token() -> None:
    async def scenario() -> None:
        async with serving(auth_key="s3cret") as (backend, port):
            code, out = await serf(port, "members", "-rpc-auth=s3cret")
            assert code == 0 and "n1" in out
            code, out = await serf(port, "members", "-rpc-auth=wrong")
            assert code == 1 and "Invalid authentication token" in out
            backend.emit(MemberEvent(MemberEventType.JOIN, ()))

    asyncio.run(scenario())
