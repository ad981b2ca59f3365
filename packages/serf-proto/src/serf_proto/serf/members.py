"""The Serf member table: statuses, intents and the recent-intent buffer (Go ``serf/serf.go``).

Memberlist tells Serf only whether a node is reachable; Serf adds *why* a node went away. A
member is ``alive`` while memberlist says so, becomes ``leaving`` when a leave intent (a gossiped
``messageLeave``) arrives, and when memberlist then reports the node gone it becomes ``left``
(graceful) or, without an intent, ``failed``. Each member carries ``status_ltime``, the member
clock time of the last intent applied to it; intents at or below it are stale and ignored,
which is what makes the gossiped intents idempotent.

Intents can overtake the memberlist alive message that introduces a node. They are then kept
in the *recent-intent buffer* (one per node, the one with the highest Lamport time) and applied
when the node appears; the reaper drops buffered intents after ``recent_intent_timeout``.

Failed members are retried by the reconnector and erased after ``reconnect_timeout``; left
members are kept as tombstones for ``tombstone_timeout`` so push/pull can tell others they
left, then erased. Erasing a member emits ``member-reap``.

This module holds the data and the transition rules only; the node applies the results
(events, broadcasts, pruning timers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from serf_proto.memberlist.state import SharedNodes
from serf_proto.shared_table import SharedTable
from serf_proto.types import Address, Member, MemberStatus

#: Go's ``ReconnectTimeoutOverride``: ``(member, default timeout) -> its timeout`` (seconds).
TimeoutOverride = Callable[[Member, float], float]


class IntentType(IntEnum):
    """The kind of a buffered intent; values are the Serf message types."""

    LEAVE = 0
    JOIN = 1


@dataclass(slots=True)
class Intent:
    """A join/leave intent for a node we do not know yet (``at`` is local seconds)."""

    type: IntentType
    ltime: int
    at: float


@dataclass(slots=True)
class MemberState:
    """Mutable state of one member; :meth:`view` gives the public read-only snapshot."""

    name: str
    addr: Address
    tags: dict[str, str]
    status: MemberStatus
    protocol: tuple[int, int, int] = (1, 5, 2)
    delegate: tuple[int, int, int] = (2, 5, 4)
    status_ltime: int = 0
    leave_time: float | None = None

    def copy(self) -> MemberState:
        """An independent member with the same fields (copy-on-write of a shared table)."""
        return MemberState(
            self.name,
            self.addr,
            self.tags,
            self.status,
            self.protocol,
            self.delegate,
            self.status_ltime,
            self.leave_time,
        )

    def view(self) -> Member:
        """A frozen copy for events and reads."""
        return Member(
            self.name, self.addr, dict(self.tags), self.status, self.protocol, self.delegate
        )


@dataclass(frozen=True, slots=True)
class SharedTables:
    """A node's frozen tables that fresh nodes adopt copy-on-write
    (``SerfNode.shared_start().share``): memberlist's node table, Serf's members (never to
    be changed) and the member clock."""

    nodes: SharedNodes
    members: Mapping[str, MemberState]
    member_clock: int


@dataclass(frozen=True, slots=True)
class LeaveIntentResult:
    """What applying a leave intent asks of the node.

    ``rebroadcast``: gossip the intent on; ``refute``: it is about us while we are alive, so
    broadcast a join intent instead; ``left``: a failed member became left (emit
    ``member-leave``); ``prune``: erase this member (the node waits ``broadcast_timeout +
    leave_propagate_delay`` first when it is still leaving).
    """

    rebroadcast: bool = False
    refute: bool = False
    left: Member | None = None
    prune: MemberState | None = None


@dataclass(slots=True)
class MemberTable:
    """Members by name, plus the failed and left lists and the recent-intent buffer."""

    local_name: str
    #: May sit on a base shared with other nodes: mutate only what :meth:`own_entry` returns.
    members: SharedTable[MemberState] = field(default_factory=SharedTable)
    failed: list[MemberState] = field(default_factory=list)
    left: list[MemberState] = field(default_factory=list)
    recent_intents: dict[str, Intent] = field(default_factory=dict)
    #: When a failed member last came back alive (self-healing searches eagerly after it).
    recovered_at: float | None = None

    def __len__(self) -> int:
        return len(self.members)

    def get(self, name: str) -> MemberState | None:
        """The member called ``name``, if known (read it, do not change it)."""
        return self.members.get(name)

    def own_entry(self, name: str) -> MemberState:
        """Our own mutable ``name`` (a private copy when the table shares it)."""
        return self.members.own(name, MemberState.copy)

    def views(self) -> list[Member]:
        """Every known member (any status), in insertion order."""
        return [m.view() for m in self.members.values()]

    def count(self, status: MemberStatus) -> int:
        """How many members have ``status``."""
        return sum(1 for m in self.members.values() if m.status == status)

    # -- intents ---------------------------------------------------------------------------

    def _upsert_intent(self, name: str, itype: IntentType, ltime: int, now: float) -> bool:
        existing = self.recent_intents.get(name)
        if existing is None or ltime > existing.ltime:
            self.recent_intents[name] = Intent(itype, ltime, now)
            return True
        return False

    def _recent_intent(self, name: str, itype: IntentType) -> int | None:
        intent = self.recent_intents.get(name)
        if intent is not None and intent.type == itype:
            return intent.ltime
        return None

    def apply_join_intent(self, name: str, ltime: int, now: float) -> bool:
        """Apply a join intent (the clock was already witnessed); returns "rebroadcast?"."""
        member = self.members.get(name)
        if member is None:
            return self._upsert_intent(name, IntentType.JOIN, ltime, now)
        if ltime <= member.status_ltime:
            return False
        member = self.own_entry(name)
        member.status_ltime = ltime
        if member.status == MemberStatus.LEAVING:
            member.status = MemberStatus.ALIVE
        return True

    def apply_leave_intent(
        self, name: str, ltime: int, prune: bool, now: float, *, local_alive: bool
    ) -> LeaveIntentResult:
        """Apply a leave intent (the clock was already witnessed).

        ``local_alive`` says whether this node is alive (not leaving/left); a newer intent
        about ourselves while alive is refuted rather than applied.
        """
        member = self.members.get(name)
        if member is None:
            return LeaveIntentResult(self._upsert_intent(name, IntentType.LEAVE, ltime, now))
        if ltime <= member.status_ltime:
            return LeaveIntentResult()
        if name == self.local_name and local_alive:
            return LeaveIntentResult(refute=True)
        member = self.own_entry(name)
        status = member.status
        if status == MemberStatus.ALIVE:
            member.status = MemberStatus.LEAVING
            member.status_ltime = ltime
            return LeaveIntentResult(True, prune=member if prune else None)
        if status == MemberStatus.FAILED:
            member.status = MemberStatus.LEFT
            member.status_ltime = ltime
            self._remove_from(self.failed, name)
            self.left.append(member)
            return LeaveIntentResult(True, left=member.view(), prune=member if prune else None)
        if status in (MemberStatus.LEAVING, MemberStatus.LEFT):
            member.status_ltime = ltime
            return LeaveIntentResult(True, prune=member if prune else None)
        return LeaveIntentResult()

    # -- memberlist notifications ----------------------------------------------------------

    def node_joined(
        self,
        name: str,
        addr: Address,
        tags: dict[str, str],
        protocol: tuple[int, int, int],
        delegate: tuple[int, int, int],
        now: float,
        flap_timeout: float,
    ) -> tuple[MemberState, bool]:
        """Memberlist reports ``name`` alive. Returns the member and whether it flapped.

        A flap is a failed member coming back within ``flap_timeout`` seconds of failing.
        """
        member = self.members.get(name)
        flapped = False
        if member is None:
            member = MemberState(name, addr, tags, MemberStatus.ALIVE, protocol, delegate)
            join = self._recent_intent(name, IntentType.JOIN)
            if join is not None:
                member.status_ltime = join
            leave = self._recent_intent(name, IntentType.LEAVE)
            if leave is not None:
                member.status = MemberStatus.LEAVING
                member.status_ltime = leave
            self.members[name] = member
            return member, False
        member = self.own_entry(name)
        old = member.status
        if old == MemberStatus.FAILED:
            self.recovered_at = now
            if member.leave_time is not None:
                flapped = now - member.leave_time < flap_timeout
        member.status = MemberStatus.ALIVE
        member.leave_time = None
        member.addr = addr
        member.tags = tags
        member.protocol = protocol
        member.delegate = delegate
        if old in (MemberStatus.FAILED, MemberStatus.LEFT):
            self._remove_from(self.failed, name)
            self._remove_from(self.left, name)
        return member, flapped

    def node_gone(self, name: str, now: float) -> MemberState | None:
        """Memberlist reports ``name`` dead or left. Returns the member if its status changed
        (to ``left`` from leaving, or ``failed`` from alive), else None."""
        member = self.members.get(name)
        if member is None or member.status not in (MemberStatus.LEAVING, MemberStatus.ALIVE):
            return None
        member = self.own_entry(name)
        if member.status == MemberStatus.LEAVING:
            member.status = MemberStatus.LEFT
            member.leave_time = now
            self.left.append(member)
            return member
        if member.status == MemberStatus.ALIVE:
            member.status = MemberStatus.FAILED
            member.leave_time = now
            self.failed.append(member)
            return member
        return None

    def node_updated(
        self,
        name: str,
        addr: Address,
        tags: dict[str, str],
        protocol: tuple[int, int, int],
        delegate: tuple[int, int, int],
    ) -> MemberState | None:
        """Memberlist reports new meta or address for ``name``; returns the member if known."""
        if name not in self.members:
            return None
        member = self.own_entry(name)
        member.addr = addr
        member.tags = tags
        member.protocol = protocol
        member.delegate = delegate
        return member

    # -- removal ---------------------------------------------------------------------------

    def erase(self, name: str) -> MemberState | None:
        """Forget ``name`` entirely (reap or prune); returns what was removed."""
        member = self.members.pop(name, None)
        self._remove_from(self.failed, name)
        self._remove_from(self.left, name)
        return member

    def reap(
        self,
        now: float,
        reconnect_timeout: float,
        tombstone_timeout: float,
        override: TimeoutOverride | None = None,
    ) -> list[str]:
        """Names of failed members older than ``reconnect_timeout`` and left members older than
        ``tombstone_timeout`` (seconds since they went away); the caller erases them.

        ``override(member, timeout)`` (Go's ``ReconnectTimeoutOverride``) may give any member
        its own timeout; like Go, it is asked for failed and left members alike.
        """

        def expired(m: MemberState, timeout: float) -> bool:
            if m.leave_time is None:
                return False
            if override is not None:
                timeout = override(m.view(), timeout)
            return now - m.leave_time > timeout

        due = [m.name for m in self.failed if expired(m, reconnect_timeout)]
        due += [m.name for m in self.left if expired(m, tombstone_timeout)]
        return due

    def reap_intents(self, now: float, timeout: float) -> int:
        """Drop buffered intents older than ``timeout`` seconds; returns how many."""
        stale = [n for n, i in self.recent_intents.items() if now - i.at > timeout]
        for name in stale:
            del self.recent_intents[name]
        return len(stale)

    @staticmethod
    def _remove_from(lst: list[MemberState], name: str) -> None:
        for i, m in enumerate(lst):
            if m.name == name:
                del lst[i]
                return
