"""Scenario runs of real Serf nodes on the deterministic simulator (``serf simulate``).

Example::

    from serf_proto.simulate import ScenarioSpec, run_scenario

    result = run_scenario(ScenarioSpec(nodes=50, scenario="event", seed=1, duration=10.0))
    print(result.dissemination)   # seconds until 50 %, 99 %, 99.99 % and all nodes had it

Everything here is pure: the caller measures wall time and memory.
"""

from serf_proto.simulate.cluster import converge, serf_sim_factory
from serf_proto.simulate.curves import ArrivalCurve, share_time
from serf_proto.simulate.report import render_text
from serf_proto.simulate.runner import SimulationResult, run_scenario
from serf_proto.simulate.spec import SCENARIOS, ScenarioError, ScenarioSpec

__all__ = [
    "SCENARIOS",
    "ArrivalCurve",
    "ScenarioError",
    "ScenarioSpec",
    "SimulationResult",
    "converge",
    "render_text",
    "run_scenario",
    "serf_sim_factory",
    "share_time",
]
