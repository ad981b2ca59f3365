"""A seeded nemesis against a mixed Go and pyserf cluster in the namespace lab.

Loss, a partition, a pause and a kill -9 with a restart from the snapshot, in a seeded order
and on seeded victims, with user events between them; afterwards every invariant of
``tests.faults.nemesis`` must hold. ``PYSERF_NEMESIS_SEEDS=1,2,3`` runs other seeds.
"""

from __future__ import annotations

import os

import pytest

from tests.faults.conftest import ClusterFactory, kinds_for
from tests.faults.nemesis import run_nemesis

pytestmark = [pytest.mark.faults, pytest.mark.interop, pytest.mark.timeout(180)]

SEEDS = [int(s) for s in os.environ.get("PYSERF_NEMESIS_SEEDS", "1").split(",") if s]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_nemesis_on_a_mixed_cluster_keeps_every_invariant(
    make_cluster: ClusterFactory, seed: int
) -> None:
    cluster = make_cluster(kinds_for("mixed", 6))
    result = run_nemesis(cluster, seed)
    print(result)
    assert result.violations == []
    assert len(result.steps) == 4
