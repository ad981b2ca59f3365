"""A converged start shares one table among all nodes; each node's changes stay its own."""

from __future__ import annotations

import pytest
from serf_proto.errors import InvalidState
from serf_proto.serf import SerfNode
from serf_proto.sim.world import World
from serf_proto.simulate import converge, serf_sim_factory
from serf_proto.types import MemberStatus, NodeState

NODES = 30


def converged_world(seed: int = 5) -> tuple[World, list[str]]:
    world = World(seed=seed, factory=serf_sim_factory("lan"), keep_trace=False)
    names = [f"n{i}" for i in range(NODES)]
    for name in names:
        world.add_node(name)
    return world, names


def serf(world: World, name: str) -> SerfNode:
    node = world.node(name)
    assert isinstance(node, SerfNode)
    return node


def test_after_a_converged_start_each_node_owns_only_its_own_record() -> None:
    world, names = converged_world()
    tables = converge(world, names)
    assert tables is not None and len(tables.nodes.records) == NODES
    for name in names:
        node = serf(world, name)
        assert node.shared_start().owned_records == 1
        assert node.memberlist.num_members() == NODES
        assert node.local_member().name == name


def test_a_crash_is_recorded_in_each_node_privately_and_the_shared_base_stays_alive() -> None:
    world, names = converged_world()
    tables = converge(world, names)
    assert tables is not None
    victim = "n7"
    world.run_for(2.0)
    world.crash(victim)
    world.run_for(30.0)
    for name in names:
        if name == victim:
            continue
        node = serf(world, name)
        assert node.memberlist.node_state(victim) == NodeState.DEAD
        status = {m.name: m.status for m in node.members()}
        assert status[victim] == MemberStatus.FAILED
        assert sum(s == MemberStatus.ALIVE for s in status.values()) == NODES - 1
        # Its own record plus the victim's; nothing else was copied.
        assert node.shared_start().owned_records <= 3
    assert tables.nodes.records[victim].state == NodeState.ALIVE
    assert tables.members[victim].status == MemberStatus.ALIVE


def test_a_refutation_raises_only_the_refuting_nodes_incarnation() -> None:
    world, names = converged_world(seed=11)
    converge(world, names)
    world.run_for(1.0)
    suspect = "n3"
    before = serf(world, suspect).memberlist.local_node.incarnation
    world.pause(suspect, 3.0)  # long enough to be suspected, not declared dead
    world.run_for(3.0)
    world.run_for(20.0)
    after = serf(world, suspect).memberlist.local_node.incarnation
    assert after > before
    for name in names:
        seen = serf(world, name).memberlist.node(suspect)
        assert seen is not None and seen.state == NodeState.ALIVE


def test_only_a_fresh_node_can_adopt_tables() -> None:
    world, names = converged_world()
    tables = converge(world, names)
    assert tables is not None
    with pytest.raises(InvalidState):
        world.call(names[1], lambda node, now: node.shared_start().adopt(tables, now))
