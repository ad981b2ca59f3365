"""What a chaos run reports: the invariants it checks, its violations and its figures.

The invariants themselves are explained in :mod:`serf_proto.simulate.chaos` and, with why each
must hold, in docs/reliability.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from serf_proto.simulate.chaos_schedule import ChaosPlan

__all__ = ["INVARIANTS", "ChaosOutcome", "Violation"]

INVARIANTS = (
    "converged",
    "events_exactly_once",
    "lamport_monotonic",
    "query_responses_selected",
    "no_majority_false_failure",
    "no_exception",
    "refused_inputs_counted",
    "bounded",
    "keys_agree",
)


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    at: float
    nodes: tuple[str, ...]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "invariant": self.invariant,
            "at": round(self.at, 3),
            "nodes": list(self.nodes),
            "detail": self.detail,
        }


@dataclass(slots=True)
class ChaosOutcome:
    """What one chaos run checked and found (see the module docstring)."""

    plan: ChaosPlan
    violations: list[Violation] = field(default_factory=list)
    false_failures: int = 0
    events_sent: int = 0
    deliveries_checked: int = 0
    queries: int = 0
    skipped: list[str] = field(default_factory=list)
    rotation: str | None = None
    #: Nodes that left while cut off from the majority and are seen ``failed`` (a figure).
    leaves_seen_failed: set[str] = field(default_factory=set)
    #: Protected nodes a majority declared failed at some point, refuted at once (a figure).
    majority_declared: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "invariants": list(INVARIANTS),
            "violations": [v.to_dict() for v in self.violations],
            "false_failures": self.false_failures,
            "majority_declared_then_refuted": self.majority_declared,
            "faults_end_s": self.plan.faults_end,
            "quiet_end_s": self.plan.quiet_end,
            "user_events_sent": self.events_sent,
            "event_deliveries_checked": self.deliveries_checked,
            "queries_sent": self.queries,
            "skipped_actions": self.skipped,
            "key_rotation": self.rotation,
            "left_while_cut_off_seen_failed": sorted(self.leaves_seen_failed),
            "schedule": [a.to_dict() for a in self.plan.actions],
        }
