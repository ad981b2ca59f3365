"""Pinned trace hashes: refactors of the core must not change a seeded run by one byte.

Each case runs a seeded simulation and compares ``World.trace_hash()`` (a digest of every output
and event, with its time) with the value recorded in ``trace_golden.json``. A change that alters
what the core does on the wire, or the order in which it draws random numbers, changes the hash.
When a change is meant to alter behaviour, regenerate the file with
``python -m tests.sim.test_trace_golden --write`` and say why in the commit message.

The ``*-go-faithful`` cases run with pyserf's self-healing rules off (``heal_interval=0``,
``resend_accusations=False``, ``unprobed_push_pull=0``); they keep the hashes their default twins had before those rules
existed, which proves that switching the rules off gives back exactly the old behaviour.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from serf_proto.serf import QueryParams
from serf_proto.sim import LinkSpec, World, memberlist_factory
from serf_proto.simulate import ScenarioSpec, run_scenario

from tests.sim.serf_cluster import build_cluster, serf_factory

GOLDEN = Path(__file__).with_name("trace_golden.json")
#: Memberlist settings of Go's rules (with ``heal_interval=0`` in Serf).
GO_RULES = {"resend_accusations": False, "unprobed_push_pull": 0}


def _scenario(**kw: object) -> Callable[[], str]:
    def run() -> str:
        values: dict[str, object] = {"nodes": 12, "duration": 30.0}
        values.update(kw)
        return str(run_scenario(ScenarioSpec(**values)).trace_hash)  # type: ignore[arg-type]

    return run


def _memberlist_crash(go_faithful: bool = False) -> str:
    factory = memberlist_factory("lan", **(GO_RULES if go_faithful else {}))
    world = World(seed=7, factory=factory, link=LinkSpec(loss=0.05, jitter=0.004))
    world.trace_packets = True
    for i in range(6):
        world.add_node(f"n{i}")
    seed_addr = world.address("n0")
    for name in world.names()[1:]:
        world.call(name, lambda node, now: node.join([seed_addr], now))
    world.run_for(15.0)
    world.crash("n2")
    world.run_for(15.0)
    world.call("n3", lambda node, now: node.leave(1.0, now))
    world.run_for(10.0)
    return world.trace_hash()


def _serf_mix(go_faithful: bool = False) -> str:
    factory = serf_factory(heal_interval=0.0, ml=GO_RULES) if go_faithful else serf_factory()
    world = World(9, factory, link=LinkSpec(loss=0.05, jitter=0.005))
    world.trace_packets = True
    build_cluster(world, ["a", "b", "c", "d", "e"])
    world.call("b", lambda n, now: n.user_event("e", b"1", True, now))
    world.call("c", lambda n, now: n.query("q", b"x", QueryParams(request_ack=True), now))
    world.call("a", lambda n, now: n.set_tags({"role": "web"}, now))
    world.call("d", lambda n, now: n.list_keys(now))
    world.run_for(10.0)
    world.crash("e")
    world.run_for(20.0)
    world.call("d", lambda n, now: n.leave(now))
    world.run_for(10.0)
    world.call("a", lambda n, now: n.force_leave("e", True, now))
    world.run_for(5.0)
    return world.trace_hash()


def _serf_encrypted_keys() -> str:
    key = bytes(range(16))
    world = World(11, serf_factory(keys=(key,)), link=LinkSpec(loss=0.02))
    world.trace_packets = True
    build_cluster(world, ["a", "b", "c", "d"])
    world.call("a", lambda n, now: n.install_key(bytes(range(1, 17)), now))
    world.run_for(5.0)
    world.call("a", lambda n, now: n.use_key(bytes(range(1, 17)), now))
    world.run_for(5.0)
    world.call("b", lambda n, now: n.remove_key(key, now))
    world.run_for(5.0)
    return world.trace_hash()


CASES: dict[str, Callable[[], str]] = {
    "scenario-event-loss": _scenario(scenario="event", seed=3, loss=0.1),
    "scenario-failure": _scenario(scenario="failure", seed=4),
    "scenario-join": _scenario(scenario="join", seed=5),
    "scenario-partition": _scenario(scenario="partition", seed=6, heal_after=15.0),
    "scenario-partition-go-faithful": _scenario(
        scenario="partition", seed=6, heal_after=15.0, go_faithful=True
    ),
    "scenario-steady-udp-only": _scenario(
        scenario="steady", seed=8, loss=0.3, tcp_pings=False, lifeguard=False
    ),
    "scenario-event-fast-wire": _scenario(scenario="event", seed=9, fast_wire=True),
    "memberlist-crash-leave": _memberlist_crash,
    "memberlist-crash-leave-go-faithful": lambda: _memberlist_crash(go_faithful=True),
    "serf-mix": _serf_mix,
    "serf-mix-go-faithful": lambda: _serf_mix(go_faithful=True),
    "serf-encrypted-keys": _serf_encrypted_keys,
}


def _golden() -> dict[str, str]:
    data = json.loads(GOLDEN.read_text())
    assert isinstance(data, dict)
    return {str(k): str(v) for k, v in data.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_seeded_run_keeps_its_pinned_trace_hash(case: str) -> None:
    assert CASES[case]() == _golden()[case]


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.write_text(json.dumps({k: f() for k, f in sorted(CASES.items())}, indent=1) + "\n")
