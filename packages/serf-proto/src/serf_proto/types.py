"""Shared value types of the core: addresses, statuses, member views.

Every type here is plain data, immutable, and free of I/O. ``NodeState`` values equal Go's
constants; ``MemberStatus`` values are Serf's status names, with Go's constants as ``.code``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NamedTuple

__all__ = ["Address", "Member", "MemberStatus", "NodeState"]


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


class MemberStatus(StrEnum):
    """Serf's view of a member (Go ``MemberStatus``): the value is Serf's lower-case name, so
    ``member.status == "alive"`` holds. Go's integer constant (what the wire carries) is
    :attr:`code`; :meth:`from_code` maps it back.
    """

    NONE = "none"
    ALIVE = "alive"
    LEAVING = "leaving"
    LEFT = "left"
    FAILED = "failed"

    @property
    def code(self) -> int:
        """Go's integer constant for this status (``NONE=0 ... FAILED=4``), as on the wire."""
        return _STATUS_CODES[self]

    @classmethod
    def from_code(cls, code: int) -> MemberStatus:
        """The status Go's integer ``code`` stands for; raises ``ValueError`` when unknown."""
        for status, value in _STATUS_CODES.items():
            if value == code:
                return status
        raise ValueError(f"unknown member status code {code}")

    def __repr__(self) -> str:
        # Shows Go's constant, as the integer enum this replaced did (recorded traces use it).
        return f"<MemberStatus.{self.name}: {self.code}>"


_STATUS_CODES = {
    MemberStatus.NONE: 0,
    MemberStatus.ALIVE: 1,
    MemberStatus.LEAVING: 2,
    MemberStatus.LEFT: 3,
    MemberStatus.FAILED: 4,
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
