"""A deterministic simulator for sans-IO nodes: virtual time, a faulty network, crash/pause.

Example::

    from serf_proto.sim import World, memberlist_factory

    world = World(seed=1, factory=memberlist_factory("lan"))
    for i in range(5):
        world.add_node(f"n{i}")
    seed_addr = world.address("n0")
    for name in world.names()[1:]:
        world.call(name, lambda node, now: node.join([seed_addr], now))
    world.run_for(10.0)
    assert all(world.node(n).num_members() == 5 for n in world.names())
"""

from serf_proto.sim.memberlist_node import NodeEvent, RecordingDelegate, memberlist_factory
from serf_proto.sim.network import LinkSpec, Network
from serf_proto.sim.world import NodeFactory, SimNode, SimStats, TraceEntry, World

__all__ = [
    "LinkSpec",
    "Network",
    "NodeEvent",
    "NodeFactory",
    "RecordingDelegate",
    "SimNode",
    "SimStats",
    "TraceEntry",
    "World",
    "memberlist_factory",
]
