"""The simulator itself: virtual time, network faults, streams, crash/pause, determinism."""

from __future__ import annotations

import random
from typing import Any

import pytest
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.sim import LinkSpec, World
from serf_proto.types import Address


class Echo:
    """A minimal node: records what arrives; commands queue outputs; an optional ticker."""

    def __init__(
        self, world: World, name: str, addr: Address, rng: random.Random, now: float
    ) -> None:
        self.name = name
        self.rng = rng
        self.received: list[tuple[float, Address, bytes]] = []
        self.stream_log: list[tuple[float, str, int, bytes]] = []
        self.ticks: list[float] = []
        self.tick_every: float | None = None
        self.next_tick: float | None = None
        self.out: list[Any] = []
        self.sid = 0
        self.started = now

    def send(self, addr: Address, data: bytes) -> None:
        self.out.append(SendPacket(addr, data))

    def open(self, addr: Address) -> int:
        self.sid += 1
        self.out.append(OpenStream(self.sid, addr, 5.0))
        return self.sid

    def receive_packet(self, addr: Address, data: bytes, now: float) -> None:
        self.received.append((now, addr, data))

    def accept_stream(self, addr: Address, now: float) -> int:
        self.sid += 1
        self.stream_log.append((now, "accept", self.sid, b""))
        return self.sid

    def stream_connected(self, sid: int, now: float) -> None:
        self.stream_log.append((now, "connected", sid, b""))

    def stream_failed(self, sid: int, reason: str, now: float) -> None:
        self.stream_log.append((now, "failed:" + reason, sid, b""))

    def receive_stream_data(self, sid: int, data: bytes, now: float) -> None:
        self.stream_log.append((now, "data", sid, data))

    def handle_timer(self, now: float) -> None:
        if self.next_tick is not None and now >= self.next_tick:
            self.ticks.append(now)
            assert self.tick_every is not None
            self.next_tick += self.tick_every
            self.out.append(("tick", self.name))

    def next_timer(self) -> float | None:
        return self.next_tick

    def take_outputs(self) -> list[Any]:
        out, self.out = self.out, []
        return out


def world_of(*names: str, seed: int = 1, link: LinkSpec | None = None) -> World:
    world = World(seed=seed, factory=Echo, link=link)
    for name in names:
        world.add_node(name)
    return world


def echo(world: World, name: str) -> Echo:
    node = world.node(name)
    assert isinstance(node, Echo)
    return node


def send(world: World, src: str, dst: str, data: bytes) -> None:
    addr = world.address(dst)
    world.call(src, lambda node, now: node.send(addr, data))


def test_a_datagram_arrives_after_the_link_latency_from_the_senders_address() -> None:
    world = world_of("a", "b", link=LinkSpec(latency=0.25))
    send(world, "a", "b", b"hi")
    world.run_for(0.2)
    assert echo(world, "b").received == []
    world.run_for(0.1)
    assert echo(world, "b").received == [(0.25, world.address("a"), b"hi")]
    assert world.stats.deliveries == 1


def test_loss_drops_about_the_configured_share_of_datagrams() -> None:
    world = world_of("a", "b", link=LinkSpec(loss=0.2))
    for i in range(5000):
        send(world, "a", "b", i.to_bytes(2, "big"))
    world.run_for(1.0)
    delivered = len(echo(world, "b").received)
    assert 0.77 * 5000 < delivered < 0.83 * 5000
    assert world.stats.packets_lost == 5000 - delivered


def test_duplication_delivers_some_datagrams_twice() -> None:
    world = world_of("a", "b", link=LinkSpec(duplicate=0.5))
    for i in range(1000):
        send(world, "a", "b", i.to_bytes(2, "big"))
    world.run_for(1.0)
    assert 1400 < len(echo(world, "b").received) < 1600


def test_jitter_reorders_datagrams() -> None:
    world = world_of("a", "b", link=LinkSpec(latency=0.01, jitter=0.05))
    for i in range(100):
        send(world, "a", "b", bytes([i]))
    world.run_for(1.0)
    order = [data[0] for _, _, data in echo(world, "b").received]
    assert sorted(order) == list(range(100)) and order != list(range(100))


def test_a_link_override_can_be_asymmetric() -> None:
    world = world_of("a", "b")
    world.network.set_link("a", "b", LinkSpec(loss=1.0), symmetric=False)
    send(world, "a", "b", b"lost")
    send(world, "b", "a", b"kept")
    world.run_for(1.0)
    assert echo(world, "b").received == []
    assert [d for _, _, d in echo(world, "a").received] == [b"kept"]


def test_a_partition_blocks_traffic_between_groups_until_healed() -> None:
    world = world_of("a", "b", "c")
    world.partition(["a"], ["b", "c"])
    send(world, "a", "b", b"x")
    send(world, "b", "c", b"y")
    world.run_for(1.0)
    assert echo(world, "b").received == []
    assert [d for _, _, d in echo(world, "c").received] == [b"y"]
    world.heal()
    send(world, "a", "b", b"z")
    world.run_for(1.0)
    assert [d for _, _, d in echo(world, "b").received] == [b"z"]


def test_a_stream_connects_carries_bytes_in_order_and_closes() -> None:
    world = world_of("a", "b", link=LinkSpec(latency=0.01, jitter=0.02))
    addr_b = world.address("b")
    sid = world.call("a", lambda node, now: node.open(addr_b))
    world.run_for(1.0)
    kinds = [entry[1] for entry in echo(world, "a").stream_log]
    assert kinds == ["connected"]
    (accept,) = echo(world, "b").stream_log
    bsid = accept[2]

    def write(node: Echo, now: float) -> None:
        node.out.extend(SendStream(sid, bytes([i])) for i in range(20))
        node.out.append(CloseStream(sid))

    world.call("a", write)
    world.run_for(1.0)
    log = echo(world, "b").stream_log[1:]
    assert [e[3] for e in log] == [bytes([i]) for i in range(20)] + [b""]
    assert all(e[2] == bsid for e in log)


def test_a_stream_to_a_crashed_node_is_refused_and_across_a_partition_times_out() -> None:
    world = world_of("a", "b", "c")
    world.crash("b")
    addr_b, addr_c = world.address("b"), world.address("c")
    world.call("a", lambda node, now: node.open(addr_b))
    world.partition(["a"], ["c"])
    world.call("a", lambda node, now: node.open(addr_c))
    world.run_for(10.0)
    log = echo(world, "a").stream_log
    assert [(e[1], e[2]) for e in log] == [
        ("failed:connection refused", 1),
        ("failed:i/o timeout", 2),
    ]
    assert log[1][0] == pytest.approx(5.0)


def test_a_crashed_node_gets_nothing_and_a_restart_is_a_fresh_instance() -> None:
    world = world_of("a", "b")
    old = echo(world, "b")
    send(world, "a", "b", b"one")
    world.crash("b")
    world.run_for(1.0)
    assert old.received == [] and not world.is_running("b")
    world.restart("b")
    assert echo(world, "b") is not old
    send(world, "a", "b", b"two")
    world.run_for(1.0)
    assert [d for _, _, d in echo(world, "b").received] == [b"two"]


def test_a_paused_node_handles_queued_inputs_and_late_timers_when_it_resumes() -> None:
    world = world_of("a", "b")

    def start_ticking(node: Echo, now: float) -> None:
        node.tick_every = 1.0
        node.next_tick = now + 1.0

    world.call("b", start_ticking)
    world.run_for(1.5)
    world.pause("b", 3.0)
    send(world, "a", "b", b"while paused")
    world.run_for(5.0)
    b = echo(world, "b")
    assert [t for t, _, _ in b.received] == [4.5]
    assert b.ticks[:2] == [1.0, 4.5]


def test_clock_offsets_shift_what_a_node_reads_but_not_when_things_happen() -> None:
    world = world_of("a", "b")
    world.set_clock_offset("b", 100.0)
    send(world, "a", "b", b"x")
    world.run_for(1.0)
    ((t, _, _),) = echo(world, "b").received
    assert t == pytest.approx(100.001)


def test_the_same_seed_replays_the_same_run() -> None:
    def run(seed: int) -> tuple[str, list[tuple[float, bytes]]]:
        world = world_of("a", "b", seed=seed, link=LinkSpec(loss=0.3, jitter=0.01))
        world.trace_packets = True
        for i in range(50):
            send(world, "a", "b", bytes([i]))
        world.call("a", lambda node, now: node.out.append(("marker", now)))
        world.run_for(1.0)
        return world.trace_hash(), [(t, d) for t, _, d in echo(world, "b").received]

    assert run(3) == run(3)
    assert run(3)[1] != run(4)[1]  # another seed loses and delays other datagrams


def test_names_and_addresses_must_be_unique() -> None:
    world = world_of("a")
    with pytest.raises(ValueError, match="exists"):
        world.add_node("a")
    with pytest.raises(ValueError, match="taken"):
        world.add_node("z", world.address("a"))


def test_with_tcp_loss_lost_handshakes_delay_a_connection_by_syn_timeouts() -> None:
    world = World(seed=2, factory=Echo, link=LinkSpec(loss=0.5, latency=0.01), tcp_loss=True)
    world.add_node("a")
    world.add_node("b")
    addr_b = world.address("b")
    for _ in range(40):
        world.call("a", lambda node, now: node.open(addr_b))
    world.run_for(10.0)
    log = echo(world, "a").stream_log
    connected = sorted(t for t, kind, _, _ in log if kind == "connected")
    failed = [t for t, kind, _, _ in log if kind.startswith("failed")]
    assert connected and connected[0] == pytest.approx(0.02)
    assert any(t > 1.0 for t in connected)  # retried after the 1 s SYN timeout
    assert all(t == pytest.approx(5.0) for t in failed)  # gave up at the OpenStream timeout
    assert len(connected) + len(failed) == 40


def test_without_tcp_loss_streams_ignore_datagram_loss() -> None:
    world = world_of("a", "b", link=LinkSpec(loss=0.5, latency=0.01))
    addr_b = world.address("b")
    for _ in range(20):
        world.call("a", lambda node, now: node.open(addr_b))
    world.run_for(1.0)
    log = echo(world, "a").stream_log
    assert [kind for _, kind, _, _ in log] == ["connected"] * 20
