"""The chaos scenario: seeded fault schedules on simulated Serf clusters keep every invariant.

Each seed draws a schedule of faults (loss bursts, one-way cuts, islands, pauses longer than
the suspicion timeout, crashes with fresh restarts, joins, leaves, tag updates, user events,
queries and Go-crashing input) on a 20-node cluster; after a quiet period every invariant of
``serf_proto.simulate.chaos`` must hold. The property test draws schedules as subsets of a
seeded schedule, so a failure shrinks to the fewest actions that still break an invariant.
"""

from __future__ import annotations

import logging
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serf_proto.simulate import ScenarioSpec, run_scenario
from serf_proto.simulate.chaos import INVARIANTS, run_chaos
from serf_proto.simulate.chaos_schedule import ACTION_KINDS, Action, ChaosPlan, make_schedule

#: Seeds run in CI (about 1.1 s each on one core); ``PYSERF_CHAOS_SEEDS=100`` runs more.
CI_SEEDS = range(1, 1 + int(os.environ.get("PYSERF_CHAOS_SEEDS", "20")))


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_a_seeded_chaos_schedule_keeps_every_invariant(seed: int) -> None:
    outcome, _world = run_chaos(seed, 20)
    assert [v.to_dict() for v in outcome.violations] == []
    assert outcome.events_sent > 0


def test_the_same_seed_replays_the_same_run() -> None:
    spec = ScenarioSpec(nodes=12, scenario="chaos", seed=5)
    first, second = run_scenario(spec).to_dict(), run_scenario(spec).to_dict()
    assert first == second
    assert first["invariants"] == list(INVARIANTS)
    assert first["violations"] == []
    assert {a["kind"] for a in first["schedule"]} <= set(ACTION_KINDS)


def test_schedules_cover_every_kind_of_action_across_seeds() -> None:
    kinds = {a.kind for seed in range(1, 41) for a in make_schedule(seed, 20).actions}
    assert kinds == set(ACTION_KINDS)


def test_a_violation_names_the_invariant_time_and_nodes() -> None:
    # The checker's own test: a split held until one second before the check cannot have
    # healed, so ``converged`` must be reported with the time and the nodes concerned.
    names = [f"n{i}" for i in range(8)]
    plan = ChaosPlan(names, [Action(5.0, "islands", tuple(names), 40.0, (4, 4))], 40.0, 41.0)
    outcome, _ = run_chaos(1, 8, plan=plan)
    assert outcome.violations
    v = outcome.violations[0]
    assert v.invariant == "converged"
    assert v.at == 41.0 and len(v.nodes) == 2


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 10_000), st.lists(st.booleans(), min_size=40, max_size=40))
def test_any_subset_of_a_schedule_keeps_every_invariant(seed: int, keep: list[bool]) -> None:
    plan = make_schedule(seed, 8)
    plan.actions = [a for a, k in zip(plan.actions, keep, strict=False) if k]
    plan.joined = [n for n in plan.joined if any(a.nodes == (n,) for a in plan.actions)]
    outcome, _ = run_chaos(seed, 8, plan=plan)
    assert [v.to_dict() for v in outcome.violations] == []
