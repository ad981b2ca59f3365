"""The probe walk: every round visits every other node once, in a fresh random order."""

from __future__ import annotations

import random

from serf_proto.config import MemberlistConfig
from serf_proto.memberlist import Memberlist
from serf_proto.memberlist.state import Node
from serf_proto.sim import World
from serf_proto.sim.memberlist_node import RecordingDelegate
from serf_proto.sim.world import SimNode
from serf_proto.types import Address

NODES = 8


class ProbeLog(RecordingDelegate):
    """Records, for its node, the target of every acked direct probe."""

    def __init__(self, world: World, owner: str, log: list[str]) -> None:
        super().__init__(world, owner)
        self.log = log

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes, now: float) -> None:
        self.log.append(node.name)


def test_each_probe_round_is_a_random_permutation_of_the_other_nodes() -> None:
    probed: list[str] = []

    def make(world: World, name: str, addr: Address, rng: random.Random, now: float) -> SimNode:
        config = MemberlistConfig.lan(name).replace(bind_addr=addr.host, bind_port=addr.port)
        delegate = ProbeLog(world, name, probed) if name == "n0" else RecordingDelegate(world, name)
        return Memberlist(config, delegate, now=now, rng=rng, entropy=rng.randbytes)

    world = World(seed=4, factory=make, keep_trace=False)
    for i in range(NODES):
        world.add_node(f"n{i}")
    seed = world.address("n0")
    for name in world.names()[1:]:
        world.call(name, lambda node, now: node.join([seed], now))
    world.run_for(2 * NODES)  # joined, and at least one full round since
    probed.clear()
    world.run_for(6 * NODES)
    others = {f"n{i}" for i in range(1, NODES)}
    size = NODES - 1
    aligned = [
        offset
        for offset in range(size)
        if all(
            set(probed[i : i + size]) == others for i in range(offset, len(probed) - size + 1, size)
        )
    ]
    assert len(probed) >= 4 * size and aligned, probed
    rounds = [tuple(probed[i : i + size]) for i in range(aligned[0], len(probed) - size + 1, size)]
    assert len(set(rounds)) == len(rounds)  # each round drew its own order
