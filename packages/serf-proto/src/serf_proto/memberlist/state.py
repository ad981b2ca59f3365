"""The node table's records, the read-only ``Node`` view, and address conversion.

``NodeRecord`` is the hot, mutable, slotted entry the core keeps per known node (Go
``nodeState``). ``Node`` is the frozen snapshot handed to delegates and returned by
``members()``; it never changes under the reader's feet.

Addresses travel on the wire as 4- or 16-byte IPs; the core keeps both forms (``addr`` as an
``Address`` for outputs, ``ip`` as the raw bytes for messages), converting once per change.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from serf_proto.types import Address, NodeState

__all__ = ["Node", "NodeRecord", "SharedNodes", "ip_bytes", "ip_text", "ip_text_or", "node_address"]


@lru_cache(maxsize=65536)
def ip_text(raw: bytes) -> str:
    """The text form of a 4- or 16-byte IP (IPv4-in-IPv6 becomes dotted quad); '' if invalid."""
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def ip_text_or(raw: bytes, default: str) -> str:
    """The text form of IP bytes, or ``default`` when they are not an IP."""
    return ip_text(raw) or default


@lru_cache(maxsize=65536)
def ip_bytes(host: str) -> bytes:
    """The 4- or 16-byte wire form of an IP literal; b'' if ``host`` is not an IP literal."""
    try:
        return ipaddress.ip_address(host).packed
    except ValueError:
        return b""


@lru_cache(maxsize=65536)
def node_address(ip: bytes, port: int) -> Address:
    """The (shared) ``Address`` of a wire IP and port; big tables reuse one object per node."""
    return Address(ip_text(ip), port)


@dataclass(frozen=True, slots=True)
class Node:
    """A read-only snapshot of one node as memberlist knows it.

    ``vsn`` is ``(pmin, pmax, pcur, dmin, dmax, dcur)``: the memberlist and delegate protocol
    ranges the node gossips. ``state_change`` is the ``now`` (seconds) of its last state change.
    """

    name: str
    addr: Address
    meta: bytes
    state: NodeState
    incarnation: int
    vsn: tuple[int, int, int, int, int, int]
    state_change: float = 0.0

    @property
    def pmax(self) -> int:
        """Highest memberlist protocol version the node understands."""
        return self.vsn[1]


class NodeRecord:
    """The core's mutable entry for one node (Go ``nodeState``)."""

    __slots__ = (
        "addr",
        "incarnation",
        "ip",
        "meta",
        "name",
        "state",
        "state_change",
        "vsn",
        "wire_cache",
    )

    def __init__(
        self,
        name: str,
        ip: bytes,
        port: int,
        meta: bytes,
        incarnation: int,
        state: NodeState,
        vsn: tuple[int, int, int, int, int, int],
        state_change: float,
    ) -> None:
        self.name = sys.intern(name)
        self.ip = ip
        self.addr = node_address(ip, port)
        self.meta = meta
        self.incarnation = incarnation
        self.state = state
        self.vsn = vsn
        self.state_change = state_change
        #: This record's encoded push/pull node state; whoever changes a field resets it.
        self.wire_cache: bytes | None = None

    def set_address(self, ip: bytes, port: int) -> None:
        """Move the node to ``ip:port``."""
        if ip != self.ip or port != self.addr.port:
            self.ip = ip
            self.addr = node_address(ip, port)
            self.wire_cache = None

    def copy(self) -> NodeRecord:
        """An independent record with the same fields (copy-on-write of a shared table)."""
        twin = NodeRecord.__new__(NodeRecord)
        twin.name = self.name
        twin.ip = self.ip
        twin.addr = self.addr
        twin.meta = self.meta
        twin.incarnation = self.incarnation
        twin.state = self.state
        twin.vsn = self.vsn
        twin.state_change = self.state_change
        twin.wire_cache = self.wire_cache
        return twin

    @property
    def dead_or_left(self) -> bool:
        """Whether the node is DEAD or LEFT."""
        return self.state >= NodeState.DEAD

    def snapshot(self) -> Node:
        """A frozen copy for delegates and readers."""
        return Node(
            self.name,
            self.addr,
            self.meta,
            self.state,
            self.incarnation,
            self.vsn,
            self.state_change,
        )


@dataclass(frozen=True, slots=True)
class SharedNodes:
    """A frozen node table many memberlists read copy-on-write (see ``Memberlist.share_table``).

    Nothing may change ``records`` or the records in it once it exists; ``order`` is the
    table's records in probe order.
    """

    records: Mapping[str, NodeRecord]
    order: tuple[NodeRecord, ...]
