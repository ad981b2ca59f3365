"""Shared value types of the core: addresses, statuses, member views.

Every type here is plain data, immutable, and free of I/O. Enum values equal Go's constants so
they can be written to the wire or compared with Go's output directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import NamedTuple


class Address(NamedTuple):
    """A resolved transport address: an IP literal (v4 or v6, no brackets) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class NodeState(IntEnum):
    """memberlist's view of a node (Go ``nodeStateType``)."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


class MemberStatus(IntEnum):
    """Serf's view of a member (Go ``MemberStatus``); ``str()`` gives Serf's lower-case name."""

    NONE = 0
    ALIVE = 1
    LEAVING = 2
    LEFT = 3
    FAILED = 4

    def __str__(self) -> str:
        return _STATUS_NAMES[self]


_STATUS_NAMES = {
    MemberStatus.NONE: "none",
    MemberStatus.ALIVE: "alive",
    MemberStatus.LEAVING: "leaving",
    MemberStatus.LEFT: "left",
    MemberStatus.FAILED: "failed",
}


@dataclass(frozen=True, slots=True)
class Member:
    """A read-only snapshot of one Serf member, as RPC ``members`` reports it.

    ``protocol`` is ``(min, max, cur)`` of the memberlist protocol and ``delegate`` the same for
    the Serf (delegate) protocol, exactly the six ``Vsn`` bytes Go gossips.
    """

    name: str
    addr: Address
    tags: dict[str, str] = field(default_factory=dict)
    status: MemberStatus = MemberStatus.ALIVE
    protocol: tuple[int, int, int] = (1, 5, 2)
    delegate: tuple[int, int, int] = (2, 5, 4)
