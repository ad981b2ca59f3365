"""Queries: parameters, filters, de-duplication and response collection (Go ``serf/query.go``).

A query is a user event that expects answers. The originator gossips ``messageQuery`` with a
Lamport time from the query clock, a random 31-bit id and its own address; every node that
passes the query's filters may ack (if asked) and respond directly to that address over UDP,
optionally also through ``relay_factor`` random members in case the direct path is lossy.

* Receivers de-duplicate by a ring of ``query_buffer`` slots indexed by ``ltime % size``, each
  holding the ids seen at that time; queries below ``min_time`` or older than the ring are
  refused, as for user events.
* Filters are ANDed: a node filter lists the names that should answer; a tag filter requires a
  Go regular-expression *search* match (unanchored, Go's ``regexp.MatchString`` with RE2
  syntax, :mod:`serf_proto.goregex`) of the tag's value (a missing tag matches against "").
  A node that fails the filters still re-gossips the query.
* A query this node refuses is dropped, counted and never gossiped on (:func:`query_poison`
  and ``Queries.receive``): a filter that does not decode (Go Serf 0.9.4 panics on an empty
  one), a tag expression Go would not compile, a key-changing ``_serf_`` query with an empty
  payload (Go 0.9.4 panics slicing it), a response address that is not an IP.
* The originator keeps one :class:`QueryCollector` per open query, keyed by Lamport time; it
  de-duplicates acks and responses per responding node and closes at the deadline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError
from serf_proto.goregex import match_string
from serf_proto.wire import NodeFilter, QueryFilter, TagFilter, decode_filter

#: Names with this prefix are Serf's own queries (``_serf_ping`` ...).
INTERNAL_QUERY_PREFIX = "_serf_"

#: Key queries whose Go handler decodes ``payload[1:]``: an empty payload panics Go Serf 0.9.4.
_PAYLOAD_SLICING_QUERIES = frozenset(
    f"{INTERNAL_QUERY_PREFIX}{op}" for op in ("install-key", "use-key", "remove-key")
)


def query_poison(name: str, payload: bytes, raw_filters: tuple[bytes, ...]) -> DropReason | None:
    """Why a received query must be dropped and never gossiped on, or None if it is sound.

    Checks the structure only (every filter decodes, wherever it stands in the list, since a
    peer may reach a filter this node never looks at); whether the filters select this node is
    :func:`filters_match`.
    """
    if name in _PAYLOAD_SLICING_QUERIES and not payload:
        return DropReason.BAD_KEY_QUERY
    try:
        for raw in raw_filters:
            decode_filter(raw)
    except DecodeError:
        return DropReason.BAD_QUERY_FILTER
    return None


@dataclass(frozen=True, slots=True)
class QueryParams:
    """How to run a query (Go ``QueryParam``).

    ``timeout`` is seconds; 0 means the default ``gossip_interval * query_timeout_mult *
    ceil(log10(N + 1))``. ``filter_tags`` maps a tag name to a regular expression.
    """

    filter_nodes: tuple[str, ...] = ()
    filter_tags: Mapping[str, str] = field(default_factory=dict)
    request_ack: bool = False
    relay_factor: int = 0
    timeout: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.relay_factor <= 255:
            raise ValueError("relay_factor must be between 0 and 255")
        if self.timeout < 0:
            raise ValueError("timeout must not be negative")

    def filters(self) -> list[QueryFilter]:
        """The wire filters: the node filter first, then one tag filter per tag."""
        out: list[QueryFilter] = []
        if self.filter_nodes:
            out.append(NodeFilter(tuple(self.filter_nodes)))
        out += [TagFilter(tag, expr) for tag, expr in self.filter_tags.items()]
        return out


def default_query_timeout(gossip_interval: float, timeout_mult: int, num_members: int) -> float:
    """Go's ``DefaultQueryTimeout``: seconds a query stays open for a cluster of this size."""
    scale = math.ceil(math.log10(num_members + 1))
    return gossip_interval * timeout_mult * max(scale, 1)


def _tag_matches(expr: str, value: str) -> bool:
    return match_string(expr, value)


def filters_match(raw_filters: tuple[bytes, ...], name: str, tags: Mapping[str, str]) -> bool:
    """Whether a node called ``name`` with ``tags`` passes every raw filter of a query.

    Filters are checked in order, as Go does. Raises ``DecodeError`` when a filter cannot be
    decoded at all (empty, unknown type, garbage) and ``GoRegexError`` when a tag expression
    does not compile as Go's regexp (Go logs it and does not answer), so the caller can count
    the query as dropped instead of ignoring it silently.
    """
    for raw in raw_filters:
        f = decode_filter(raw)
        if isinstance(f, NodeFilter):
            if name not in f.nodes:
                return False
        elif not _tag_matches(f.expr, tags.get(f.tag, "")):
            return False
    return True


class QueryVerdict(Enum):
    """What the query ring decided about an incoming query."""

    NEW = "new"
    DUPLICATE = "duplicate"
    TOO_OLD = "too-old"
    BEFORE_MIN_TIME = "before-min-time"


@dataclass(slots=True)
class _QuerySlot:
    ltime: int
    ids: set[int]


@dataclass(slots=True)
class QueryBuffer:
    """The ring of recently seen query ids; ``size`` slots (Go ``QueryBuffer``)."""

    size: int
    min_time: int = 0
    _slots: list[_QuerySlot | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("query buffer size must be at least 1")
        self._slots = [None] * self.size

    def admit(self, ltime: int, qid: int, clock_time: int) -> QueryVerdict:
        """Record the query if new. ``clock_time`` is the query clock after witnessing."""
        if ltime < self.min_time:
            return QueryVerdict.BEFORE_MIN_TIME
        if clock_time > self.size and ltime < clock_time - self.size:
            return QueryVerdict.TOO_OLD
        index = ltime % self.size
        slot = self._slots[index]
        if slot is not None and slot.ltime == ltime:
            if qid in slot.ids:
                return QueryVerdict.DUPLICATE
        else:
            slot = _QuerySlot(ltime, set())
            self._slots[index] = slot
        slot.ids.add(qid)
        return QueryVerdict.NEW


@dataclass(slots=True)
class QueryCollector:
    """The originator's state of one open query.

    ``op`` is the id the ``query`` command returned; ``wire_id``/``ltime`` identify the query
    on the wire; ``deadline`` is absolute seconds; ``max_responses`` bounds the responses
    accepted (Go sizes its channel by the member count at send time).
    """

    op: int
    name: str
    ltime: int
    wire_id: int
    deadline: float
    max_responses: int
    acks: set[str] = field(default_factory=set)
    responses: dict[str, bytes] = field(default_factory=dict)
    closed: bool = False

    def add_ack(self, node: str) -> bool:
        """Record an ack; returns True if it is the first from ``node``."""
        if self.closed or node in self.acks:
            return False
        self.acks.add(node)
        return True

    def add_response(self, node: str, payload: bytes) -> bool:
        """Record a response; returns True if it is new and fits the response budget."""
        if self.closed or node in self.responses:
            return False
        if len(self.responses) >= self.max_responses:
            return False
        self.responses[node] = payload
        return True
