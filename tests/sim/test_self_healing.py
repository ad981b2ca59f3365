"""Self-healing on simulated clusters: a long partition and a restart wave, pyserf's rules
beside Go's on the same seed (``go_faithful``)."""

from __future__ import annotations

import pytest
from serf_proto.simulate import ScenarioError, ScenarioSpec, run_scenario


def _run(**kw: object) -> dict[str, object]:
    return run_scenario(ScenarioSpec(fast_wire=True, **kw)).to_dict()  # type: ignore[arg-type]


def _all(out: dict[str, object]) -> float | None:
    dissemination = out["dissemination"]
    assert isinstance(dissemination, dict)
    value = dissemination["all"]
    assert value is None or isinstance(value, float)
    return value


def test_a_partition_longer_than_gossip_to_the_dead_time_heals_within_seconds() -> None:
    spec = {"nodes": 20, "scenario": "partition", "heal_after": 45.0, "duration": 25.0}
    ours = _run(**spec)
    go = _run(**spec, go_faithful=True)
    ours_all, go_all = _all(ours), _all(go)
    assert ours_all is not None and ours_all < 5.0
    assert go_all is None or go_all > ours_all  # Go waits for the reconnector
    assert ours["wrong_pairs"] == 0
    assert ours["go_faithful"] is False and go["go_faithful"] is True


@pytest.mark.parametrize("from_snapshot", [False, True])
def test_a_rolling_restart_leaves_no_wrong_pairs(from_snapshot: bool) -> None:
    out = _run(
        nodes=40,
        scenario="restart",
        restart_spread=10.0,
        duration=30.0,
        from_snapshot=from_snapshot,
    )
    assert out["wrong_pairs"] == 0
    assert out["population"] == 40
    assert out["from_snapshot"] is from_snapshot
    assert _all(out) is not None


def test_a_restart_wave_converges_faster_than_under_go_rules() -> None:
    spec = {"nodes": 40, "scenario": "restart", "restart_spread": 10.0, "duration": 30.0}
    ours, go = _all(_run(**spec)), _all(_run(**spec, go_faithful=True))
    assert ours is not None and go is not None
    assert ours < 5.0 < go  # seed 1: a node nobody knows any more waits for a push/pull in Go


def test_restart_parameters_are_checked() -> None:
    with pytest.raises(ScenarioError):
        ScenarioSpec(nodes=4, scenario="restart", restart_share=0.0)
    with pytest.raises(ScenarioError):
        ScenarioSpec(nodes=4, scenario="restart", restart_downtime=-1.0)
