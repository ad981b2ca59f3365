"""The driving API shared by every sans-IO core (``Memberlist``, ``SerfNode``).

A binding (asyncio, threads, the simulator) needs nothing else to run a core: feed it inputs
with ``now`` (absolute monotonic seconds), drain ``take_outputs()`` after each input, and call
``handle_timer`` once ``next_timer()`` has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from serf_proto.types import Address

__all__ = ["Core"]


class Core(Protocol):
    """What a binding drives: inputs carrying ``now``, one deadline, and an ordered outbox."""

    def receive_packet(self, addr: Address, data: bytes, now: float) -> None: ...

    def accept_stream(self, addr: Address, now: float) -> int: ...

    def stream_connected(self, sid: int, now: float) -> None: ...

    def stream_failed(self, sid: int, reason: str, now: float) -> None: ...

    def receive_stream_data(self, sid: int, data: bytes, now: float) -> None: ...

    def handle_timer(self, now: float) -> None: ...

    def next_timer(self) -> float | None: ...

    def take_outputs(self) -> Sequence[Any]: ...
