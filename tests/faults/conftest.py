"""Fixtures for the fault tier: a namespace lab per test, torn down whatever happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.faults.cluster import GO, PY, AgentKind, Cluster, build_cluster
from tests.faults.netlab import NetLab, sweep_stale

MIXES: dict[str, tuple[AgentKind, ...]] = {
    "go": (GO,),
    "py": (PY,),
    "mixed": (GO, PY),
}


def kinds_for(mix: str, size: int) -> list[AgentKind]:
    """Agent kinds for a cluster of `size`: one kind, or kinds alternating node by node."""
    cycle = MIXES[mix]
    return [cycle[i % len(cycle)] for i in range(size)]


ClusterFactory = Callable[..., Cluster]


@pytest.fixture(scope="session", autouse=True)
def _sweep_stale_labs() -> None:
    sweep_stale()


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[ClusterFactory]:
    """Factory: ``make_cluster(kinds, handler_filter="", **agent_options) -> started Cluster``.

    Every lab built through it is destroyed at teardown (processes killed by PID, chains
    flushed, namespaces deleted), also when the test fails or the build itself fails.
    """
    labs: list[NetLab] = []

    def build(
        kinds: Sequence[AgentKind],
        *,
        handler_filter: str = "",
        extra_config: dict[str, object] | None = None,
        start: bool = True,
    ) -> Cluster:
        cluster = build_cluster(
            kinds, tmp_path, handler_filter=handler_filter, extra_config=extra_config
        )
        labs.append(cluster.lab)
        if start:
            cluster.start()
        return cluster

    yield build
    errors = [err for lab in labs for err in lab.destroy()]
    assert not errors, f"lab teardown failed: {errors}"
