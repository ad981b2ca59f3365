"""Protocol version ranges (``Vsn``) and Go's compatibility check for push/pull merges.

Every node gossips six version bytes ``[PMin, PMax, PCur, DMin, DMax, DCur]``: the memberlist
and delegate (Serf) protocol ranges it understands and the versions it speaks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from serf_proto.memberlist.state import NodeRecord
from serf_proto.types import NodeState
from serf_proto.wire.messages import PushNodeState

__all__ = ["NO_VSN", "Vsn", "valid_alive_vsn", "verify_protocol", "vsn_tuple"]

Vsn = tuple[int, int, int, int, int, int]
NO_VSN: Vsn = (0, 0, 0, 0, 0, 0)


@lru_cache(maxsize=1024)
def vsn_tuple(vsn: bytes) -> Vsn:
    """The six version numbers of a 6-byte ``Vsn`` field (shared between callers)."""
    return (vsn[0], vsn[1], vsn[2], vsn[3], vsn[4], vsn[5])


def valid_alive_vsn(vsn: bytes) -> bool:
    """Go's sanity check on an alive's versions: an empty Vsn passes; otherwise six bytes
    with a non-zero, ordered memberlist range."""
    if not vsn:
        return True
    return len(vsn) == 6 and vsn[0] != 0 and vsn[1] != 0 and vsn[0] <= vsn[1]


def _incompatible(name: str, what: str, cur: int, low: int, high: int) -> str:
    return f"Node '{name}' {what} version ({cur}) is incompatible: [{low}, {high}]"


def verify_protocol(remote: Sequence[PushNodeState], local: Iterable[NodeRecord]) -> str | None:
    """Go ``verifyProtocol``: the versions every node speaks must lie in the range every alive
    node understands. Returns the error text, or None when the merge may go ahead."""
    local = list(local)
    # Clusters speak a handful of distinct version sets: check those, and name a node only
    # when one is out of range.
    alive_remote = {s.vsn for s in remote if len(s.vsn) == 6 and s.state == 0}
    ranges: list[Vsn] = [vsn_tuple(v) for v in alive_remote]
    ranges.extend({rec.vsn for rec in local if rec.state == NodeState.ALIVE})
    if not ranges:
        return None
    max_pmin = max(v[0] for v in ranges)
    min_pmax = min(v[1] for v in ranges)
    max_dmin = max(v[3] for v in ranges)
    min_dmax = min(v[4] for v in ranges)
    spoken = {vsn_tuple(v) if len(v) == 6 else NO_VSN for v in {s.vsn for s in remote}}
    spoken.update(rec.vsn for rec in local)
    if all(max_pmin <= v[2] <= min_pmax and max_dmin <= v[5] <= min_dmax for v in spoken):
        return None
    speakers = [(s.name, vsn_tuple(s.vsn) if len(s.vsn) == 6 else NO_VSN) for s in remote]
    speakers.extend((rec.name, rec.vsn) for rec in local)
    for name, v in speakers:
        if not max_pmin <= v[2] <= min_pmax:
            return _incompatible(name, "protocol", v[2], max_pmin, min_pmax)
        if not max_dmin <= v[5] <= min_dmax:
            return _incompatible(name, "delegate protocol", v[5], max_dmin, min_dmax)
    return None
