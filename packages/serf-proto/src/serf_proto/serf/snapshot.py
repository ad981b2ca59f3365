"""The snapshot log: pure codec, replay and snapshotter bookkeeping (Go ``serf/snapshot.go``).

A snapshot is a text file of one record per line that lets a restarted node resume its Lamport
clocks (so it neither reuses old times nor replays old events) and rejoin the nodes it knew::

    alive: <name> <ip:port>      a member joined (name is everything before the last space)
    not-alive: <name>            a member left or failed
    clock: <n>                   member clock (last value used)
    event-clock: <n>             highest user-event time delivered
    query-clock: <n>             highest query time delivered
    leave                        this node left gracefully
    coordinate: <json>           written by old Go versions; ignored
    # ...                        comment; ignored

This module never touches files. :func:`parse_snapshot` turns the file's text into a
:class:`RecoveredState` for ``SerfNode(recovered=...)``, and :func:`rejoin_order` says which
recorded members a restarted node tries to rejoin, in which order. :class:`Snapshotter` mirrors
Go's snapshotter: the Serf node feeds it the events it emits and it answers with the lines to
append (the node puts them in a ``SnapshotAppend`` output) and, when the log has grown past its
threshold, with the compacted contents that should replace the file (``compact=True``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from serf_proto.types import Address

#: Expected bytes per alive node in a compacted snapshot (Go ``snapshotBytesPerNode``).
SNAPSHOT_BYTES_PER_NODE = 128
#: Compact when the log is this many times the expected size (Go ``snapshotCompactionThreshold``).
SNAPSHOT_COMPACTION_THRESHOLD = 2
#: Never compact a log smaller than this many bytes (Go ``snapshotSizeLimit``).
SNAPSHOT_SIZE_LIMIT = 128 * 1024
#: Seconds between checks whether the member clock advanced (Go ``clockUpdateInterval``).
CLOCK_UPDATE_INTERVAL = 0.5

logger = logging.getLogger("serf_proto.serf")


class SnapshotError(ValueError):
    """A snapshot record could not be parsed (the line is skipped on replay)."""


@dataclass(frozen=True, slots=True)
class PreviousNode:
    """A member the snapshot recorded, with its last address as written (``ip:port``).

    ``failed`` is true for a member last seen alive and then lost (``not-alive``).
    """

    name: str
    addr: str
    failed: bool = False

    def __str__(self) -> str:
        return f"{self.name}: {self.addr}"


@dataclass(frozen=True, slots=True)
class RecoveredState:
    """What a snapshot tells a restarting node.

    ``clock``/``event_clock``/``query_clock`` are the last values recorded (the node resumes at
    value + 1 and ignores events and queries at or below the recorded times); ``alive`` lists
    the members to try rejoining, in file order; ``failed`` the members last seen alive and then
    lost, with their last address (tried after ``alive`` with ``SerfConfig.rejoin_failed``);
    ``size`` is the length in bytes of the file's complete records (the snapshotter's starting
    offset; a torn last line is not counted); ``left`` is true when the last lifecycle record
    was a leave.
    """

    clock: int = 0
    event_clock: int = 0
    query_clock: int = 0
    alive: tuple[PreviousNode, ...] = ()
    failed: tuple[PreviousNode, ...] = ()
    size: int = 0
    left: bool = False
    warnings: tuple[str, ...] = ()


def parse_address(text: str) -> Address:
    """Parse Go's ``net.TCPAddr`` text (``1.2.3.4:7946`` or ``[::1]:7946``)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SnapshotError(f"bad address {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if number > 65535:
        raise SnapshotError(f"bad port in {text!r}")
    return Address(host, number)


def format_alive(name: str, addr: Address) -> str:
    """The ``alive:`` record for ``name`` at ``addr`` (no newline)."""
    return f"alive: {name} {addr}"


def format_not_alive(name: str) -> str:
    """The ``not-alive:`` record for ``name`` (no newline)."""
    return f"not-alive: {name}"


def format_clock(kind: str, value: int) -> str:
    """A ``clock:``, ``event-clock:`` or ``query-clock:`` record (``kind`` without colon)."""
    if kind not in ("clock", "event-clock", "query-clock"):
        raise ValueError(f"unknown clock kind {kind!r}")
    return f"{kind}: {value}"


LEAVE_RECORD = "leave"


def parse_snapshot(text: str, *, rejoin_after_leave: bool = False) -> RecoveredState:
    """Replay a snapshot file's text into a :class:`RecoveredState`.

    A final line without a newline is a torn write and is ignored, as are comments and
    ``coordinate:`` records; unparseable lines are skipped and reported in ``warnings``.
    Unless ``rejoin_after_leave``, a ``leave`` record forgets the alive nodes and resets all
    three clocks to 0 (later records still apply).
    """
    alive: dict[str, str] = {}
    failed: dict[str, str] = {}
    clocks = {"clock": 0, "event-clock": 0, "query-clock": 0}
    warnings: list[str] = []
    left = False
    lines = text.split("\n")
    for line in lines[:-1]:  # the last element is "" or a partial line
        if line.startswith("alive: "):
            info = line[len("alive: ") :]
            name, sep, addr = info.rpartition(" ")
            if not sep:
                warnings.append(f"Failed to parse address: {line}")
                continue
            alive[name] = addr
            failed.pop(name, None)
            left = False
        elif line.startswith("not-alive: "):
            name = line[len("not-alive: ") :]
            last = alive.pop(name, None)
            if last is not None:
                failed[name] = last
        elif line.startswith(("clock: ", "event-clock: ", "query-clock: ")):
            kind, _, value = line.partition(": ")
            if not value.isdigit() or int(value) >= 1 << 64:
                warnings.append(f"Failed to convert {kind}: {line}")
                continue
            clocks[kind] = int(value)
        elif line == LEAVE_RECORD:
            left = True
            if not rejoin_after_leave:
                alive.clear()
                failed.clear()
                clocks = dict.fromkeys(clocks, 0)
        elif line.startswith("coordinate: ") or line.startswith("#"):
            continue
        else:
            warnings.append(f"Unrecognized snapshot line: {line}")
    for w in warnings:
        logger.warning(w)
    return RecoveredState(
        clock=clocks["clock"],
        event_clock=clocks["event-clock"],
        query_clock=clocks["query-clock"],
        alive=tuple(PreviousNode(n, a) for n, a in alive.items()),
        failed=tuple(PreviousNode(n, a, failed=True) for n, a in failed.items()),
        size=len(text[: text.rfind("\n") + 1].encode()),
        left=left,
        warnings=tuple(warnings),
    )


def rejoin_order(
    state: RecoveredState, own_name: str, rng: random.Random, *, include_failed: bool = False
) -> list[PreviousNode]:
    """The members a restarted node tries to rejoin, one at a time, until one answers.

    As Go's ``AliveNodes``/``handleRejoin``: the members last seen alive (never ourselves) in
    random order. With ``include_failed`` (``SerfConfig.rejoin_failed``, not in Go) the members
    last seen failed follow, also shuffled, so a node whose peers all restarted elsewhere can
    still find one of them.
    """
    order = [p for p in state.alive if p.name != own_name]
    rng.shuffle(order)
    if include_failed:
        tail = [p for p in state.failed if p.name != own_name]
        rng.shuffle(tail)
        order.extend(tail)
    return order


def compaction_threshold(num_alive: int) -> int:
    """Bytes past which a snapshot log with ``num_alive`` alive nodes should be compacted."""
    return max(
        SNAPSHOT_BYTES_PER_NODE * SNAPSHOT_COMPACTION_THRESHOLD * num_alive, SNAPSHOT_SIZE_LIMIT
    )


def should_compact(size: int, num_alive: int) -> bool:
    """True when a log of ``size`` bytes has outgrown :func:`compaction_threshold`."""
    return size > compaction_threshold(num_alive)


@dataclass(slots=True)
class SnapshotUpdate:
    """Lines to append; when ``compact`` is set they replace the whole file instead."""

    lines: list[str]
    compact: bool = False


@dataclass(slots=True)
class Snapshotter:
    """Go's snapshotter state: what has been recorded, and how big the log is.

    With ``compaction`` off, it only ever returns lines to append (the writer compacts).

    Each ``record_*`` call returns the lines to append (possibly none). When an append pushes
    the log past the compaction threshold, the call instead returns the full compacted contents
    with ``compact=True``: the writer should replace the file with them.
    """

    rejoin_after_leave: bool = False
    alive: dict[str, str] = field(default_factory=dict)
    last_clock: int = 0
    last_event_clock: int = 0
    last_query_clock: int = 0
    leaving: bool = False
    offset: int = 0
    compaction: bool = True

    @classmethod
    def resume(
        cls, state: RecoveredState, *, rejoin_after_leave: bool = False, compaction: bool = True
    ) -> Snapshotter:
        """Continue the log a snapshot was parsed from."""
        return cls(
            compaction=compaction,
            rejoin_after_leave=rejoin_after_leave,
            alive={p.name: p.addr for p in state.alive},
            last_clock=state.clock,
            last_event_clock=state.event_clock,
            last_query_clock=state.query_clock,
            offset=state.size,
        )

    def record_join(self, name: str, addr: Address, member_clock: int) -> SnapshotUpdate:
        """A member joined; ``member_clock`` is the member clock's current time."""
        if self.leaving:
            return SnapshotUpdate([])
        text = str(addr)
        self.alive[name] = text
        return self._append([f"alive: {name} {text}", *self._clock_line(member_clock)])

    def record_gone(self, name: str, member_clock: int) -> SnapshotUpdate:
        """A member left or failed."""
        if self.leaving:
            return SnapshotUpdate([])
        self.alive.pop(name, None)
        return self._append([format_not_alive(name), *self._clock_line(member_clock)])

    def record_other_member_event(self, member_clock: int) -> SnapshotUpdate:
        """An update or reap: nothing about the member is recorded, only the clock."""
        if self.leaving:
            return SnapshotUpdate([])
        return self._append(self._clock_line(member_clock))

    def record_user_event(self, ltime: int) -> SnapshotUpdate:
        """A user event with Lamport time ``ltime`` was delivered."""
        if self.leaving or ltime <= self.last_event_clock:
            return SnapshotUpdate([])
        self.last_event_clock = ltime
        return self._append([format_clock("event-clock", ltime)])

    def record_query(self, ltime: int) -> SnapshotUpdate:
        """A query with Lamport time ``ltime`` was delivered (internal ones included)."""
        if self.leaving or ltime <= self.last_query_clock:
            return SnapshotUpdate([])
        self.last_query_clock = ltime
        return self._append([format_clock("query-clock", ltime)])

    def record_clock(self, member_clock: int) -> SnapshotUpdate:
        """The periodic clock check (every 0.5 s), recorded even after a leave."""
        return self._append(self._clock_line(member_clock))

    def record_leave(self) -> SnapshotUpdate:
        """This node is leaving: write ``leave`` and stop recording member and user events."""
        self.leaving = True
        if not self.rejoin_after_leave:
            self.alive.clear()
        return self._append([LEAVE_RECORD])

    def compacted(self) -> list[str]:
        """The compacted log: every alive node, then all three clocks."""
        lines = [f"alive: {name} {addr}" for name, addr in self.alive.items()]
        lines.append(format_clock("clock", self.last_clock))
        lines.append(format_clock("event-clock", self.last_event_clock))
        lines.append(format_clock("query-clock", self.last_query_clock))
        return lines

    def _clock_line(self, member_clock: int) -> list[str]:
        last_seen = member_clock - 1
        if last_seen > self.last_clock:
            self.last_clock = last_seen
            return [format_clock("clock", last_seen)]
        return []

    def _append(self, lines: list[str]) -> SnapshotUpdate:
        if not lines:
            return SnapshotUpdate([])
        self.offset += sum(len(line.encode()) + 1 for line in lines)
        if self.compaction and should_compact(self.offset, len(self.alive)):
            compact = self.compacted()
            self.offset = sum(len(line.encode()) + 1 for line in compact)
            return SnapshotUpdate(compact, compact=True)
        return SnapshotUpdate(lines)
