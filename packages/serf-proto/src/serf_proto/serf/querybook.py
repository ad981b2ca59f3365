"""The query book: every query this node has open, and every query it may still answer.

A query this node started is an :class:`OpenQuery` in the book from ``query``/``install_key``/
the name-conflict vote until its deadline (or until a newer query takes its Lamport time). Its
entry carries an **owner**, which decides where the answers go:

* :class:`UserQuery`: the application; acks and responses leave as ``QueryAck`` /
  ``QueryResponse`` outputs and the close as ``QueryDone``;
* :class:`KeyOpQuery`: a key operation; responses feed a ``KeyOpAggregate`` and the close (or
  the last expected answer) emits ``KeyOpCompleted``;
* :class:`ConflictQuery`: the name-conflict vote; responses are tallied and the close decides
  whether this node stays.

The entries are indexed by op (the id the command returned) and by Lamport time (what a
response names on the wire); at most one open query per Lamport time.

A query delivered *to* this node that its filters selected is :class:`Answerable` until it is
answered once or its deadline passes (expired entries are swept by the reaper). The answerable
set is bounded by ``query_buffer``: past it, the oldest entry can no longer be answered.

The verdicts (:func:`response_verdict`) are pure; :class:`~serf_proto.serf.queries.Queries`
carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from serf_proto.serf.internal_query import ConflictVote
from serf_proto.serf.keymanager import KeyOpAggregate
from serf_proto.serf.query import QueryCollector
from serf_proto.types import Address

__all__ = [
    "Answerable",
    "ConflictQuery",
    "KeyOpQuery",
    "OpenQuery",
    "Owner",
    "QueryBook",
    "ResponseVerdict",
    "UserQuery",
    "response_verdict",
]


@dataclass(frozen=True, slots=True)
class UserQuery:
    """Owner: the application that called ``query``."""


@dataclass(frozen=True, slots=True)
class KeyOpQuery:
    """Owner: a key operation, aggregating the answers."""

    aggregate: KeyOpAggregate


@dataclass(frozen=True, slots=True)
class ConflictQuery:
    """Owner: the name-conflict vote."""

    vote: ConflictVote


Owner = UserQuery | KeyOpQuery | ConflictQuery


@dataclass(slots=True)
class OpenQuery:
    """One query this node started: what collects its answers and who owns them."""

    collector: QueryCollector
    owner: Owner


@dataclass(slots=True)
class Answerable:
    """A query delivered here that may still be answered (until ``deadline``)."""

    deadline: float
    addr: Address
    source_node: str
    relay_factor: int


class ResponseVerdict(Enum):
    """What to do with a ``messageQueryResponse``."""

    UNKNOWN_QUERY = "unknown_query"
    ID_MISMATCH = "id_mismatch"
    ACCEPT = "accept"


def response_verdict(entry: OpenQuery | None, wire_id: int) -> ResponseVerdict:
    """Whether a response for the open query ``entry`` (found by Lamport time) is ours."""
    if entry is None:
        return ResponseVerdict.UNKNOWN_QUERY
    if entry.collector.wire_id != wire_id:
        return ResponseVerdict.ID_MISMATCH
    return ResponseVerdict.ACCEPT


class QueryBook:
    """Open and answerable queries of one node; see the module docstring."""

    __slots__ = ("_answerable", "_by_ltime", "_open")

    def __init__(self) -> None:
        self._open: dict[int, OpenQuery] = {}
        self._by_ltime: dict[int, OpenQuery] = {}
        self._answerable: dict[tuple[int, int], Answerable] = {}

    # ------------------------------------------------------------------------------------------
    # open queries

    def open(self, entry: OpenQuery) -> None:
        """Record a started query (the caller closed any other at its Lamport time first)."""
        self._open[entry.collector.op] = entry
        self._by_ltime[entry.collector.ltime] = entry

    def by_ltime(self, ltime: int) -> OpenQuery | None:
        """The open query at Lamport time ``ltime``."""
        return self._by_ltime.get(ltime)

    def by_op(self, op: int) -> OpenQuery | None:
        """The open query with op id ``op``."""
        return self._open.get(op)

    def close(self, op: int) -> OpenQuery | None:
        """Remove and return open query ``op`` (None when it is not open)."""
        entry = self._open.pop(op, None)
        if entry is None:
            return None
        entry.collector.closed = True
        if self._by_ltime.get(entry.collector.ltime) is entry:
            del self._by_ltime[entry.collector.ltime]
        return entry

    def open_ops(self) -> list[int]:
        """Op ids of every open query, oldest first."""
        return list(self._open)

    def voting(self) -> bool:
        """Whether a name-conflict vote is open."""
        return any(isinstance(e.owner, ConflictQuery) for e in self._open.values())

    # ------------------------------------------------------------------------------------------
    # answerable queries

    def add_answerable(self, ltime: int, qid: int, entry: Answerable, bound: int) -> bool:
        """Record a query we may answer; returns True when the oldest one was evicted to stay
        within ``bound``."""
        answerable = self._answerable
        answerable[(ltime, qid)] = entry
        if len(answerable) > bound:
            del answerable[next(iter(answerable))]
            return True
        return False

    def answerable(self, ltime: int, qid: int) -> Answerable | None:
        """The answerable query ``(ltime, qid)``, or None once answered or unknown."""
        return self._answerable.get((ltime, qid))

    def answered(self, ltime: int, qid: int) -> None:
        """Query ``(ltime, qid)`` was answered (or will not be): it is no longer answerable."""
        self._answerable.pop((ltime, qid), None)

    def expire(self, now: float) -> None:
        """Forget answerable queries whose deadline passed."""
        stale = [k for k, v in self._answerable.items() if v.deadline < now]
        for k in stale:
            del self._answerable[k]
