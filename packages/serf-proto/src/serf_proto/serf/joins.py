"""Memberlist joins and what each was for: a user ``join``, a reconnect or a snapshot rejoin.

Every memberlist join this node starts is recorded by memberlist's op id with its purpose;
memberlist's ``JoinCompleted`` is then routed by :meth:`Joins.memberlist_joined`:

* **user join** (``SerfNode.join``): completes the user's op as ``JoinCompleted``; when anyone
  answered and we are alive, a join intent is gossiped (the node's ``broadcast_join``). With
  ``ignore_old`` the join also raises the floor of user events while it runs
  (:attr:`Joins.ignoring_old`, read by the push/pull merge);
* **reconnect** (the ``Reconnect`` timer): a failed member is tried again with probability
  ``failed / alive`` (Go's throttle), one random failed member per tick; the outcome needs no
  handling;
* **heal** (the ``Heal`` timer, pyserf): while members are failed, ping one random failed
  member with the probability :func:`heal_probability` gives; when it acks, the network
  between us works again and a push/pull with it merges the two views (each side refutes what
  the other accused it of). At most one heal runs at a time, so the cost is at most one ping
  per ``heal_interval`` and one push/pull per answer;
* **rejoin** (start with a snapshot): the members the snapshot last saw alive are tried one at
  a time in random order (:func:`~serf_proto.serf.snapshot.rejoin_order`), then, with
  ``rejoin_failed``, those it last saw failed, until one answers or none is left.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from serf_proto.events import JoinCompleted
from serf_proto.serf.context import NodeContext, SerfState
from serf_proto.serf.members import MemberTable
from serf_proto.serf.snapshot import (
    PreviousNode,
    RecoveredState,
    SnapshotError,
    parse_address,
    rejoin_order,
)
from serf_proto.serf.timers import Heal, Reconnect
from serf_proto.types import Address

__all__ = ["Joins", "heal_phase", "heal_probability", "reconnect_probability"]


@dataclass(slots=True)
class _Job:
    kind: Literal["user", "reconnect", "heal", "rejoin"]
    op: int = 0
    ignore_old: bool = False
    remaining: tuple[PreviousNode, ...] = ()
    previous: PreviousNode | None = None


#: After a failed member came back, heal ticks ping at full rate for this many ticks.
HEAL_EAGER_TICKS = 15


def reconnect_probability(failed: int, alive: int) -> float:
    """Go's throttle: try a reconnect with probability ``failed / alive`` (alive ≥ 1)."""
    return failed / max(alive, 1)


def heal_probability(
    failed: int, alive: int, since_recovery: float | None, eager_window: float
) -> float:
    """How likely one heal tick pings a failed member.

    Normally the reconnector's throttle ``failed / alive``: when the whole cluster agrees on
    who failed, each failed member then gets about one ping per tick from the whole cluster,
    however large it is (a member that failed for good costs little). But within
    ``eager_window`` seconds of a failed member coming back (``since_recovery``), a partition is
    probably healing and our remaining failed members are likely alive too, possibly failed
    in our view alone: then every tick pings."""
    if since_recovery is not None and since_recovery < eager_window:
        return 1.0
    return reconnect_probability(failed, alive)


def heal_phase(name: str, interval: float) -> float:
    """When a node's first heal tick falls, in (0, interval]: spread by the node's name, so
    nodes started together do not ping in step (and no random draw is spent on it)."""
    return interval * (1 + zlib.crc32(name.encode())) / 2**32


class Joins:
    """One node's memberlist joins; see the module docstring."""

    __slots__ = ("_broadcast_join", "_ctx", "_healing", "_jobs", "_members", "ignoring_old")

    def __init__(
        self, ctx: NodeContext, members: MemberTable, broadcast_join: Callable[[float], None]
    ) -> None:
        self._ctx = ctx
        self._members = members
        self._broadcast_join = broadcast_join
        self._jobs: dict[int, _Job] = {}
        self._healing = False
        #: how many ``ignore_old`` user joins run.
        self.ignoring_old = 0

    def join(self, addrs: list[Address], ignore_old: bool, now: float) -> int:
        """A user join; returns its op id."""
        op = self._ctx.new_op()
        ml_op = self._ctx.ml.join(addrs, now)
        self._jobs[ml_op] = _Job("user", op, ignore_old)
        if ignore_old:
            self.ignoring_old += 1
        return op

    def memberlist_joined(self, done: JoinCompleted, now: float) -> None:
        """Route memberlist's ``JoinCompleted`` to the job that started that join."""
        job = self._jobs.pop(done.op, None)
        if job is None:
            return
        ctx = self._ctx
        if job.kind == "rejoin":
            if done.joined > 0:
                ctx.log.info("Re-joined to previously known node: %s", job.previous)
            elif ctx.state is SerfState.ALIVE:
                self._rejoin_next(job.remaining, job.previous, now)
            return
        if job.kind == "heal":
            self._healing = False
            return
        if job.kind == "reconnect":
            return
        if job.ignore_old:
            self.ignoring_old -= 1
        if done.joined > 0 and ctx.state is SerfState.ALIVE:
            self._broadcast_join(now)
        ctx.out.append(JoinCompleted(job.op, done.joined, done.errors))

    # ------------------------------------------------------------------------------------------
    # reconnect

    def on_reconnect(self, now: float) -> None:
        """``Reconnect`` fired: maybe try one failed member, then schedule the next tick."""
        self._reconnect(now)
        self._ctx.timers.schedule(Reconnect(), now + self._ctx.config.reconnect_interval)

    def _reconnect(self, now: float) -> None:
        ctx = self._ctx
        members = self._members
        failed = members.failed
        if not failed or ctx.state is not SerfState.ALIVE:
            return
        num_alive = len(members) - len(failed) - len(members.left)
        if ctx.rng.random() > reconnect_probability(len(failed), num_alive):
            ctx.log.debug("forgoing reconnect for random throttling")
            return
        mem = failed[ctx.rng.randrange(len(failed))]
        ctx.log.info("attempting reconnect to %s %s", mem.name, mem.addr)
        ml_op = ctx.ml.join([mem.addr], now)
        self._jobs[ml_op] = _Job("reconnect")

    # ------------------------------------------------------------------------------------------
    # heal

    def on_heal(self, now: float) -> None:
        """``Heal`` fired: maybe ping one failed member, then schedule the next tick."""
        ctx = self._ctx
        ctx.timers.schedule(Heal(), now + ctx.config.heal_interval)
        members = self._members
        failed = members.failed
        if self._healing or not failed or ctx.state is not SerfState.ALIVE:
            return
        num_alive = len(members) - len(failed) - len(members.left)
        recovered = members.recovered_at
        chance = heal_probability(
            len(failed),
            num_alive,
            None if recovered is None else now - recovered,
            HEAL_EAGER_TICKS * ctx.config.heal_interval,
        )
        if ctx.rng.random() > chance:
            return
        mem = failed[ctx.rng.randrange(len(failed))]
        self._healing = True
        name, addr = mem.name, mem.addr

        def answered(acked: bool, at: float) -> None:
            self._healing = False
            if not acked or ctx.state is not SerfState.ALIVE:
                return
            ctx.log.info("failed member %s %s answers: pushing/pulling with it", name, addr)
            self._healing = True
            self._jobs[ctx.ml.join([addr], at)] = _Job("heal")

        ctx.ml.ping_address(addr, name, now, answered)

    # ------------------------------------------------------------------------------------------
    # rejoin

    def rejoin(self, recovered: RecoveredState, now: float) -> None:
        """Try the members the snapshot lists (see the module docstring), one at a time."""
        ctx = self._ctx
        order = rejoin_order(recovered, ctx.name, ctx.rng, include_failed=ctx.config.rejoin_failed)
        self._rejoin_next(tuple(order), None, now)

    def _rejoin_next(
        self, remaining: tuple[PreviousNode, ...], last: PreviousNode | None, now: float
    ) -> None:
        ctx = self._ctx
        while remaining:
            previous, remaining = remaining[0], remaining[1:]
            try:
                addr = parse_address(previous.addr)
            except SnapshotError:
                ctx.log.warning("Failed to parse previous node address %s", previous)
                continue
            if previous.failed and (last is None or not last.failed):
                ctx.log.info("No previously alive node answered; trying previously failed nodes")
            ctx.log.info("Attempting re-join to previously known node: %s", previous)
            ml_op = ctx.ml.join([addr], now)
            self._jobs[ml_op] = _Job("rejoin", remaining=remaining, previous=previous)
            return
        ctx.log.warning("Failed to re-join any previously known node")
