"""Memberlist's side of the simulator's converged start (``serf_proto.shared_table.SharedStart``).

A simulated cluster of N nodes that has long converged holds N equal node tables. Instead of
building them through N² gossip, the simulator lets one node share its table and every other
(fresh) node adopt it copy-on-write. :class:`TableShare` is what ``Memberlist.shared_start()``
returns: it acts on the node table, the push/pull ticker and the broadcast queue through their
own methods, so nothing outside memberlist touches its state. A live node never needs it.

As in a cluster that has long been running, the next push/pull of a node that shares or adopts
a table falls at a random point of the (size-scaled) interval.
"""

from __future__ import annotations

from serf_proto.memberlist.gossip import Gossip
from serf_proto.memberlist.state import SharedNodes
from serf_proto.memberlist.streams import Streams
from serf_proto.memberlist.table import NodeTable

__all__ = ["TableShare"]


class TableShare:
    """Implements ``SharedStart[SharedNodes]`` for one memberlist."""

    __slots__ = ("_gossip", "_streams", "_table")

    def __init__(self, table: NodeTable, gossip: Gossip, streams: Streams) -> None:
        self._table = table
        self._gossip = gossip
        self._streams = streams

    def share(self, now: float) -> SharedNodes:
        """Freeze our table into a base others adopt; we keep using it copy-on-write (our own
        record stays private)."""
        base = self._table.share()
        self._streams.rephase(now)
        return base

    def adopt(self, base: SharedNodes, now: float) -> None:
        """Start from another node's base instead of learning every node through gossip; the
        delegate is not told (the layer above adopts its own tables). Only a fresh node may."""
        self._table.adopt(base)
        self._streams.rephase(now)

    def drop_pending_broadcasts(self) -> int:
        """Discard every queued membership broadcast (their finished hooks do not run)."""
        count = len(self._gossip.queue)
        self._gossip.queue.reset()
        return count

    @property
    def owned_records(self) -> int:
        """Records this node holds itself: all, unless it shared or adopted a base."""
        return self._table.owned_records
