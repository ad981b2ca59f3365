"""What one RPC session hands its binding: ``NEED_DATA``, a reply to write, a connection to
close, a monitor to start or stop, or one decoded request (the binding performs it against the
``AgentBackend``). The state machine that produces them is :mod:`serf_agent.rpc.session`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from serf_proto import (
    GoRegex,
    Member,
    Query,
)

from serf_agent.rpc.gocompat import matches


class NeedData(Enum):
    """``next_event`` has nothing complete to offer: read more bytes."""

    NEED_DATA = "need-data"


NEED_DATA = NeedData.NEED_DATA


# -- what next_event returns -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """Bytes the session produced on its own; write them (and log ``warning`` if set)."""

    data: bytes
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Write ``data`` (may be empty), log ``log_message`` at ERR level if set, then close."""

    data: bytes
    log_message: str | None


@dataclass(frozen=True, slots=True)
class StartMonitor:
    """A monitor was accepted: write ``data`` (the OK reply), then subscribe to log lines
    and send the backlog through ``log_record``."""

    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class StopMonitor:
    """The monitor was stopped: write ``data`` (the reply) and unsubscribe from log lines."""

    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class EventRequest:
    seq: int
    name: str
    payload: bytes
    coalesce: bool


@dataclass(frozen=True, slots=True)
class ForceLeaveRequest:
    seq: int
    node: str
    prune: bool


@dataclass(frozen=True, slots=True)
class JoinRequest:
    seq: int
    existing: list[str]
    replay: bool


@dataclass(frozen=True, slots=True)
class MemberFilter:
    """Compiled ``members-filtered`` regexes (``None`` = no filter)."""

    tags: dict[str, GoRegex]
    status: GoRegex | None
    name: GoRegex | None

    def select(self, members: Sequence[Member]) -> list[Member]:
        """The members passing every filter, in their original order (Go's rules)."""
        return [m for m in members if self._accepts(m)]

    def _accepts(self, member: Member) -> bool:
        for tag, pattern in self.tags.items():
            if not matches(pattern, member.tags.get(tag, "")):
                return False
        if self.status is not None and not matches(self.status, str(member.status)):
            return False
        return self.name is None or matches(self.name, member.name)


@dataclass(frozen=True, slots=True)
class MembersRequest:
    seq: int
    filter: MemberFilter | None


@dataclass(frozen=True, slots=True)
class TagsRequest:
    """Merge rule (Go): copy current tags, drop ``delete_tags``, then apply ``tags``."""

    seq: int
    tags: dict[str, str]
    delete_tags: list[str]

    def merged(self, current: dict[str, str]) -> dict[str, str]:
        result = {k: v for k, v in current.items() if k not in self.delete_tags}
        result.update(self.tags)
        return result


@dataclass(frozen=True, slots=True)
class LeaveRequest:
    seq: int


@dataclass(frozen=True, slots=True)
class QueryRequest:
    seq: int
    name: str
    payload: bytes
    filter_nodes: list[str]
    filter_tags: dict[str, str]
    request_ack: bool
    relay_factor: int
    timeout: float  # seconds, 0 = the agent's default


@dataclass(frozen=True, slots=True)
class RespondRequest:
    seq: int
    query: Query
    payload: bytes


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """``install``/``use``/``remove`` (``key`` = raw bytes) or ``list`` (``key`` = None)."""

    seq: int
    op: str
    key: bytes | None


@dataclass(frozen=True, slots=True)
class StatsRequest:
    seq: int


@dataclass(frozen=True, slots=True)
class CoordinateRequest:
    seq: int
    node: str


Request = (
    EventRequest
    | ForceLeaveRequest
    | JoinRequest
    | MembersRequest
    | TagsRequest
    | LeaveRequest
    | QueryRequest
    | RespondRequest
    | KeyRequest
    | StatsRequest
    | CoordinateRequest
)
SessionEvent = NeedData | Reply | CloseConnection | StartMonitor | StopMonitor | Request
