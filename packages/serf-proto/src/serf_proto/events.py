"""Events and operation results the Serf core emits, in the same outbox as I/O commands.

Names follow Serf because scripts and users know them: member events carry the agent's event
names (``member-join`` ...), user events and queries keep Serf's fields. Results of commands are
past tense and carry the operation id the command returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from serf_proto.types import Address, Member

__all__ = [
    "Event",
    "JoinCompleted",
    "KeyOpCompleted",
    "KeyringChanged",
    "LeaveCompleted",
    "MemberEvent",
    "MemberEventType",
    "NodeShutdown",
    "Query",
    "QueryAck",
    "QueryDone",
    "QueryResponse",
    "SnapshotAppend",
    "UserEvent",
]


class MemberEventType(StrEnum):
    """The kind of a member event; the value is the agent's event name (``SERF_EVENT``)."""

    JOIN = "member-join"
    LEAVE = "member-leave"
    FAILED = "member-failed"
    UPDATE = "member-update"
    REAP = "member-reap"


@dataclass(frozen=True, slots=True)
class MemberEvent:
    """One or more members changed (coalesced when member coalescing is on)."""

    type: MemberEventType
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class UserEvent:
    """A user event reached this node for the first time (ltime is its Lamport time)."""

    ltime: int
    name: str
    payload: bytes
    coalesce: bool


@dataclass(frozen=True, slots=True)
class Query:
    """A query this node should answer; pass it to ``SerfNode.respond`` with the response.

    ``deadline`` is absolute monotonic seconds (the same clock as ``now``); responses after it
    are refused. ``addr`` and ``source_node`` say where responses go.
    """

    ltime: int
    id: int
    name: str
    payload: bytes
    source_node: str
    addr: Address
    deadline: float
    ack: bool = False
    relay_factor: int = 0


@dataclass(frozen=True, slots=True)
class JoinCompleted:
    """``join(op)`` finished: ``joined`` nodes answered; ``errors`` says why the others failed."""

    op: int
    joined: int
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LeaveCompleted:
    """``leave(op)`` finished: the leave intent and memberlist leave were broadcast."""

    op: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class QueryAck:
    """Node ``node`` acknowledged our query ``qid``."""

    qid: int
    node: str


@dataclass(frozen=True, slots=True)
class QueryResponse:
    """Node ``node`` answered our query ``qid`` with ``payload``."""

    qid: int
    node: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class QueryDone:
    """Our query ``qid`` reached its deadline (or every selected node answered)."""

    qid: int


@dataclass(frozen=True, slots=True)
class KeyOpCompleted:
    """A cluster key operation (``install``/``use``/``remove``/``list``) finished.

    ``messages`` maps node name to its error text; ``keys`` maps each base64 key to how many
    nodes have it (``list`` only); ``primary_keys`` likewise for primary keys.
    """

    op: int
    kind: str
    num_nodes: int
    num_resp: int
    num_err: int
    messages: dict[str, str] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    primary_keys: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SnapshotAppend:
    """Snapshot records (lines without newlines) to persist, with ``SerfConfig(snapshot=True)``.

    Append ``lines`` to the snapshot file; when ``compact`` is set the log has outgrown Go's
    threshold and ``lines`` is its compacted form: replace the whole file with them.
    """

    lines: tuple[str, ...]
    compact: bool = False


@dataclass(frozen=True, slots=True)
class KeyringChanged:
    """A key query changed this node's keyring; ``keys`` is the new ring, primary first.

    The agent rewrites its keyring file from it.
    """

    keys: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class NodeShutdown:
    """The node shut itself down (e.g. it lost a name conflict); the binding should stop."""

    reason: str


Event = (
    MemberEvent
    | UserEvent
    | Query
    | JoinCompleted
    | LeaveCompleted
    | QueryAck
    | QueryResponse
    | QueryDone
    | KeyOpCompleted
    | SnapshotAppend
    | KeyringChanged
    | NodeShutdown
)
