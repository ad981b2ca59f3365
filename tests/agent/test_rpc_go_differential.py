"""Differential tests: the same RPC bytes sent to Go's agent and to ours give the same outcome.

A real Go agent (``/usr/bin/serf agent``, one node on loopback) and our RPC server (backed by
the in-memory agent) receive identical byte strings: well-formed requests, refused requests
and garbage. The outcome is every reply frame (headers exactly; bodies by their keys, since
the two clusters differ) plus whether the agent closed the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import subprocess
import time
from collections.abc import Iterator

import msgpack
import pytest

from tests.agent.rpc_fake_backend import serving
from tests.loopback import free_port

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def go_rpc_port() -> Iterator[int]:
    """A single-node Go agent on loopback; its RPC port. Stopped by PID afterwards."""
    yield from go_agent()


@pytest.fixture(scope="module")
def go_auth_rpc_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Like ``go_rpc_port``, with ``rpc_auth`` set to ``s3cret`` (a config-file-only key)."""
    config = tmp_path_factory.mktemp("go-auth") / "agent.json"
    config.write_text('{"rpc_auth": "s3cret"}')
    yield from go_agent(f"-config-file={config}")


def go_agent(*extra: str) -> Iterator[int]:
    bind, rpc = free_port(), free_port()
    proc = subprocess.Popen(
        [
            "/usr/bin/serf",
            "agent",
            "-node=go1",
            f"-bind=127.0.0.1:{bind}",
            f"-rpc-addr=127.0.0.1:{rpc}",
            "-tag",
            "role=web",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", rpc), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("Go agent did not start") from None
                time.sleep(0.05)
        yield rpc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def p(*objs: object) -> bytes:
    return b"".join(msgpack.packb(o, use_bin_type=True) for o in objs)


HS = p({"Command": "handshake", "Seq": 1}, {"Version": 1})

CASES: dict[str, bytes] = {
    "members-before-handshake": p({"Command": "members", "Seq": 7}),
    "handshake-versions": p({"Command": "handshake", "Seq": 0}, {"Version": 2})
    + HS
    + p({"Command": "handshake", "Seq": 2}, {"Version": 1}),
    "unsupported-command": HS + p({"Command": "bogus", "Seq": 2}, {"X": 1}),
    "command-as-bin": HS + p({"Command": b"members", "Seq": 2}),
    "negative-seq": p({"Command": "handshake", "Seq": -5}, {"Version": 1}),
    "float-version": p({"Command": "handshake", "Seq": 1}, {"Version": 1.5}),
    "int-map-key": HS + p({1: 2}),
    "nil-header": HS + p(None),
    "header-as-array": p(["handshake", 3], {"Version": 1}, ["stats", 4]),
    "header-is-a-string": p("members"),
    "unknown-keys-ignored": HS
    + p({"Command": "get-coordinate", "Seq": 2, "X": [1]}, {"Node": "zz", "Y": 1}),
    "nil-body": HS + p({"Command": "get-coordinate", "Seq": 2}, None),
    "int-for-bool": HS + p({"Command": "event", "Seq": 2}, {"Name": "e", "Coalesce": 1}),
    "str-payload": HS + p({"Command": "event", "Seq": 2}, {"Name": "e", "Payload": "text"}),
    "bin-for-string-in-body": HS + p({"Command": "event", "Seq": 2}, {"Name": b"e"}),
    "float-timeout": HS + p({"Command": "query", "Seq": 2}, {"Name": "q", "Timeout": 1.5e9}),
    "oversized-event": HS
    + p({"Command": "event", "Seq": 2}, {"Name": "big", "Payload": b"x" * 600}),
    "bad-regex": HS + p({"Command": "members-filtered", "Seq": 2}, {"Status": "("}),
    "anchored-name": HS + p({"Command": "members-filtered", "Seq": 2}, {"Name": "go"}),
    "stream-errors": HS
    + p(
        {"Command": "stream", "Seq": 5},
        {"Type": "user"},
        {"Command": "stream", "Seq": 5},
        {"Type": "*"},
        {"Command": "stream", "Seq": 6},
        {"Type": "member-join, user"},
        {"Command": "stop", "Seq": 7},
        {"Stop": 5},
        {"Command": "stop", "Seq": 8},
        {"Stop": 99},
    ),
    "monitor-errors": HS + p({"Command": "monitor", "Seq": 2}, {"LogLevel": "bogus"}),
    "respond-unknown-id": HS + p({"Command": "respond", "Seq": 2}, {"ID": 9, "Payload": b"x"}),
    "internal-query-prefix": HS + p({"Command": "query", "Seq": 2}, {"Name": "_serf_x"}),
    "auth-without-rpc-auth": HS
    + p(
        {"Command": "auth", "Seq": 2},
        {"AuthKey": "x"},
        {"Command": "auth", "Seq": 3},
        {"AuthKey": ""},
    ),
    "bad-base64-key": HS + p({"Command": "install-key", "Seq": 2}, {"Key": "not-base64!"}),
    "unknown-coordinate": HS + p({"Command": "get-coordinate", "Seq": 2}, {"Node": "nosuch"}),
    "reserved-byte": HS + b"\xc1",
    "miscased-header-reuses-previous": HS + p({"command": "members", "seq": 5}, {"Version": 1}),
    "body-for-bodiless-command": HS + p({"Command": "members", "Seq": 2}, {"Name": "x"}),
    "ext-type-header": HS + p(msgpack.ExtType(1, b"x")),
    "huge-array-declared-small-sent": HS + b"\xdd\x00\x01\x00\x00" + b"\xc0" * 10,
    "truncated-then-eof": HS + b"\x82\xa7Command",
}


def normalise(obj: object) -> object:
    """Headers verbatim; other maps by key set; get-coordinate misses verbatim."""
    if isinstance(obj, dict) and set(obj) <= {"Error", "Seq"}:
        return obj
    if isinstance(obj, dict) and obj.get("Ok") is False:
        return obj
    if isinstance(obj, dict):
        return ("keys", tuple(sorted(map(str, obj))))
    return obj


async def outcome(port: int, data: bytes, idle: float = 0.6) -> tuple[list[object], bool]:
    """Send ``data``; collect frames until the agent closes or stays silent ``idle`` s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    unpacker = msgpack.Unpacker(raw=False)
    frames: list[object] = []
    closed = False
    try:
        writer.write(data)
        await writer.drain()
        while True:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), idle)
            except TimeoutError:
                break
            except ConnectionError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            unpacker.feed(chunk)
            frames.extend(normalise(o) for o in unpacker)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return frames, closed


Outcome = tuple[list[object], bool]


async def compare(ours: int, go: int, data: bytes, idle: float = 0.6) -> tuple[Outcome, Outcome]:
    """Both outcomes; on a mismatch, once more with a long idle window (a loaded machine
    can make either agent slower than the short window)."""
    first = await asyncio.gather(outcome(ours, data, idle), outcome(go, data, idle))
    if first[0] == first[1]:
        return first[0], first[1]
    second = await asyncio.gather(outcome(ours, data, 3.0), outcome(go, data, 3.0))
    return second[0], second[1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_our_agent_answers_like_go(go_rpc_port: int, case: str) -> None:
    async def scenario() -> None:
        async with serving() as (_, port):
            ours, go = await compare(port, go_rpc_port, CASES[case])
            assert ours == go

    asyncio.run(scenario())


def test_random_garbage_gets_the_same_fate_as_on_go(go_rpc_port: int) -> None:
    rng = random.Random(20261127)
    blobs = [HS + rng.randbytes(rng.randrange(1, 64)) for _ in range(12)]

    async def scenario() -> None:
        async with serving() as (_, port):
            for blob in blobs:
                ours, go = await compare(port, go_rpc_port, blob, 0.4)
                assert ours[1] == go[1], blob.hex()

    asyncio.run(scenario())


AUTH = p({"Command": "auth", "Seq": 2}, {"AuthKey": "s3cret"})
AUTH_CASES: dict[str, bytes] = {
    "command-before-auth": HS + p({"Command": "members", "Seq": 2}),
    "body-before-auth-is-read-as-a-header": HS
    + p({"Command": "event", "Seq": 2}, {"Name": "x", "Payload": b"y"}),
    "unknown-command-before-auth-stays-open": HS + p({"Command": "bogus", "Seq": 2}),
    "auth-before-handshake": AUTH,
    "wrong-then-right-token": HS
    + p({"Command": "auth", "Seq": 2}, {"AuthKey": "nope"})
    + AUTH
    + p({"Command": "stats", "Seq": 3}),
    "authenticated-unknown-command-closes": HS + AUTH + p({"Command": "bogus", "Seq": 3}),
}


@pytest.mark.parametrize("case", sorted(AUTH_CASES))
def test_auth_protected_agent_answers_like_go(go_auth_rpc_port: int, case: str) -> None:
    async def scenario() -> None:
        async with serving(auth_key="s3cret") as (_, port):
            ours, go = await compare(port, go_auth_rpc_port, AUTH_CASES[case])
            assert ours == go

    asyncio.run(scenario())
