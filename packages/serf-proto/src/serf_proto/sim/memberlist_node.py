"""Simulated bare-memberlist nodes: a factory and a delegate that records node events.

``memberlist_factory(profile, **overrides)`` builds a :class:`~serf_proto.sim.world.NodeFactory`
for a :class:`~serf_proto.memberlist.Memberlist` whose delegate writes every join, leave
(dead/left) and update it sees into the world's trace as a :class:`NodeEvent`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from serf_proto.config import MemberlistConfig
from serf_proto.memberlist.core import Memberlist
from serf_proto.memberlist.delegate import NullDelegate
from serf_proto.memberlist.state import Node
from serf_proto.sim.world import NodeFactory, SimNode, World
from serf_proto.types import Address, NodeState
from serf_proto.wire.keyring import Keyring

__all__ = ["NodeEvent", "RecordingDelegate", "memberlist_factory"]


@dataclass(frozen=True, slots=True)
class NodeEvent:
    """Node ``name`` became ``state`` (join: ALIVE; leave: DEAD or LEFT; update: ALIVE)."""

    kind: str
    name: str
    state: NodeState
    incarnation: int


class RecordingDelegate(NullDelegate):
    """A delegate that records node events into the world's trace."""

    def __init__(self, world: World, owner: str, meta: bytes = b"") -> None:
        self.world = world
        self.owner = owner
        self.meta = meta

    def node_meta(self, limit: int, now: float) -> bytes:
        return self.meta[:limit]

    def notify_join(self, node: Node, now: float) -> None:
        self.world.record(self.owner, NodeEvent("join", node.name, node.state, node.incarnation))

    def notify_leave(self, node: Node, now: float) -> None:
        self.world.record(self.owner, NodeEvent("leave", node.name, node.state, node.incarnation))

    def notify_update(self, node: Node, now: float) -> None:
        self.world.record(self.owner, NodeEvent("update", node.name, node.state, node.incarnation))


def memberlist_factory(
    profile: str = "lan", *, keys: Sequence[bytes] = (), **overrides: Any
) -> NodeFactory:
    """A factory of recorded ``Memberlist`` nodes with the ``profile`` defaults and overrides.

    ``keys`` (primary first) gives every node its own keyring with those keys.
    """

    def make(world: World, name: str, addr: Address, rng: random.Random, now: float) -> SimNode:
        config = MemberlistConfig.profile(
            profile, name, bind_addr=addr.host, bind_port=addr.port, **overrides
        )
        keyring = Keyring(keys) if keys else None
        return Memberlist(
            config,
            RecordingDelegate(world, name),
            now=now,
            rng=rng,
            entropy=rng.randbytes,
            keyring=keyring,
        )

    return make
