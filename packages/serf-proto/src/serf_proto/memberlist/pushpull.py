"""Push/pull state exchange: what we send, and how a peer's table turns into news.

A push/pull carries the sender's whole node table (itself included, dead and left nodes not
yet reaped too) and the delegate's opaque state. Encoding reuses each record's last encoding;
the core resets it (``NodeRecord.wire_cache``) whenever it changes a record.

Merging follows Go's ``mergeState``: an alive entry is treated as an alive message, a left
entry as the node's own leave, and a dead or suspect entry only as a *suspicion* from us, so a
remote "dead" is never accepted outright.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from serf_proto.memberlist.state import Node, NodeRecord, ip_text
from serf_proto.memberlist.versions import NO_VSN, vsn_tuple
from serf_proto.types import Address, NodeState
from serf_proto.wire.messages import (
    Alive,
    Dead,
    PushNodeState,
    PushPullHeader,
    Suspect,
    encode_push_node_state,
    encode_push_pull_header,
)

__all__ = ["encode_local_state", "merge_news", "remote_nodes"]


def encode_local_state(nodes: Sequence[NodeRecord], user: bytes, join: bool) -> bytes:
    """``06`` + header + every node's state + ``user``, byte-identical to Go's push/pull."""
    parts = [encode_push_pull_header(PushPullHeader(len(nodes), len(user), join))]
    for rec in nodes:
        cached = rec.wire_cache
        if cached is None:
            state = PushNodeState(
                rec.name,
                rec.ip,
                rec.addr.port,
                rec.meta,
                rec.incarnation,
                int(rec.state),
                bytes(rec.vsn),
            )
            cached = rec.wire_cache = encode_push_node_state(state)
        parts.append(cached)
    parts.append(user)
    return b"".join(parts)


def merge_news(
    states: Iterable[PushNodeState],
    me: str,
    old_news: Callable[[PushNodeState], bool] | None = None,
) -> list[Alive | Dead | Suspect]:
    """The messages a peer's table amounts to, in its order (Go ``mergeState``).

    ``old_news(s)`` may say that an *alive* entry would change nothing; it is then left out
    (in a converged cluster that is nearly every entry)."""
    news: list[Alive | Dead | Suspect] = []
    for s in states:
        if s.state == NodeState.ALIVE:
            if old_news is not None and old_news(s):
                continue
            news.append(Alive(s.incarnation, s.name, s.addr, s.port, s.meta, s.vsn))
        elif s.state == NodeState.LEFT:
            news.append(Dead(s.incarnation, s.name, s.name))
        elif s.state in (NodeState.DEAD, NodeState.SUSPECT):
            news.append(Suspect(s.incarnation, s.name, me))
    return news


def remote_nodes(states: Iterable[PushNodeState]) -> list[Node]:
    """A peer's table as read-only nodes, for the merge delegate's veto."""
    return [
        Node(
            s.name,
            Address(ip_text(s.addr), s.port),
            s.meta,
            NodeState(s.state) if 0 <= s.state <= 3 else NodeState.DEAD,
            s.incarnation,
            vsn_tuple(s.vsn) if len(s.vsn) == 6 else NO_VSN,
        )
        for s in states
    ]
