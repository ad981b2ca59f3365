"""The frames an RPC session writes and the filters of its streams and monitor, as Go's agent
encodes and applies them: msgpack packing, reply headers, member records, ``stream`` event
filters and log levels. Used by :mod:`serf_agent.rpc.session`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import msgpack
from serf_proto import (
    Member,
    MemberEvent,
    Query,
    UserEvent,
)

from serf_agent.backend import AgentEvent

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERR")
EVENT_FILTER_TYPES = frozenset(
    {"member-join", "member-leave", "member-failed", "member-update", "member-reap"}
    | {"user", "query", "*"}
)


# -- stream filters ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFilter:
    """One element of a ``stream`` ``Type`` list (Go's ``EventFilter``)."""

    event: str
    name: str = ""

    @staticmethod
    def parse_list(text: str) -> list[EventFilter]:
        """Split ``Type`` on commas exactly as Go does (``""`` means ``*``; no trimming)."""
        filters = []
        for part in (text or "*").split(","):
            if part.startswith("user:"):
                filters.append(EventFilter("user", part[len("user:") :]))
            elif part.startswith("query:"):
                filters.append(EventFilter("query", part[len("query:") :]))
            else:
                filters.append(EventFilter(part))
        return filters

    @property
    def valid(self) -> bool:
        return self.event in EVENT_FILTER_TYPES

    def accepts(self, event: AgentEvent) -> bool:
        if self.event == "*":
            return True
        if event_type_name(event) != self.event:
            return False
        if self.name and isinstance(event, UserEvent | Query):
            return event.name == self.name
        return True


def event_type_name(event: AgentEvent) -> str:
    """Go's ``EventType().String()``: ``member-join`` ..., ``user``, ``query``."""
    if isinstance(event, MemberEvent):
        return event.type.value
    return "user" if isinstance(event, UserEvent) else "query"


def log_level_of(line: str) -> str:
    """The text between the first ``[`` and the next ``]`` (logutils), or ``""``."""
    start = line.find("[")
    if start < 0:
        return ""
    end = line.find("]", start)
    return line[start + 1 : end] if end >= 0 else ""


# -- encoding ----------------------------------------------------------------------------------


def pack(obj: object) -> bytes:
    """msgpack as Go's agent writes it: str for strings, bin for bytes, smallest ints."""
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def header(seq: int, error: str = "") -> bytes:
    """A response header; keys in Go's struct order (alphabetical)."""
    return pack({"Error": error, "Seq": seq})


def member_record(member: Member) -> dict[str, Any]:
    """A member as Go's IPC ``Member`` struct (``Addr`` raw 4/16 bytes, keys alphabetical)."""
    pmin, pmax, pcur = member.protocol
    dmin, dmax, dcur = member.delegate
    return {
        "Addr": ip_bytes(member.addr.host),
        "DelegateCur": dcur,
        "DelegateMax": dmax,
        "DelegateMin": dmin,
        "Name": member.name,
        "Port": member.addr.port,
        "ProtocolCur": pcur,
        "ProtocolMax": pmax,
        "ProtocolMin": pmin,
        "Status": str(member.status),
        "Tags": dict(member.tags),
    }


def ip_bytes(host: str) -> bytes:
    """Go's ``net.IP`` bytes of an address literal; empty for a non-IP host."""
    try:
        return ipaddress.ip_address(host).packed
    except ValueError:
        return b""


def nil_if_empty(payload: bytes) -> bytes | None:
    return payload or None
