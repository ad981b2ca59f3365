"""The ``restart`` scenario: a wave of restarts while accusations about the old instances fly.

A share (``restart_share``) of the nodes, drawn from the seed, is restarted one after another,
evenly over ``restart_spread`` seconds from ``trigger_at``. Each is crashed and started again
``restart_downtime`` seconds later at the same address, either fresh (it joins a random running
node, as an operator's ``serf agent -join`` would) or, with ``from_snapshot``, with a snapshot
that lists every other node (it rejoins them one at a time, as ``-snapshot`` does). A fresh
instance starts at incarnation 1, the same as or below what its peers hold; meanwhile the
probes its old instance missed turn into suspicions and then into ``dead`` news about it (the
default downtime, 8 s, is about a LAN suspicion timeout, so many end around the restart). That
is the race of hashicorp/memberlist#222 and hashicorp/serf#605: a peer that learns the
accusation after it saw the new instance's alive holds a live node dead, and in Go nothing but a
lucky push/pull tells the node, so nothing makes it refute.

The curve is measured from the end of the wave (the last restart): when each node's view first
holds every node alive again. ``wrong_pairs`` counts the (viewer, node) pairs of running nodes
where the viewer does not see the node alive when the run ends.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from serf_proto.serf import SerfNode
from serf_proto.serf.snapshot import PreviousNode, RecoveredState
from serf_proto.sim.world import NodeFactory, World
from serf_proto.simulate.spec import ScenarioSpec
from serf_proto.types import Address

__all__ = ["Action", "restart_wave", "wrong_pairs"]


#: ``(at, what)``: the runner runs the world until ``at`` and then calls ``what()``.
Action = tuple[float, Callable[[], None]]


def restart_wave(
    world: World,
    spec: ScenarioSpec,
    names: list[str],
    make: Callable[[dict[str, RecoveredState]], NodeFactory],
    on_restart: Callable[[str], None],
) -> tuple[list[Action], float]:
    """The wave's actions in time order, and when the wave ends (the last node is up again).

    ``make(recovered)`` builds the factory for the restarted instances (it pops a node's
    snapshot state from ``recovered``); ``on_restart(name)`` runs right after each restart."""
    pick = random.Random(f"{spec.seed}/restart")
    count = max(1, round(spec.restart_share * len(names)))
    victims = pick.sample(names, count)
    step = spec.restart_spread / max(count - 1, 1) if count > 1 else 0.0
    recovered: dict[str, RecoveredState] = {}
    factory = make(recovered)
    actions: list[Action] = []
    for i, victim in enumerate(victims):
        down_at = spec.trigger_at + i * step
        up_at = down_at + spec.restart_downtime

        def crash(victim: str = victim) -> None:
            world.crash(victim)

        def start(victim: str = victim) -> None:
            if spec.from_snapshot:
                recovered[victim] = RecoveredState(alive=_previous(world, names, victim))
            world.restart(victim, factory=factory)
            on_restart(victim)
            if not spec.from_snapshot:
                peers = [n for n in world.running() if n != victim]
                if peers:
                    seed = world.address(pick.choice(peers))
                    world.call(victim, lambda node, now: _join(node, seed, now))

        actions.append((down_at, crash))
        actions.append((up_at, start))
    actions.sort(key=lambda a: a[0])
    end = spec.trigger_at + (count - 1) * step + spec.restart_downtime
    return actions, end


def _previous(world: World, names: list[str], me: str) -> tuple[PreviousNode, ...]:
    out = []
    for name in names:
        if name != me:
            addr = world.address(name)
            out.append(PreviousNode(name, f"{addr.host}:{addr.port}"))
    return tuple(out)


def _join(node: SerfNode, seed: Address, now: float) -> None:
    node.join([seed], now)


def wrong_pairs(world: World) -> int:
    """(viewer, node) pairs of running nodes where the viewer does not see the node alive."""
    running = world.running()
    wrong = 0
    for viewer in running:
        node = world.node(viewer)
        assert isinstance(node, SerfNode)
        status = {m.name: m.status for m in node.members()}
        wrong += sum(1 for n in running if n != viewer and status.get(n) != "alive")
    return wrong
