"""What every Serf sub-machine shares: the node's identity, clocks, timers, outbox and stats.

A :class:`~serf_proto.serf.node.SerfNode` is a thin orchestrator over small sub-machines
(queries, internal queries, key operations, leave, joins, the event pipeline, membership,
broadcasts, coordinates). They do not reach into each other; what they have in common lives
in one :class:`NodeContext`, built once by the node and handed to each of them:

* ``config``, ``name``, ``rng`` and the ``Memberlist`` the node owns;
* the three Lamport clocks (member, event, query);
* ``timers``: one deadline queue whose keys are the timer values of
  :mod:`serf_proto.serf.timers`;
* ``out``: the ordered outbox (``take_outputs`` swaps it for a fresh list, so a sub-machine
  never keeps a reference to it);
* ``stats``: drops by reason and Go's metric counters;
* ``log``: a per-node logger (every record carries ``extra={"node": name}``);
* ``tags``: our current tags (gossiped as memberlist node meta, matched by query filters);
* ``state``: the node's lifecycle, read by every machine and written by the node and the
  leave machine only.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from serf_proto.drops import DropReason
from serf_proto.errors import InvalidState
from serf_proto.events import Event
from serf_proto.memberlist.core import Memberlist
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.serf.config import SerfConfig
from serf_proto.serf.lamport import LamportClock
from serf_proto.serf.timers import SerfTimer
from serf_proto.timers import TimerQueue

__all__ = ["NodeContext", "NodeLogger", "Output", "SerfState", "SerfStats"]

Output = SendPacket | OpenStream | SendStream | CloseStream | Event


class SerfState(IntEnum):
    """The local node's lifecycle (Go ``SerfState``)."""

    ALIVE = 0
    LEAVING = 1
    LEFT = 2
    SHUTDOWN = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(slots=True)
class SerfStats:
    """What the Serf layer counts: refused remote input by
    :class:`~serf_proto.drops.DropReason` (its values are the agent's metric labels), Go's
    metric counters (names without the ``serf.`` prefix, e.g. ``member.flap``) and timers
    that fired after what they were for had ended (harmless no-ops)."""

    dropped: Counter[DropReason] = field(default_factory=Counter)
    counters: dict[str, int] = field(default_factory=dict)
    stale_timers: int = 0

    def drop(self, reason: DropReason) -> None:
        """Count one refused input."""
        self.dropped[reason] += 1

    def count(self, name: str) -> None:
        """Bump one of Go's metric counters."""
        self.counters[name] = self.counters.get(name, 0) + 1


class NodeLogger(logging.LoggerAdapter[logging.Logger]):
    """The Serf layer's logger for one node: every record carries the node's name as the
    ``node`` attribute (``extra``), and the message text stays Go's."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        """Attach ``node`` to the record without touching the message."""
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class NodeContext:
    """The shared plumbing of one node's sub-machines; see the module docstring."""

    __slots__ = (
        "_next_op",
        "clock",
        "config",
        "event_clock",
        "log",
        "ml",
        "name",
        "out",
        "query_clock",
        "rng",
        "state",
        "stats",
        "tags",
        "timers",
    )

    #: the membership core; set by the node right after the sub-machines exist.
    ml: Memberlist

    def __init__(self, config: SerfConfig, rng: random.Random) -> None:
        self.config = config
        self.name = config.node_name
        self.rng = rng
        self.log = NodeLogger(logging.getLogger("serf_proto.serf"), {"node": self.name})
        self.out: list[Output] = []
        self.timers: TimerQueue[SerfTimer] = TimerQueue()
        self.stats = SerfStats()
        self.state = SerfState.ALIVE
        self.tags: dict[str, str] = dict(config.tags)
        self.clock = LamportClock()
        self.event_clock = LamportClock()
        self.query_clock = LamportClock()
        self.clock.increment()
        self.event_clock.increment()
        self.query_clock.increment()
        self._next_op = 0

    def new_op(self) -> int:
        """The next op id (joins, leaves, queries and key operations share one counter)."""
        self._next_op += 1
        return self._next_op

    def require_running(self) -> None:
        """Raise ``InvalidState`` once the node is shut down."""
        if self.state is SerfState.SHUTDOWN:
            raise InvalidState("Serf is shut down")
