"""Helpers for the Serf simulator tests: a ``SerfNode`` factory and trace queries."""

from __future__ import annotations

import random
from typing import Any

from serf_proto.events import MemberEvent, MemberEventType, UserEvent
from serf_proto.serf import RecoveredState, SerfConfig, SerfNode
from serf_proto.sim.world import NodeFactory, SimNode, World
from serf_proto.types import Address


def serf_factory(
    profile: str = "lan",
    *,
    recovered: dict[str, RecoveredState] | None = None,
    ml: dict[str, Any] | None = None,
    per_node: dict[str, dict[str, Any]] | None = None,
    node_names: dict[str, str] | None = None,
    **overrides: Any,
) -> NodeFactory:
    """Build ``SerfNode``s on ``profile``; ``recovered`` maps a name to its snapshot state,
    ``per_node`` gives per-node ``SerfConfig`` overrides and ``node_names`` lets a simulated
    node use another node's name (an impostor)."""

    def make(world: World, name: str, addr: Address, rng: random.Random, now: float) -> SimNode:
        serf_name = (node_names or {}).get(name, name)
        values = dict(overrides)
        values.update((per_node or {}).get(name, {}))
        config = SerfConfig.build(serf_name, profile=profile, bind=addr, memberlist=ml, **values)
        state = (recovered or {}).pop(name, None)
        return SerfNode(config, now=now, rng=rng, entropy=rng.randbytes, recovered=state)

    return make


def serf(world: World, name: str) -> SerfNode:
    """The running ``SerfNode`` called ``name``."""
    node = world.node(name)
    assert isinstance(node, SerfNode)
    return node


def build_cluster(world: World, names: list[str], *, settle: float = 10.0) -> None:
    """Add ``names`` and join each to the first one, then run ``settle`` seconds."""
    for name in names:
        world.add_node(name)
    seed = world.address(names[0])
    for name in names[1:]:
        world.call(name, lambda n, now: n.join([seed], now))
    world.run_for(settle)


def alive_everywhere(world: World, names: list[str]) -> bool:
    """Every running node sees every name in ``names`` alive."""
    for viewer in world.running():
        seen = {m.name: m.status for m in serf(world, viewer).members()}
        if any(str(seen.get(n)) != "alive" for n in names):
            return False
    return True


def user_events(world: World) -> list[tuple[str, UserEvent]]:
    """Every ``UserEvent`` in the trace as ``(node, event)``."""
    return [(e.node, e.item) for e in world.trace if isinstance(e.item, UserEvent)]


def member_events(world: World, etype: MemberEventType) -> list[tuple[str, str]]:
    """``(viewer, member)`` for every member event of ``etype`` in the trace."""
    return [
        (e.node, m.name)
        for e in world.trace
        if isinstance(e.item, MemberEvent) and e.item.type is etype
        for m in e.item.members
    ]
