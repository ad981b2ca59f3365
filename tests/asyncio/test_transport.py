"""The asyncio binding carries out a core's I/O commands on real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from serf_asyncio.transport import Transport
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.types import Address

from tests.asyncio.conftest import Runner
from tests.asyncio.fake_core import FakeCore
from tests.conftest import require_ipv6_loopback


@asynccontextmanager
async def bound(host: str = "127.0.0.1") -> AsyncIterator[tuple[FakeCore, Transport, list[object]]]:
    core = FakeCore()
    events: list[object] = []
    transport = Transport(core, events.append)
    await transport.start(host, 0)
    try:
        yield core, transport, events
    finally:
        await transport.close()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_udp_and_tcp_listen_on_the_same_port(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with bound() as (_, transport, _events):
            assert transport.local_address is not None
            port = transport.local_address.port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(OSError):
                udp.bind(("127.0.0.1", port))
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()

    run_on_loop(body())


def test_a_packet_reaches_the_peer_core_from_the_senders_gossip_port(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _), bound() as (b, tb, _):
            assert ta.local_address and tb.local_address
            a.emit(SendPacket(tb.local_address, b"\x00hello"))
            ta.pump()
            await b.wait_until(lambda: bool(b.of_kind("packet")))
            (_, src, data, _now) = b.of_kind("packet")[0]
            assert data == b"\x00hello"
            assert src == ta.local_address
            assert ta.stats.packets_sent == 1
            assert tb.stats.packets_received == 1

    run_on_loop(body())


def test_a_stream_round_trip_connects_delivers_replies_and_closes(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _), bound() as (b, tb, _):
            assert tb.local_address
            a.emit(OpenStream(7, tb.local_address, 2.0), SendStream(7, b"request"))
            ta.pump()
            await a.wait_until(lambda: bool(a.of_kind("connected")))
            await b.wait_until(
                lambda: (
                    b"request"
                    in b"".join(e[2] for e in b.of_kind("data") if isinstance(e[2], bytes))
                )
            )
            sid = b.of_kind("accept")[0][1]
            assert isinstance(sid, int)
            b.emit(SendStream(sid, b"reply"), CloseStream(sid))
            tb.pump()
            await a.wait_until(lambda: (7, b"") in [(e[1], e[2]) for e in a.of_kind("data")])
            received = b"".join(e[2] for e in a.of_kind("data") if isinstance(e[2], bytes))
            assert received == b"reply"
            assert not a.of_kind("failed") and not b.of_kind("failed")

    run_on_loop(body())


def test_closing_a_stream_delivers_eof_to_the_peer_core(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _), bound() as (b, tb, _):
            assert tb.local_address
            a.emit(
                OpenStream(9, tb.local_address, 2.0), SendStream(9, b"last words"), CloseStream(9)
            )
            ta.pump()
            await b.wait_until(lambda: any(e[2] == b"" for e in b.of_kind("data")))
            received = b"".join(e[2] for e in b.of_kind("data") if isinstance(e[2], bytes))
            assert received == b"last words"

    run_on_loop(body())


def test_a_refused_connection_is_reported_to_the_core_as_a_failed_stream(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _):
            a.emit(OpenStream(3, Address("127.0.0.1", free_tcp_port()), 2.0))
            ta.pump()
            await a.wait_until(lambda: bool(a.of_kind("failed")))
            (_, sid, reason, _now) = a.of_kind("failed")[0]
            assert sid == 3
            assert "connection refused" in str(reason)
            assert ta.stats.stream_connect_failures == 1

    run_on_loop(body())


def test_a_connect_that_exceeds_its_timeout_fails_with_an_io_timeout(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _), bound() as (_b, tb, _):
            assert tb.local_address
            a.emit(OpenStream(4, tb.local_address, 0.0))
            ta.pump()
            await a.wait_until(lambda: bool(a.of_kind("failed")))
            assert "i/o timeout" in str(a.of_kind("failed")[0][2])

    run_on_loop(body())


def test_the_timer_fires_once_at_or_after_the_deadline_the_core_asks_for(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _):
            deadline = ta.loop.time() + 0.05
            a.timer_at = deadline
            ta.pump()
            await a.wait_until(lambda: bool(a.of_kind("timer")))
            (_, now) = a.of_kind("timer")[0]
            assert isinstance(now, float) and now >= deadline
            assert ta.loop.time() >= deadline - 0.01
            # Re-arming to an earlier deadline replaces the pending timer.
            later = ta.loop.time() + 30.0
            a.timer_at = later
            ta.pump()
            sooner = ta.loop.time() + 0.02
            a.timer_at = sooner
            ta.pump()
            await a.wait_until(lambda: len(a.of_kind("timer")) == 2)
            assert a.of_kind("timer")[1][1] >= sooner  # type: ignore[operator]

    run_on_loop(body())


def test_time_passed_to_the_core_never_goes_backwards(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _), bound() as (b, tb, _):
            assert ta.local_address
            b.timer_at = tb.loop.time() + 0.01
            tb.pump()
            for i in range(20):
                b.emit(SendPacket(ta.local_address, bytes([i + 1])))
                tb.pump()
            await a.wait_until(lambda: len(a.of_kind("packet")) == 20)
            nows = [e[-1] for e in a.inputs]
            assert nows == sorted(nows)  # type: ignore[type-var]

    run_on_loop(body())


def test_events_go_to_the_output_callback_in_outbox_order(run_on_loop: Runner) -> None:
    async def body() -> None:
        async with bound() as (a, ta, events):
            a.emit("first", "second", "third")
            ta.pump()
            assert events == ["first", "second", "third"]

    run_on_loop(body())


def test_a_core_that_raises_is_logged_and_counted_and_the_binding_keeps_running(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        async with bound() as (a, ta, _), bound() as (b, tb, _):
            assert tb.local_address
            b.raise_on_packet = True
            a.emit(SendPacket(tb.local_address, b"x"))
            ta.pump()
            await b.wait_until(lambda: bool(b.of_kind("packet")))
            assert tb.stats.core_errors == 1
            b.raise_on_packet = False
            a.emit(SendPacket(tb.local_address, b"y"))
            ta.pump()
            await b.wait_until(lambda: len(b.of_kind("packet")) == 2)

    run_on_loop(body())


def test_ipv6_nodes_exchange_packets_and_streams(run_on_loop: Runner) -> None:
    require_ipv6_loopback()

    async def body() -> None:
        async with bound("::1") as (a, ta, _), bound("::1") as (b, tb, _):
            assert ta.local_address and tb.local_address
            assert str(tb.local_address).startswith("[::1]:")
            a.emit(SendPacket(tb.local_address, b"v6"), OpenStream(1, tb.local_address, 2.0))
            ta.pump()
            await b.wait_until(lambda: bool(b.of_kind("packet")) and bool(b.of_kind("accept")))
            assert b.of_kind("packet")[0][1] == ta.local_address
            await a.wait_until(lambda: bool(a.of_kind("connected")))

    run_on_loop(body())


def test_a_dual_stack_node_reaches_an_ipv4_peer(run_on_loop: Runner) -> None:
    require_ipv6_loopback()

    async def body() -> None:
        async with bound("::") as (a, ta, _), bound("127.0.0.1") as (b, tb, _):
            assert tb.local_address and ta.local_address
            a.emit(SendPacket(tb.local_address, b"to-v4"))
            ta.pump()
            await b.wait_until(lambda: bool(b.of_kind("packet")))
            assert b.of_kind("packet")[0][1] == Address("127.0.0.1", ta.local_address.port)

    run_on_loop(body())


def test_an_ipv4_wildcard_bind_is_dual_stack_like_go(run_on_loop: Runner) -> None:
    require_ipv6_loopback()

    async def body() -> None:
        async with (
            bound("0.0.0.0") as (w, tw, _),
            bound("127.0.0.1") as (v4, t4, _),
            bound("::1") as (v6, t6, _),
        ):
            assert tw.local_address and t4.local_address and t6.local_address
            assert tw.local_address.host == "0.0.0.0"
            port = tw.local_address.port
            v4.emit(SendPacket(Address("127.0.0.1", port), b"over v4"))
            t4.pump()
            v6.emit(SendPacket(Address("::1", port), b"over v6"))
            t6.pump()
            await w.wait_until(lambda: len(w.of_kind("packet")) == 2)
            sources = {e[1] for e in w.of_kind("packet")}
            assert sources == {t4.local_address, t6.local_address}
            w.emit(SendPacket(t4.local_address, b"back to v4"))
            tw.pump()
            await v4.wait_until(lambda: bool(v4.of_kind("packet")))

    run_on_loop(body())


#: Addresses a fuzz-invented member can carry; the OS or the loop refuses each.
REFUSED_ADDRESSES = [
    Address("", 7946),
    Address("1.2.3", 7946),
    Address("::ffff:", 7946),
    Address("fe80::1%nosuchif", 7946),
    Address("not an address", 1),
]


def test_sends_to_addresses_the_os_or_loop_refuses_are_counted_and_never_escape(
    run_on_loop: Runner,
) -> None:
    async def body() -> None:
        escaped: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: escaped.append(ctx))
        async with bound() as (a, ta, _), bound() as (b, tb, _):
            assert tb.local_address
            # Emitted from the timer callback, where the failure was first seen.
            a.timer_at = ta.loop.time() + 0.01
            a.emit(*(SendPacket(addr, b"x") for addr in REFUSED_ADDRESSES))
            a.emit(*(OpenStream(1 + i, addr, 1.0) for i, addr in enumerate(REFUSED_ADDRESSES)))
            a.emit(SendPacket(tb.local_address, b"after"))
            ta.pump()
            await b.wait_until(lambda: bool(b.of_kind("packet")))

            def settled() -> int:
                return len(a.of_kind("failed")) + len(a.of_kind("connected"))

            await a.wait_until(lambda: settled() == len(REFUSED_ADDRESSES))
            assert ta.stats.packet_send_errors >= len(REFUSED_ADDRESSES) - 1  # "" may be legal
            assert ta.stats.core_errors == 0
            await a.wait_until(lambda: bool(a.of_kind("timer")))
        assert escaped == []

    run_on_loop(body())
