"""The simulator's shortcuts into a Serf node: one narrow, documented door.

A simulated cluster of thousands of nodes cannot afford to converge through gossip (O(N²)
messages), so :func:`serf_proto.simulate.converge` builds one node's tables through the real
push/pull merge and lets every other node adopt them copy-on-write. That needs a few things no
live node ever does: freezing tables into a shared base, adopting one, discarding the join
gossip a long-converged cluster would have finished, and counting what a node holds itself.
They are the whole of :class:`SimulatorShortcuts`; ``SerfNode.simulator`` is the only way in,
and nothing else in the simulator writes into a node's state. The memberlist half (node
table, membership broadcasts) belongs to the membership core; this class only forwards to it.
"""

from __future__ import annotations

from typing import Protocol

from serf_proto.errors import InvalidState
from serf_proto.memberlist.core import Memberlist
from serf_proto.serf.context import NodeContext
from serf_proto.serf.members import MemberTable, SharedTables
from serf_proto.shared_table import SharedTable

__all__ = ["SerfShortcuts", "SimulatorShortcuts"]


class SimulatorShortcuts(Protocol):
    """What the simulator may do to a node besides driving it."""

    def share_tables(self, now: float) -> SharedTables:
        """Freeze the node's tables into a base that fresh nodes adopt; keep using it
        copy-on-write."""
        ...

    def adopt_tables(self, base: SharedTables, now: float) -> None:
        """Start a fresh node from ``base``; raises ``InvalidState`` for any other node."""
        ...

    def drop_pending_broadcasts(self) -> int:
        """Discard the queued membership broadcasts; returns how many there were."""
        ...

    @property
    def owned_records(self) -> int:
        """How many node records the node holds itself (not shared)."""
        ...


class SerfShortcuts:
    """:class:`SimulatorShortcuts` for one Serf node."""

    __slots__ = ("_ctx", "_ml", "_table")

    def __init__(self, ctx: NodeContext, ml: Memberlist, table: MemberTable) -> None:
        self._ctx = ctx
        self._ml = ml
        self._table = table

    def share_tables(self, now: float) -> SharedTables:
        """Freeze memberlist's node table and our member table into a base that fresh nodes
        adopt with :meth:`adopt_tables`; we keep using it copy-on-write (N nodes then share one
        table, not N; see :mod:`serf_proto.shared_table`)."""
        table = self._table
        members = dict(table.members.items())
        table.members = SharedTable(members)
        table.own_entry(self._ctx.name)
        return SharedTables(self._ml.share_table(now), members, self._ctx.clock.time())

    def adopt_tables(self, base: SharedTables, now: float) -> None:
        """Know every node of ``base`` (another node's :meth:`share_tables`) as that node knew
        it, without the gossip that taught it: memberlist adopts the node table and Serf the
        member table, copy-on-write, keeping our own entries; the member clock witnesses the
        base's. No member events are emitted. Only a fresh node can adopt tables."""
        table = self._table
        name = self._ctx.name
        mine = table.get(name)
        if len(table) != 1 or mine is None or table.failed or table.left:
            raise InvalidState("only a node that knows nothing but itself can adopt tables")
        self._ml.adopt_table(base.nodes, now)
        shared = SharedTable(base.members)
        shared[name] = mine
        table.members = shared
        self._ctx.clock.witness(base.member_clock)

    def drop_pending_broadcasts(self) -> int:
        """Discard memberlist's queued broadcasts (the ``alive`` gossip of joins a converged
        cluster finished long ago); Serf's own queues are left alone."""
        return self._ml.drop_pending_broadcasts()

    @property
    def owned_records(self) -> int:
        """Memberlist node records this node holds itself."""
        return self._ml.owned_records
