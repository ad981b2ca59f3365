"""The transmit-limited broadcast queue (Go ``memberlist.TransmitLimitedQueue``).

Gossip piggybacks queued messages onto outgoing packets. Each message may be sent only
``retransmit_limit(mult, n)`` times; after that it is dropped and its ``finished`` hook runs.
Selection favours the least-sent messages and, among equally sent ones, the largest that still
fits, then the newest: for each transmit tier from the lowest up, take the largest message that
fits the remaining space, repeat until nothing fits. A message picked for a packet moves to the
next tier only after the packet is complete, so one packet never carries a message twice.

Invalidation keeps the queue from carrying stale news: a *named* broadcast (memberlist's
alive/suspect/dead, keyed by node name) replaces any queued one with the same name; a plain
broadcast asks each queued plain broadcast ``invalidates(other)``; a *unique* broadcast neither
invalidates nor is scanned, which keeps queueing ``O(log n)``.

The structure is one sorted list of integer keys per transmit tier, ordered longest first, then
newest first, so the "largest message that fits" lookup is a binary search and one packet's
worth of messages is usually one slice.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from itertools import accumulate

__all__ = ["Broadcast", "TransmitLimitedQueue", "retransmit_limit"]


def retransmit_limit(retransmit_mult: int, n: int) -> int:
    """How often a broadcast is sent: ``mult * ceil(log10(n + 1))`` (Go ``retransmitLimit``)."""
    return retransmit_mult * math.ceil(math.log10(n + 1))


class Broadcast:
    """One queued message.

    ``name`` makes it a named broadcast (replaces queued ones of the same name); ``unique``
    skips the invalidation scan; ``on_finished`` runs once when the message is dropped because
    it was sent often enough, was invalidated, or was pruned. Subclasses may override
    :meth:`invalidates` for plain broadcasts.
    """

    __slots__ = ("_done", "message", "name", "on_finished", "unique")

    def __init__(
        self,
        message: bytes,
        *,
        name: str | None = None,
        unique: bool = False,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self.message = message
        self.name = name
        self.unique = unique
        self.on_finished = on_finished
        self._done = False

    def invalidates(self, other: Broadcast) -> bool:
        """Whether queueing this message makes the queued ``other`` obsolete (plain only)."""
        return False

    def finished(self) -> None:
        """Run the finished hook (at most once)."""
        if not self._done:
            self._done = True
            if self.on_finished is not None:
                self.on_finished()


_ID_BITS = 40
_ID_MASK = (1 << _ID_BITS) - 1
_LEN_MAX = 1 << 24


class _Item:
    __slots__ = ("b", "id", "key", "transmits")

    def __init__(self, b: Broadcast, transmits: int, ident: int) -> None:
        self.b = b
        self.transmits = transmits
        self.id = ident
        # One int orders a tier: longest first, then newest first.
        self.key = ((_LEN_MAX - len(b.message)) << _ID_BITS) | (_ID_MASK - (ident & _ID_MASK))


class _Tier:
    """The messages sent equally often: sorted int keys (see ``_Item.key``) and their items."""

    __slots__ = ("items", "keys")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.items: dict[int, _Item] = {}


class TransmitLimitedQueue:
    """Queue of broadcasts, each sent at most ``retransmit_limit(retransmit_mult, num_nodes())``.

    ``num_nodes`` is read at every ``get_broadcasts`` call, as Go does, so the limit follows the
    cluster size.
    """

    __slots__ = ("_by_name", "_count", "_ids", "_tiers", "num_nodes", "retransmit_mult")

    def __init__(self, retransmit_mult: int, num_nodes: Callable[[], int]) -> None:
        self.retransmit_mult = retransmit_mult
        self.num_nodes = num_nodes
        self._tiers: dict[int, _Tier] = {}
        self._by_name: dict[str, _Item] = {}
        self._ids = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def num_queued(self) -> int:
        """How many broadcasts are waiting."""
        return self._count

    def queue_broadcast(self, b: Broadcast, initial_transmits: int = 0) -> None:
        """Queue ``b``, first dropping every queued broadcast it invalidates."""
        if b.name is not None:
            old = self._by_name.get(b.name)
            if old is not None:
                self._remove(old)
                old.b.finished()
        elif not b.unique:
            stale = [
                item
                for tier in self._tiers.values()
                for item in tier.items.values()
                if item.b.name is None and not item.b.unique and b.invalidates(item.b)
            ]
            for item in stale:
                self._remove(item)
                item.b.finished()
        self._ids += 1
        item = _Item(b, initial_transmits, self._ids)
        self._insert(item)
        if b.name is not None:
            self._by_name[b.name] = item

    def get_broadcasts(self, overhead: int, limit: int) -> list[bytes]:
        """Messages for one packet of ``limit`` bytes, each costing ``len + overhead``.

        Every returned message counts one transmission; those that reach the limit are dropped
        and finished.
        """
        if not self._count:
            return []
        transmit_limit = retransmit_limit(self.retransmit_mult, self.num_nodes())
        used = 0
        out: list[bytes] = []
        # (tier the items came from, their keys, the items), applied after the packet is full
        # so that no message can be picked twice for one packet.
        sent: list[tuple[int, list[int], list[_Item]]] = []
        tiers = self._tiers
        bisect_left = bisect.bisect_left
        for transmits in sorted(tiers):
            if limit - used - overhead <= 0:
                break
            tier = tiers[transmits]
            keys = tier.keys
            items = tier.items
            n = len(keys)
            # No run can be longer than the room divided by the cheapest message's cost.
            cheapest = _LEN_MAX + overhead - (keys[-1] >> _ID_BITS)
            runs: list[tuple[int, int]] = []
            # Keys sort longest first, so taking every consecutive message that fits, then
            # skipping to the next one that does, is "take the largest that fits", repeated.
            i = bisect_left(keys, (_LEN_MAX - (limit - used - overhead)) << _ID_BITS)
            while i < n:
                room = limit - used
                if room - overhead <= 0:
                    break
                window = keys[i : i + room // cheapest + 1]
                costs = list(accumulate([_LEN_MAX + overhead - (k >> _ID_BITS) for k in window]))
                c = bisect.bisect_right(costs, room)
                if c:
                    runs.append((i, i + c))
                    used += costs[c - 1]
                    i += c
                else:
                    i = bisect_left(keys, (_LEN_MAX - (room - overhead)) << _ID_BITS, i + 1)
            if not runs:
                continue
            taken_keys = [k for a, b in runs for k in keys[a:b]]
            taken = list(map(items.pop, taken_keys))
            out.extend([item.b.message for item in taken])
            for a, b in reversed(runs):
                del keys[a:b]
            if not keys:
                del tiers[transmits]
            self._count -= len(taken)
            sent.append((transmits, taken_keys, taken))
        for transmits, taken_keys, taken in sent:
            nxt = transmits + 1
            if nxt >= transmit_limit:
                by_name = self._by_name
                for item in taken:
                    name = item.b.name
                    if name is not None and by_name.get(name) is item:
                        del by_name[name]
                    item.b.finished()
                continue
            for item in taken:
                item.transmits = nxt
            target = tiers.get(nxt)
            if target is None:
                target = tiers[nxt] = _Tier()
            target.items.update(zip(taken_keys, taken, strict=True))
            target.keys.extend(taken_keys)
            target.keys.sort()
            self._count += len(taken)
        return out

    def prune(self, max_retain: int) -> None:
        """Drop the most-sent (then shortest, oldest) messages until ``max_retain`` remain."""
        while self._count > max_retain:
            tier = self._tiers[max(self._tiers)]
            item = tier.items[tier.keys[-1]]
            self._remove(item)
            item.b.finished()

    def reset(self) -> None:
        """Drop every message without running the finished hooks."""
        self._tiers.clear()
        self._by_name.clear()
        self._count = 0

    def _insert(self, item: _Item) -> None:
        tier = self._tiers.get(item.transmits)
        if tier is None:
            tier = self._tiers[item.transmits] = _Tier()
        bisect.insort(tier.keys, item.key)
        tier.items[item.key] = item
        self._count += 1

    def _remove(self, item: _Item) -> None:
        tier = self._tiers[item.transmits]
        i = bisect.bisect_left(tier.keys, item.key)
        del tier.keys[i]
        del tier.items[item.key]
        if not tier.keys:
            del self._tiers[item.transmits]
        if item.b.name is not None and self._by_name.get(item.b.name) is item:
            del self._by_name[item.b.name]
        self._count -= 1
