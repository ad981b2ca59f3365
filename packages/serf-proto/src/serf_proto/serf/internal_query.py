"""Serf's own queries, names starting ``_serf_`` (Go ``serf/internal_query.go``).

* ``_serf_ping``: used by ``serf reachability``; the query's ack is the answer, so the handler
  does nothing.
* ``_serf_conflict``: a node whose name is contested asks everyone else what address they know
  for that name; each answers with its ``Member`` view (or nil). The asker stays only if a
  majority of the answers point at its own address (:class:`ConflictVote`).
* ``_serf_install-key`` / ``use-key`` / ``remove-key`` / ``list-keys``: cluster key rotation
  (see :mod:`serf_proto.serf.keymanager`).

Unknown ``_serf_`` names are logged and not answered.
"""

from __future__ import annotations

from dataclasses import dataclass

from serf_proto.errors import DecodeError
from serf_proto.serf.keymanager import KeyOp
from serf_proto.wire import (
    MemberInfo,
    MessageConflictResponse,
    SerfMessageType,
    decode_serf_message,
    encode_serf_message,
)

PING_QUERY = "_serf_ping"
CONFLICT_QUERY = "_serf_conflict"
KEY_QUERIES = {f"_serf_{op.value}": op for op in KeyOp}


def internal_query_name(name: str) -> str:
    """The wire name of an internal query (``ping`` → ``_serf_ping``)."""
    return f"_serf_{name}"


def conflict_answer(member: MemberInfo | None) -> bytes:
    """Our answer to ``_serf_conflict``: ``06`` + our view of the member (or nil)."""
    return encode_serf_message(MessageConflictResponse(member))


@dataclass(slots=True)
class ConflictVote:
    """Tally of ``_serf_conflict`` answers: how many, and how many point at us."""

    local_addr: bytes
    local_port: int
    responses: int = 0
    matching: int = 0

    def add(self, payload: bytes) -> str | None:
        """Count one answer; returns an error text for a malformed one (not counted)."""
        if not payload or payload[0] != SerfMessageType.CONFLICT_RESPONSE:
            return f"Invalid conflict query response type: {payload!r}"
        try:
            msg = decode_serf_message(payload)
        except DecodeError as exc:
            return f"Failed to decode conflict query response: {exc}"
        assert isinstance(msg, MessageConflictResponse)
        self.responses += 1
        m = msg.member
        if m is not None and m.addr == self.local_addr and m.port == self.local_port:
            self.matching += 1
        return None

    def majority(self) -> int:
        """Answers needed to stay: ``responses // 2 + 1``."""
        return self.responses // 2 + 1

    def won(self) -> bool:
        """Whether the majority of answers point at our address (zero answers lose)."""
        return self.matching >= self.majority()
