"""The merge rules for alive / suspect / dead news, as pure decisions (Go ``state.go``).

Each function looks at what we know about a node and at one incoming message and returns a
:class:`Verdict`; the core then carries it out (state change, broadcast, events). Keeping the
decisions here, free of side effects, makes the precedence rules testable as a table:

* Only the node itself raises its incarnation; news with an older incarnation is ignored.
* An alive needs a *newer* incarnation to override (equal is enough only for our own node,
  which refutes unless the message matches exactly what we gossip).
* A suspect needs an equal-or-newer incarnation and only hits an ALIVE node; a suspect for an
  already-suspected node is a *confirmation* (Lifeguard).
* A dead needs an equal-or-newer incarnation and hits ALIVE or SUSPECT nodes.
* Accusations (suspect/dead) about ourselves are refuted, unless we are leaving (dead only).
* A different address for a known name is a *conflict* unless the old node left, or has been
  dead longer than the reclaim time.
* (pyserf) A *stale* alive, one no newer than the suspect or dead incarnation we hold, means
  the node has not heard what it is accused of (typically: it restarted while the accusation
  circulated). We hand the accusation straight back to it so that it refutes; Go ignores the
  message and the node may stay dead in our view until a lucky push/pull.
* (pyserf) A node nobody has pinged for ``unprobed_push_pull`` probe intervals is missing from
  its peers' tables (typically: it restarted while they held it dead, and the peers that
  joined since learned it only as dead, which they ignore for an unknown node): it
  pushes/pulls with a random peer, which then learns and gossips its alive. In a healthy
  cluster every node is pinged about once per probe interval, so the check rarely fires.
"""

from __future__ import annotations

from enum import Enum

from serf_proto.types import NodeState

__all__ = [
    "Verdict",
    "alive_verdict",
    "dead_verdict",
    "resend_accusation",
    "suspect_verdict",
    "unprobed_push_pull",
]


class Verdict(Enum):
    """What to do with one piece of news."""

    IGNORE = "ignore"
    APPLY = "apply"
    REFUTE = "refute"
    CONFIRM = "confirm"
    CONFLICT = "conflict"


def alive_verdict(
    *,
    known_state: NodeState | None,
    known_incarnation: int,
    incarnation: int,
    is_local: bool,
    address_changed: bool,
    can_reclaim: bool,
    bootstrap: bool,
    identical_to_local: bool,
) -> Verdict:
    """Decide an alive message about a node (``known_state`` None: unknown node)."""
    if known_state is None:
        return Verdict.APPLY
    updates_address = False
    if address_changed:
        if known_state == NodeState.LEFT or (known_state == NodeState.DEAD and can_reclaim):
            updates_address = True
        else:
            return Verdict.CONFLICT
    if not is_local and not updates_address and incarnation <= known_incarnation:
        return Verdict.IGNORE
    if is_local and incarnation < known_incarnation:
        return Verdict.IGNORE
    if is_local and not bootstrap:
        if incarnation == known_incarnation and identical_to_local:
            return Verdict.IGNORE
        return Verdict.REFUTE
    return Verdict.APPLY


def suspect_verdict(
    *,
    known_state: NodeState | None,
    known_incarnation: int,
    incarnation: int,
    is_local: bool,
    suspected: bool,
) -> Verdict:
    """Decide a suspect message (``suspected``: a suspicion timer already runs for the node)."""
    if known_state is None or incarnation < known_incarnation:
        return Verdict.IGNORE
    if suspected:
        return Verdict.CONFIRM
    if known_state != NodeState.ALIVE:
        return Verdict.IGNORE
    if is_local:
        return Verdict.REFUTE
    return Verdict.APPLY


def dead_verdict(
    *,
    known_state: NodeState | None,
    known_incarnation: int,
    incarnation: int,
    is_local: bool,
    leaving: bool,
) -> Verdict:
    """Decide a dead message (also the leave of a node: ``from == node``)."""
    if known_state is None or incarnation < known_incarnation:
        return Verdict.IGNORE
    if known_state >= NodeState.DEAD:
        return Verdict.IGNORE
    if is_local and not leaving:
        return Verdict.REFUTE
    return Verdict.APPLY


def resend_accusation(
    *,
    known_state: NodeState | None,
    known_incarnation: int,
    incarnation: int,
    is_local: bool,
    since_last: float | None,
    min_gap: float,
) -> bool:
    """Whether a stale alive about a node we hold suspect or dead earns the node our accusation.

    ``since_last``: seconds since we last sent it one (None: never); at most one per
    ``min_gap`` so a stale alive retransmitted by gossip costs one packet, not one per copy."""
    if is_local or known_state not in (NodeState.SUSPECT, NodeState.DEAD):
        return False
    if incarnation > known_incarnation:
        return False
    return since_last is None or since_last >= min_gap


def unprobed_push_pull(
    *, since_pinged: float, probe_interval: float, rounds: int, has_peers: bool
) -> bool:
    """Whether going unpinged for ``since_pinged`` seconds means our peers have lost us, so
    we push/pull with one of them (``rounds`` 0: never, as Go; no live peer: nobody to ask)."""
    if rounds <= 0 or not has_peers:
        return False
    return since_pinged >= rounds * probe_interval
