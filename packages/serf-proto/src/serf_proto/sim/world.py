"""The simulated world: virtual time, one event heap, nodes, and their network.

Theory of operation
-------------------
Time is a float that jumps from one event to the next; nothing sleeps. The heap holds
``(at, seq, kind, node, a, b)`` tuples; ``seq`` breaks ties in insertion order, so a run is a
pure function of the seed. Each node is any object with the sans-IO driving API
(:class:`SimNode`: a bare ``Memberlist`` or a Serf node), built by a *factory*. After every
input the world *pumps* the node: it routes I/O commands into the network and records every
other output (events, operation results) in the trace. Each node has at most one live timer
entry; when its ``next_timer()`` changes after a pump, a new entry with a new generation is
pushed and older ones are skipped when they surface.

Randomness: the world derives every node's ``random.Random`` from the seed, the node name and
its instance number (restarts count up), and gives the network its own generator; nonces come
from the node's generator as well, so encryption stays deterministic.

Faults: :meth:`World.crash` removes a node (its packets vanish, streams to it are refused),
:meth:`World.restart` builds a fresh instance at the same address, :meth:`World.pause` stalls a
node like a long GC pause (inputs queue up and are handled, late, when it resumes), and the
network offers loss, latency, jitter, duplication, per-link overrides and partitions.

Determinism: :meth:`World.trace_hash` is a BLAKE2b digest of every recorded output and event
with its time and node (and of every datagram's bytes when ``trace_packets`` is set).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from serf_proto.driving import Core
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.sim.network import LinkSpec, Network
from serf_proto.types import Address

__all__ = ["NodeFactory", "SimNode", "SimStats", "TraceEntry", "World"]


SimNode = Core
"""The driving API every simulated node offers (``Memberlist``, ``SerfNode`` ...)."""

NodeFactory = Callable[["World", str, Address, random.Random, float], SimNode]
"""Builds a node: ``factory(world, name, addr, rng, now)``."""

# Event kinds (small ints are the cheapest to compare in the hot loop).
_TIMER = 0
_PACKET = 1
_ACCEPT = 2
_CONNECTED = 3
_DATA = 4
_FAILED = 5
_RESUME = 6
_CALL = 7


@dataclass(slots=True)
class SimStats:
    """Counters of one run."""

    events: int = 0
    deliveries: int = 0
    packets_sent: int = 0
    packets_lost: int = 0
    packets_to_nowhere: int = 0
    streams_opened: int = 0
    streams_refused: int = 0
    stream_bytes: int = 0


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One recorded output or event: when, which node, what."""

    at: float
    node: str
    item: Any


@dataclass(slots=True)
class _Slot:
    name: str
    addr: Address
    instance: int
    node: SimNode | None
    offset: float = 0.0
    timer_at: float | None = None
    timer_gen: int = 0
    paused_until: float | None = None
    backlog: list[tuple[int, Any, Any]] = field(default_factory=list)
    ephemeral_port: int = 40000


class World:
    """A deterministic simulation of many nodes on one virtual clock.

    Args:
        seed: the only source of randomness of the run.
        factory: the default node factory (``add_node`` may override it).
        link: default behaviour of every link.
        trace_packets: also hash every datagram's bytes into the trace (slower).
        tcp_loss: let link loss delay streams as TCP retransmissions would (default: streams
            are lossless).
        keep_trace: keep the recorded entries in :attr:`trace` (the hash is always kept).
    """

    def __init__(
        self,
        seed: int,
        factory: NodeFactory | None = None,
        *,
        link: LinkSpec | None = None,
        trace_packets: bool = False,
        keep_trace: bool = True,
        tcp_loss: bool = False,
    ) -> None:
        self.seed = seed
        self.factory = factory
        self.now = 0.0
        self.network = Network(random.Random(f"{seed}/network"), link, tcp_loss=tcp_loss)
        self.stats = SimStats()
        self.trace: list[TraceEntry] = []
        self.trace_packets = trace_packets
        self.keep_trace = keep_trace
        self.observers: list[Callable[[TraceEntry], None]] = []
        self._hash = hashlib.blake2b(digest_size=16)
        self._heap: list[tuple[float, int, int, int, Any, Any]] = []
        self._seq = 0
        self._slots: list[_Slot] = []
        self._by_name: dict[str, int] = {}
        self._by_addr: dict[Address, int] = {}
        # (node index, sid) -> (peer index, peer sid, peer instance)
        self._pipes: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._pipe_clock: dict[tuple[int, int], float] = {}
        self._calls: list[Callable[[], None]] = []

    # ------------------------------------------------------------------------------------------
    # nodes

    def add_node(
        self,
        name: str,
        addr: Address | None = None,
        *,
        factory: NodeFactory | None = None,
        clock_offset: float = 0.0,
    ) -> SimNode:
        """Create node ``name`` at ``addr`` (default ``10.x.y.z:7946``) and return it."""
        if name in self._by_name:
            raise ValueError(f"node {name!r} exists")
        index = len(self._slots)
        if addr is None:
            n = index + 1
            addr = Address(f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", 7946)
        if addr in self._by_addr:
            raise ValueError(f"address {addr} is taken")
        slot = _Slot(name, addr, 0, None, clock_offset)
        self._slots.append(slot)
        self._by_name[name] = index
        self._by_addr[addr] = index
        self._build(index, factory)
        node: SimNode = self.node(name)
        return node

    def _build(self, index: int, factory: NodeFactory | None) -> None:
        slot = self._slots[index]
        make = factory or self.factory
        if make is None:
            raise ValueError("no node factory given")
        rng = random.Random(f"{self.seed}/{slot.name}/{slot.instance}")
        slot.node = make(self, slot.name, slot.addr, rng, self.now + slot.offset)
        slot.timer_at = None
        slot.timer_gen += 1
        self._pump(index)

    def node(self, name: str) -> Any:
        """The current instance of node ``name`` (raises KeyError if crashed)."""
        node = self._slots[self._by_name[name]].node
        if node is None:
            raise KeyError(f"node {name!r} is not running")
        return node

    def address(self, name: str) -> Address:
        """The address of node ``name``."""
        return self._slots[self._by_name[name]].addr

    def names(self) -> list[str]:
        """Every node name, in the order they were added."""
        return [slot.name for slot in self._slots]

    def running(self) -> list[str]:
        """Names of nodes that are not crashed (paused ones included)."""
        return [slot.name for slot in self._slots if slot.node is not None]

    def is_running(self, name: str) -> bool:
        """Whether ``name`` is up (not crashed)."""
        return self._slots[self._by_name[name]].node is not None

    # ------------------------------------------------------------------------------------------
    # faults

    def crash(self, name: str) -> None:
        """Stop ``name`` abruptly: no leave, its pending inputs vanish, its streams break."""
        index = self._by_name[name]
        slot = self._slots[index]
        slot.node = None
        slot.instance += 1
        slot.timer_at = None
        slot.timer_gen += 1
        slot.paused_until = None
        slot.backlog.clear()
        for key in [k for k in self._pipes if k[0] == index]:
            peer, peer_sid, peer_instance = self._pipes.pop(key)
            self._pipe_clock.pop(key, None)
            delay = self.network.stream_delay(name, self._slots[peer].name)
            if delay is not None:
                self._push(self.now + delay, _DATA, peer, (peer_sid, peer_instance), b"")

    def restart(self, name: str, *, factory: NodeFactory | None = None) -> Any:
        """Start a fresh instance of a crashed ``name`` at its old address; returns it."""
        index = self._by_name[name]
        if self._slots[index].node is not None:
            self.crash(name)
        self._build(index, factory)
        return self.node(name)

    def pause(self, name: str, duration: float) -> None:
        """Stall ``name`` for ``duration`` seconds; inputs queue up until it resumes."""
        index = self._by_name[name]
        slot = self._slots[index]
        until = self.now + duration
        slot.paused_until = until
        self._push(until, _RESUME, index, slot.instance, None)

    def set_clock_offset(self, name: str, offset: float) -> None:
        """Make ``name``'s clock read ``offset`` seconds ahead of the world's."""
        slot = self._slots[self._by_name[name]]
        slot.offset = offset
        slot.timer_at = None
        slot.timer_gen += 1
        self._pump(self._by_name[name])

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the network into ``groups`` (see :meth:`Network.partition`)."""
        self.network.partition(*(tuple(g) for g in groups))

    def heal(self) -> None:
        """Remove the partition."""
        self.network.heal()

    # ------------------------------------------------------------------------------------------
    # commands and running

    def call(self, name: str, fn: Callable[[Any, float], Any]) -> Any:
        """Run ``fn(node, now)`` on ``name`` now (a command such as ``join``) and pump it."""
        index = self._by_name[name]
        slot = self._slots[index]
        if slot.node is None:
            raise KeyError(f"node {name!r} is not running")
        result = fn(slot.node, self.now + slot.offset)
        self._pump(index)
        return result

    def at(self, when: float, name: str, fn: Callable[[Any, float], Any]) -> None:
        """Schedule ``call(name, fn)`` at absolute time ``when`` (skipped if ``name`` is down)."""
        index = self._by_name[name]
        self._push(when, _CALL, index, None, fn)

    def run_for(self, duration: float) -> None:
        """Advance the clock by ``duration`` seconds."""
        self.run_until(self.now + duration)

    def run_until(
        self, until: float, stop: Callable[[], bool] | None = None, step: float = 1.0
    ) -> bool:
        """Process every event up to ``until``; with ``stop``, check it every ``step`` seconds
        and return True as soon as it holds (False if it never did)."""
        if stop is None:
            self._run(until)
            return False
        while self.now < until:
            self._run(min(self.now + step, until))
            if stop():
                return True
        return stop()

    def _push(self, at: float, kind: int, index: int, a: Any, b: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, index, a, b))

    def _run(self, until: float) -> None:
        heap = self._heap
        slots = self._slots
        pop = heapq.heappop
        stats = self.stats
        pump = self._pump
        while heap and heap[0][0] <= until:
            at, _, kind, index, a, b = pop(heap)
            self.now = at
            stats.events += 1
            slot = slots[index]
            node = slot.node
            if kind == _TIMER:
                if node is None or a != slot.timer_gen:
                    continue
                slot.timer_at = None
                if slot.paused_until is not None:
                    slot.backlog.append((kind, a, b))
                    continue
                node.handle_timer(at + slot.offset)
                pump(index)
                continue
            if kind == _PACKET:
                if node is None or a[1] != slot.instance:
                    continue
                if slot.paused_until is not None:
                    slot.backlog.append((kind, a, b))
                    continue
                stats.deliveries += 1
                node.receive_packet(a[0], b, at + slot.offset)
                pump(index)
                continue
            self._apply_other(kind, index, a, b)
        if until > self.now:
            self.now = until

    def _apply_other(self, kind: int, index: int, a: Any, b: Any) -> None:
        slot = self._slots[index]
        node = slot.node
        now = self.now
        if kind == _RESUME:
            if node is None or a != slot.instance or slot.paused_until is None:
                return
            if slot.paused_until > now:
                return  # a longer pause was requested meanwhile
            slot.paused_until = None
            backlog = slot.backlog
            slot.backlog = []
            for bkind, ba, bb in backlog:
                self._deliver(index, bkind, ba, bb)
            node.handle_timer(now + slot.offset)
            slot.timer_at = None
            slot.timer_gen += 1
            self._pump(index)
            return
        if kind == _CALL:
            if node is not None:
                b(node, now + slot.offset)
                self._pump(index)
            return
        if node is None:
            if kind == _ACCEPT:
                # The connection is refused; tell the opener after one more hop.
                src, src_sid, src_instance = a
                self._refuse(src, src_sid, src_instance, "connection refused")
            return
        if slot.paused_until is not None:
            slot.backlog.append((kind, a, b))
            return
        self._deliver(index, kind, a, b)

    def _deliver(self, index: int, kind: int, a: Any, b: Any) -> None:
        slot = self._slots[index]
        node = slot.node
        assert node is not None
        now = self.now + slot.offset
        if kind == _TIMER:
            pass  # a resume runs handle_timer anyway
        elif kind == _PACKET:
            if a[1] != slot.instance:
                return
            self.stats.deliveries += 1
            node.receive_packet(a[0], b, now)
        elif kind == _ACCEPT:
            src, src_sid, src_instance = a
            src_slot = self._slots[src]
            if src_slot.node is None or src_slot.instance != src_instance:
                return
            src_slot.ephemeral_port += 1
            peer_addr = Address(src_slot.addr.host, 40000 + src_slot.ephemeral_port % 20000)
            sid = node.accept_stream(peer_addr, now)
            self._pipes[(index, sid)] = (src, src_sid, src_instance)
            self._pipes[(src, src_sid)] = (index, sid, slot.instance)
            # The handshake's retries are already in the accept time; the reply takes one hop.
            back = self.network.link(slot.name, src_slot.name).latency
            self._push(self.now + back, _CONNECTED, src, (src_sid, src_instance), None)
        elif kind == _CONNECTED:
            sid, instance = a
            if instance != slot.instance or (index, sid) not in self._pipes:
                return
            node.stream_connected(sid, now)
        elif kind == _DATA:
            sid, instance = a
            if instance != slot.instance:
                return
            if not b:
                if self._pipes.pop((index, sid), None) is None:
                    return
                self._pipe_clock.pop((index, sid), None)
            elif (index, sid) not in self._pipes:
                return
            node.receive_stream_data(sid, b, now)
        elif kind == _FAILED:
            sid, instance = a
            if instance != slot.instance:
                return
            node.stream_failed(sid, b, now)
        self._pump(index)

    def _refuse(self, src: int, sid: int, instance: int, reason: str) -> None:
        src_slot = self._slots[src]
        delay = self.network.link(src_slot.name, src_slot.name).latency
        self.stats.streams_refused += 1
        self._push(self.now + delay, _FAILED, src, (sid, instance), reason)

    # ------------------------------------------------------------------------------------------
    # output routing

    def _pump(self, index: int) -> None:
        slot = self._slots[index]
        node = slot.node
        if node is None:
            return
        outputs = node.take_outputs()
        if outputs:
            self._route(index, slot, outputs)
        at = node.next_timer()
        if at is not None:
            at -= slot.offset
            if at < self.now:
                at = self.now
        if at != slot.timer_at:
            slot.timer_at = at
            slot.timer_gen += 1
            if at is not None:
                self._seq += 1
                heapq.heappush(self._heap, (at, self._seq, _TIMER, index, slot.timer_gen, None))

    def _route(self, index: int, slot: _Slot, outputs: Sequence[Any]) -> None:
        now = self.now
        by_addr = self._by_addr
        slots = self._slots
        network = self.network
        stats = self.stats
        for out in outputs:
            t = type(out)
            if t is SendPacket:
                stats.packets_sent += 1
                if self.trace_packets:
                    self._hash.update(out.data)
                dst = by_addr.get(out.addr)
                if dst is None:
                    stats.packets_to_nowhere += 1
                    continue
                dst_slot = slots[dst]
                delays = network.delays(slot.name, dst_slot.name)
                if not delays:
                    stats.packets_lost += 1
                    continue
                key = (slot.addr, dst_slot.instance)
                for delay in delays:
                    self._seq += 1
                    heapq.heappush(
                        self._heap, (now + delay, self._seq, _PACKET, dst, key, out.data)
                    )
            elif t is SendStream:
                self._send_stream(index, out.sid, out.data)
            elif t is OpenStream:
                self._open_stream(index, slot, out)
            elif t is CloseStream:
                self._send_stream(index, out.sid, b"")
            else:
                self._record(slot.name, out)

    def _open_stream(self, index: int, slot: _Slot, out: OpenStream) -> None:
        self.stats.streams_opened += 1
        dst = self._by_addr.get(out.addr)
        if dst is None:
            self._push(
                self.now + out.timeout, _FAILED, index, (out.sid, slot.instance), "i/o timeout"
            )
            return
        dst_name = self._slots[dst].name
        delay = self.network.connect_delay(slot.name, dst_name)
        if delay is None or delay > out.timeout:
            self._push(
                self.now + out.timeout, _FAILED, index, (out.sid, slot.instance), "i/o timeout"
            )
            return
        self._push(self.now + delay, _ACCEPT, dst, (index, out.sid, slot.instance), delay)

    def _send_stream(self, index: int, sid: int, data: bytes) -> None:
        key = (index, sid)
        pipe = self._pipes.get(key)
        if pipe is None:
            return
        peer, peer_sid, peer_instance = pipe
        if not data:
            del self._pipes[key]
        self.stats.stream_bytes += len(data)
        delay = self.network.stream_delay(self._slots[index].name, self._slots[peer].name)
        if delay is None:
            # The partition cut the connection: both ends see it break.
            self._pipes.pop(key, None)
            self._pipes.pop((peer, peer_sid), None)
            self._pipe_clock.pop(key, None)
            self._pipe_clock.pop((peer, peer_sid), None)
            instance = self._slots[index].instance
            if data:
                self._push(self.now, _FAILED, index, (sid, instance), "connection reset")
            self._push(self.now, _FAILED, peer, (peer_sid, peer_instance), "connection reset")
            return
        # Stream bytes arrive in order: never before the previous chunk on this pipe.
        at = max(self.now + delay, self._pipe_clock.get(key, 0.0))
        if data:
            self._pipe_clock[key] = at
        else:
            self._pipe_clock.pop(key, None)
        self._push(at, _DATA, peer, (peer_sid, peer_instance), data)

    # ------------------------------------------------------------------------------------------
    # trace

    def record(self, node: str, item: Any) -> None:
        """Add ``item`` (an event or result) from ``node`` to the trace at the current time."""
        self._hash.update(f"{self.now:.9f}|{node}|{item!r}\n".encode())
        entry = TraceEntry(self.now, node, item)
        if self.keep_trace:
            self.trace.append(entry)
        for observer in self.observers:
            observer(entry)

    def _record(self, node: str, item: Any) -> None:
        self.record(node, item)

    def trace_hash(self) -> str:
        """Hex digest of everything recorded so far."""
        return self._hash.hexdigest()
