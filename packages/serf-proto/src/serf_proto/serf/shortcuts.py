"""The Serf half of the simulator's converged start (``serf_proto.shared_table.SharedStart``).

A simulated cluster of thousands of nodes cannot afford to converge through gossip (O(N²)
messages), so :func:`serf_proto.simulate.converge` builds one node's tables through the real
push/pull merge and lets every other node adopt them copy-on-write. ``SerfNode.shared_start()``
returns a :class:`TablesShare`, the one narrow door for that: it shares and adopts memberlist's
node table (through memberlist's own ``shared_start()``) together with Serf's member table and
member clock, discards the membership gossip a long-converged cluster finished, and counts the
node records the node holds itself. Nothing else in the simulator writes into a node's state,
and a live node never needs any of it.
"""

from __future__ import annotations

from serf_proto.errors import InvalidState
from serf_proto.memberlist.core import Memberlist
from serf_proto.serf.context import NodeContext
from serf_proto.serf.members import MemberTable, SharedTables
from serf_proto.shared_table import SharedTable

__all__ = ["TablesShare"]


class TablesShare:
    """Implements ``SharedStart[SharedTables]`` for one Serf node."""

    __slots__ = ("_ctx", "_ml", "_table")

    def __init__(self, ctx: NodeContext, ml: Memberlist, table: MemberTable) -> None:
        self._ctx = ctx
        self._ml = ml
        self._table = table

    def share(self, now: float) -> SharedTables:
        """Freeze memberlist's node table and our member table into a base that fresh nodes
        adopt with :meth:`adopt`; we keep using it copy-on-write (N nodes then share one
        table, not N; see :mod:`serf_proto.shared_table`)."""
        table = self._table
        members = dict(table.members.items())
        table.members = SharedTable(members)
        table.own_entry(self._ctx.name)
        return SharedTables(self._ml.shared_start().share(now), members, self._ctx.clock.time())

    def adopt(self, base: SharedTables, now: float) -> None:
        """Know every node of ``base`` (another node's :meth:`share`) as that node knew it,
        without the gossip that taught it: memberlist adopts the node table and Serf the member
        table, copy-on-write, keeping our own entries; the member clock witnesses the base's.
        No member events are emitted. Only a fresh node can adopt tables."""
        table = self._table
        name = self._ctx.name
        mine = table.get(name)
        if len(table) != 1 or mine is None or table.failed or table.left:
            raise InvalidState("only a node that knows nothing but itself can adopt tables")
        self._ml.shared_start().adopt(base.nodes, now)
        shared = SharedTable(base.members)
        shared[name] = mine
        table.members = shared
        self._ctx.clock.witness(base.member_clock)

    def drop_pending_broadcasts(self) -> int:
        """Discard memberlist's queued broadcasts (the ``alive`` gossip of joins a converged
        cluster finished long ago); Serf's own queues are left alone."""
        return self._ml.shared_start().drop_pending_broadcasts()

    @property
    def owned_records(self) -> int:
        """Memberlist node records this node holds itself."""
        return self._ml.shared_start().owned_records
