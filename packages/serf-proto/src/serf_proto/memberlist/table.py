"""The node table: every node this node has heard of, by name and in probe order.

Go keeps ``nodes []*nodeState`` (shuffled each probe round) and ``nodeMap``. Here both live
in :class:`NodeTable`, which is the only place a record changes:

* :meth:`NodeTable.add` puts a new node at a random position of the probe order (Go swaps it
  with a random entry so new nodes are not probed in arrival order);
* :meth:`NodeTable.change` changes a known one. The map may sit copy-on-write on a table shared
  by many simulated nodes (:class:`~serf_proto.shared_table.SharedTable`); ``change`` takes
  the private copy, puts it in the map and in the probe order, sets the fields, forgets the
  record's cached push/pull encoding and stamps ``state_change`` when the state moved. No
  caller ever handles a shared record's copy itself.
* :meth:`NodeTable.next_in_round` is the probe walk: one Fisher–Yates step per probe, so a
  round visits every node in uniform random order without shuffling the whole list;
  :meth:`NodeTable.reap` ends a round by forgetting nodes dead or left for long enough.

Records read from the table (``get``, ``order``) may be shared and must not be mutated.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from serf_proto.errors import InvalidState
from serf_proto.memberlist.selection import k_random_nodes
from serf_proto.memberlist.state import NodeRecord, SharedNodes
from serf_proto.shared_table import SharedTable
from serf_proto.types import NodeState

__all__ = ["NodeTable"]

Vsn = tuple[int, int, int, int, int, int]


class NodeTable:
    """Every known node of one memberlist; ``me`` is the local node's name."""

    __slots__ = ("_cursor", "_map", "get", "me", "order")

    def __init__(self, me: str) -> None:
        self.me = me
        #: The records in probe order (read-only for everyone but the table).
        self.order: list[NodeRecord] = []
        self._map: SharedTable[NodeRecord] = SharedTable()
        #: ``get(name)``: the record of ``name`` (possibly shared: do not mutate it), or None.
        #: It is the map's own lookup (the busiest call of a join storm), rebound whenever the
        #: map is replaced.
        self.get: Callable[[str], NodeRecord | None] = self._map.get
        self._cursor = 0

    # -- reads -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.order)

    @property
    def local(self) -> NodeRecord:
        """Our own record."""
        return self._map[self.me]

    @property
    def owned_records(self) -> int:
        """How many records this table holds itself (all, unless it adopted a shared base)."""
        return self._map.own_count

    def any_alive_peer(self) -> bool:
        """Whether any other node is alive or suspect."""
        me = self.me
        return any(rec.state < NodeState.DEAD and rec.name != me for rec in self.order)

    def k_random(
        self, k: int, exclude: Callable[[NodeRecord], bool], rng: random.Random
    ) -> list[NodeRecord]:
        """Up to ``k`` random records that ``exclude`` lets through (Go ``kRandomNodes``)."""
        return k_random_nodes(self.order, k, exclude, rng)

    # -- writes ----------------------------------------------------------------------------

    def add(self, rec: NodeRecord, rng: random.Random) -> None:
        """A node we never heard of: insert it at a random position of the probe order."""
        self._map[rec.name] = rec
        nodes = self.order
        n = len(nodes)
        offset = rng.randrange(n) if n > 0 else 0
        nodes.append(rec)
        nodes[offset], nodes[n] = nodes[n], nodes[offset]

    def change(
        self,
        rec: NodeRecord,
        now: float,
        *,
        incarnation: int,
        state: NodeState | None = None,
        meta: bytes | None = None,
        vsn: Vsn | None = None,
        address: tuple[bytes, int] | None = None,
    ) -> NodeRecord:
        """Change the known node ``rec``; returns the (private) record that now holds it.

        Only the given fields change; a new ``state`` also stamps ``state_change = now``.
        """
        mine = self._map.own(rec.name, NodeRecord.copy)
        if mine is not rec:
            nodes = self.order
            nodes[nodes.index(rec)] = mine
        if vsn is not None:
            mine.vsn = vsn
        mine.incarnation = incarnation
        if meta is not None:
            mine.meta = meta
        if address is not None:
            mine.set_address(*address)
        mine.wire_cache = None
        if state is not None and mine.state != state:
            mine.state = state
            mine.state_change = now
        return mine

    def next_in_round(self, rng: random.Random) -> NodeRecord | None:
        """The next node of this probe round, or None when the round is over (the next call
        starts a new one)."""
        nodes = self.order
        i = self._cursor
        if i >= len(nodes):
            self._cursor = 0
            return None
        # Fisher–Yates, one step per probe: swap a random entry not yet probed this round into
        # place. The round visits the nodes in the uniform random order Go gets by shuffling
        # the list at the start of each round, at O(1) per probe.
        j = rng.randrange(i, len(nodes))
        rec = nodes[j]
        nodes[j] = nodes[i]
        nodes[i] = rec
        self._cursor = i + 1
        return rec

    def reap(self, now: float, limit: float) -> list[str]:
        """Forget nodes dead or left for longer than ``limit`` seconds; returns their names."""
        keep: list[NodeRecord] = []
        gone: list[str] = []
        for rec in self.order:
            if rec.state >= NodeState.DEAD and now - rec.state_change > limit:
                del self._map[rec.name]
                gone.append(rec.name)
            else:
                keep.append(rec)
        self.order = keep
        return gone

    # -- a converged start (see ``serf_proto.memberlist.shared``) ---------------------------

    def share(self) -> SharedNodes:
        """Freeze this table into a base others adopt; keep using it copy-on-write, with our
        own record private."""
        base = SharedNodes(dict(self._map.items()), tuple(self.order))
        self._map = SharedTable(base.records)
        self.get = self._map.get
        self.order = list(base.order)
        self._own(self.me)
        return base

    def adopt(self, base: SharedNodes) -> None:
        """Become ``base`` copy-on-write, keeping our own record; only a table that holds
        nothing but our own record may adopt."""
        me = self.me
        if len(self._map) != 1:
            raise InvalidState("only a node that knows nothing but itself can adopt a table")
        mine = self._map[me]
        table: SharedTable[NodeRecord] = SharedTable(base.records)
        table[me] = mine
        nodes = list(base.order)
        shared_me = base.records.get(me)
        if shared_me is None:
            nodes.append(mine)
        else:
            nodes[nodes.index(shared_me)] = mine
        self._map = table
        self.get = table.get
        self.order = nodes
        self._cursor = 0

    def _own(self, name: str) -> None:
        rec = self._map[name]
        mine = self._map.own(name, NodeRecord.copy)
        if mine is not rec:
            nodes = self.order
            nodes[nodes.index(rec)] = mine
