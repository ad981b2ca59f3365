"""A scripted stand-in for a sans-IO core: records every input, emits what the test queues."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from serf_proto.types import Address


@dataclass
class FakeCore:
    """Implements the driving API; tests push outputs with ``emit`` and read ``inputs``."""

    inputs: list[tuple[object, ...]] = field(default_factory=list)
    outbox: list[object] = field(default_factory=list)
    timer_at: float | None = None
    next_sid: int = 1000
    raise_on_packet: bool = False
    on_input: Callable[[tuple[object, ...]], None] | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def _record(self, entry: tuple[object, ...]) -> None:
        self.inputs.append(entry)
        if self.on_input is not None:
            self.on_input(entry)
        self.changed.set()

    def emit(self, *outputs: object) -> None:
        self.outbox.extend(outputs)

    def receive_packet(self, addr: Address, data: bytes, now: float) -> None:
        self._record(("packet", addr, data, now))
        if self.raise_on_packet:
            raise RuntimeError("scripted core bug")

    def accept_stream(self, addr: Address, now: float) -> int:
        self.next_sid += 1
        self._record(("accept", self.next_sid, addr, now))
        return self.next_sid

    def stream_connected(self, sid: int, now: float) -> None:
        self._record(("connected", sid, now))

    def stream_failed(self, sid: int, reason: str, now: float) -> None:
        self._record(("failed", sid, reason, now))

    def receive_stream_data(self, sid: int, data: bytes, now: float) -> None:
        self._record(("data", sid, data, now))

    def handle_timer(self, now: float) -> None:
        self._record(("timer", now))
        if self.timer_at is not None and now >= self.timer_at:
            self.timer_at = None

    def next_timer(self) -> float | None:
        return self.timer_at

    def take_outputs(self) -> list[object]:
        out, self.outbox = self.outbox, []
        return out

    def of_kind(self, kind: str) -> list[tuple[object, ...]]:
        return [entry for entry in self.inputs if entry[0] == kind]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait (at most ``timeout`` seconds) until ``predicate()`` holds after some input."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()
