"""The PyPI client ``serfclient`` (unchanged) works against our RPC server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from serf_proto.events import UserEvent
from serf_proto.types import MemberStatus
from serfclient import SerfClient

from tests.agent.rpc_fake_backend import FakeBackend, serving, wait_for


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await asyncio.wait_for(asyncio.to_thread(fn), timeout=10)


def test_serfclient_members_and_members_filtered() -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            client = await in_thread(lambda: SerfClient("127.0.0.1", port))
            result = await in_thread(client.members)
            assert result.head == {"Error": "", "Seq": 1}
            names = [m["Name"] for m in result.body["Members"]]
            assert names == ["n1", "n2", "n3"]
            assert result.body["Members"][0]["Addr"] == b"\x7f\x00\x00\x01"
            result = await in_thread(lambda: client.members(tags={"role": "w.*"}))
            assert [m["Name"] for m in result.body["Members"]] == ["n1"]
            result = await in_thread(lambda: client.members(name="n[23]", status="alive"))
            assert [m["Name"] for m in result.body["Members"]] == ["n2", "n3"]
            client.close()

    asyncio.run(scenario())


def test_serfclient_event_join_force_leave_and_stats() -> None:
    async def scenario() -> None:
        backend = FakeBackend.cluster()
        n3 = backend.members_by_name["n3"]
        backend.members_by_name["n3"] = type(n3)(
            n3.name, n3.addr, n3.tags, MemberStatus.FAILED, n3.protocol, n3.delegate
        )
        async with serving(backend) as (_, port):
            client = await in_thread(lambda: SerfClient("127.0.0.1", port))
            result = await in_thread(lambda: client.event("deploy", "v1"))
            assert result.head["Error"] == ""
            result = await in_thread(lambda: client.event("raw", b"\x00\x01", coalesce=False))
            assert result.head["Error"] == ""
            result = await in_thread(lambda: client.join("127.0.0.1:7947"))
            assert result.head["Error"] == "" and result.body == {"Num": 1}
            result = await in_thread(lambda: client.join(["127.0.0.1:1"]))
            assert result.head["Error"].startswith("1 error occurred") and result.body == {"Num": 0}
            result = await in_thread(lambda: client.force_leave("n3"))
            assert result.head["Error"] == ""
            result = await in_thread(client.stats)
            assert result.body["agent"] == {"name": "n1"}
            assert result.body["serf"]["members"] == "3"
            client.close()
            assert ("event", "deploy", b"v1", True) in backend.calls
            assert ("event", "raw", b"\x00\x01", False) in backend.calls
            assert backend.members_by_name["n3"].status is MemberStatus.LEFT

    asyncio.run(scenario())


def test_serfclient_stream_yields_events_as_they_happen() -> None:
    async def scenario() -> None:
        async with serving() as (backend, port):
            client = await in_thread(lambda: SerfClient("127.0.0.1", port))
            result = await in_thread(lambda: client.stream("user:deploy"))
            assert result.head == {"Error": "", "Seq": 1}
            await wait_for(lambda: backend.subscriber_count >= 1)
            backend.emit(UserEvent(1, "skip", b"", False))
            backend.emit(UserEvent(2, "deploy", b"v9", True))
            record = await in_thread(lambda: next(result.body))
            assert record.head == {"Error": "", "Seq": 1}
            assert record.body["Name"] == "deploy" and record.body["Payload"] == b"v9"
            client.close()

    asyncio.run(scenario())


def test_serfclient_authenticates_with_rpc_auth() -> None:
    async def scenario() -> None:
        async with serving(auth_key="s3cret") as (_, port):
            client = await in_thread(lambda: SerfClient("127.0.0.1", port, rpc_auth="s3cret"))
            result = await in_thread(client.members)
            assert len(result.body["Members"]) == 3
            client.close()

    asyncio.run(scenario())
