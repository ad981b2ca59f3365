"""``SharedTable``: a name-keyed table that can sit copy-on-write on a base shared by many owners.

Every node keeps a record for every member, so a simulated cluster of N nodes holds N² records.
When the nodes agree (a converged cluster), those records are equal, and a simulator can give all
nodes one frozen *base* table instead: each node's table then stores only what differs from the
base, in its own small dict. Reads look in the node's own entries first, then in the base; a write
to a base record goes through :meth:`SharedTable.own`, which copies the record into the node's
own entries first, so no node ever changes a record another node can see.

Without a base (the normal case, a real agent) the table is a plain dict with a few more lookups
on misses.

Rules for users: a value returned by :meth:`get` or ``[]`` may be shared and must not be mutated;
call :meth:`own` to get a private, mutable one. The base must never change while tables use it.

:class:`SharedStart` is the one narrow door through which the simulator reaches this: a core
(``Memberlist.shared_start()``) hands out an object with exactly these four operations, so the
production classes carry no simulator-only methods and the simulator never writes their state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, Protocol, TypeVar

__all__ = ["SharedStart", "SharedTable"]

V = TypeVar("V")
B = TypeVar("B")


class SharedStart(Protocol[B]):
    """A simulated node's converged start from a base shared by every node (never used live).

    ``share(now)`` freezes this node's tables into a base ``B`` (the node keeps using it
    copy-on-write); ``adopt(base, now)`` makes a *fresh* node (that knows only itself) start
    from another node's base, and raises ``InvalidState`` for any other node;
    ``drop_pending_broadcasts()`` discards the gossip a converged cluster sent long ago and
    returns how many messages there were; ``owned_records`` counts the records the node holds
    itself (its memory cost over the base).
    """

    def share(self, now: float) -> B: ...

    def adopt(self, base: B, now: float) -> None: ...

    def drop_pending_broadcasts(self) -> int: ...

    @property
    def owned_records(self) -> int: ...


_EMPTY: Mapping[str, object] = {}


class SharedTable(Generic[V]):
    """``str -> V``: this owner's entries over an optional shared, read-only base."""

    __slots__ = ("_base", "_gone", "_len", "_own")

    def __init__(self, base: Mapping[str, V] | None = None) -> None:
        self._base: Mapping[str, V] = base if base is not None else _EMPTY  # type: ignore[assignment]
        self._own: dict[str, V] = {}
        self._gone: set[str] = set()  # base names this owner deleted
        self._len = len(self._base)

    # -- reads -----------------------------------------------------------------------------

    def get(self, name: str) -> V | None:
        """The value for ``name`` (possibly shared: do not mutate it), or None."""
        value = self._own.get(name)
        if value is not None or not self._base:
            return value
        if name in self._gone:
            return None
        return self._base.get(name)

    def __getitem__(self, name: str) -> V:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        for name, _ in self.items():
            yield name

    def items(self) -> Iterator[tuple[str, V]]:
        """Every (name, value): base order first (own versions substituted), then own-only."""
        own, gone, base = self._own, self._gone, self._base
        for name, value in base.items():
            if name in gone:
                continue
            mine = own.get(name)
            yield name, (value if mine is None else mine)
        for name, value in own.items():
            if name not in base:
                yield name, value

    def values(self) -> Iterator[V]:
        """Every value, in :meth:`items` order."""
        for _, value in self.items():
            yield value

    def is_shared(self, name: str) -> bool:
        """Whether ``name``'s current value is the base's (shared) one."""
        return name not in self._own and name not in self._gone and name in self._base

    @property
    def own_count(self) -> int:
        """How many entries this owner holds itself (its memory cost over the base)."""
        return len(self._own)

    # -- writes ----------------------------------------------------------------------------

    def own(self, name: str, copy: Callable[[V], V]) -> V:
        """A private, mutable value for ``name``: the own one, or ``copy`` of the base's, which
        then replaces it for this owner. Raises KeyError when ``name`` is not in the table."""
        value = self._own.get(name)
        if value is not None:
            return value
        if name in self._gone or name not in self._base:
            raise KeyError(name)
        value = self._own[name] = copy(self._base[name])
        return value

    def __setitem__(self, name: str, value: V) -> None:
        if name not in self:
            self._len += 1
        self._own[name] = value
        self._gone.discard(name)

    def __delitem__(self, name: str) -> None:
        if self.pop(name) is None:
            raise KeyError(name)

    def pop(self, name: str, default: V | None = None) -> V | None:
        """Remove ``name`` and return its value (``default`` when absent)."""
        value = self.get(name)
        if value is None:
            return default
        self._own.pop(name, None)
        if name in self._base:
            self._gone.add(name)
        self._len -= 1
        return value
