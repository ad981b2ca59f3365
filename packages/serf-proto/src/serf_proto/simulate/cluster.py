"""Simulated Serf clusters: a ``SerfNode`` factory and a converged start without a join storm.

``serf_sim_factory`` builds real :class:`~serf_proto.serf.SerfNode`\\ s (Serf library defaults,
member and user event coalescing off) on a memberlist profile.

``converge`` gives every node a full, alive node table the cheap way. Joining N nodes through
one seed makes every node learn every other node from gossip and push/pull, and each merge
queues an ``alive`` broadcast that is then re-sent ``retransmit_mult * ceil(log10(N+1))`` times:
O(N²) messages before the cluster is quiet. Instead, the shortcut encodes one push/pull message
holding every node's own state (as each would advertise it) and feeds it to the first node as
an inbound push/pull stream: the real decoder and the real merge (memberlist's alive handling
and Serf's member table) fill its tables. The merge queues one ``alive`` broadcast per learned
node, as it would after a join; a cluster that has converged has sent those long ago, so the
shortcut then empties the broadcast queue. What the node emits while absorbing the message
(its push/pull reply, N member-join events) is discarded.

Every other node then adopts that node's tables copy-on-write
(``SerfNode.shared_start().adopt``, the one door of :mod:`serf_proto.serf.shortcuts`): all
nodes read one shared table and each keeps only the entries it changed since (its own, and
later every member it sees suspected, failed or updated); each draws its probe order from its
own random source as it probes. A converged cluster of N nodes thus costs O(N) memory and
time to build, not O(N²), which is what lets ``serf simulate`` run 10,000 nodes in one process.
"""

from __future__ import annotations

import random

from serf_proto.memberlist.state import ip_bytes
from serf_proto.serf import SerfConfig, SerfNode
from serf_proto.serf.members import SharedTables
from serf_proto.serf.snapshot import RecoveredState
from serf_proto.sim.world import NodeFactory, SimNode, World
from serf_proto.types import Address, NodeState
from serf_proto.wire.messages import (
    PushNodeState,
    PushPullHeader,
    encode_push_node_state,
    encode_push_pull_header,
)

__all__ = ["converge", "serf_sim_factory", "state_message"]


def serf_sim_factory(
    profile: str,
    *,
    lifeguard: bool = True,
    tcp_pings: bool = True,
    fast_wire: bool = False,
    go_faithful: bool = False,
    recovered: dict[str, RecoveredState] | None = None,
) -> NodeFactory:
    """A factory of ``SerfNode``s on ``profile``; ``lifeguard=False`` turns off local-health
    scaling and suspicion-timeout acceleration (both multipliers set to 1), ``tcp_pings=False``
    the TCP fallback of failed probes, and ``go_faithful=True`` pyserf's self-healing rules
    (``heal_interval=0``, ``resend_accusations=False``, ``unprobed_push_pull=0``); a node
    whose name is in ``recovered`` starts from that snapshot state (popped)."""
    overrides: dict[str, object] = {"fast_wire": fast_wire, "disable_tcp_pings": not tcp_pings}
    if go_faithful:
        overrides["resend_accusations"] = False
        overrides["unprobed_push_pull"] = 0
    if not lifeguard:
        overrides["awareness_max_multiplier"] = 1
        overrides["suspicion_max_timeout_mult"] = 1

    def make(world: World, name: str, addr: Address, rng: random.Random, now: float) -> SimNode:
        del world
        config = SerfConfig.build(name, profile=profile, bind=addr, memberlist=overrides)
        if go_faithful:
            config = config.replace(heal_interval=0.0)
        state = None if recovered is None else recovered.pop(name, None)
        return SerfNode(config, now=now, rng=rng, entropy=rng.randbytes, recovered=state)

    return make


def _serf(world: World, name: str) -> SerfNode:
    node = world.node(name)
    if not isinstance(node, SerfNode):
        raise TypeError(f"node {name!r} is not a SerfNode")
    return node


def state_message(world: World, names: list[str]) -> bytes:
    """One plain push/pull stream message with the advertised state of every node in ``names``."""
    parts = [encode_push_pull_header(PushPullHeader(len(names), 0, False))]
    for name in names:
        local = _serf(world, name).memberlist.local_node
        parts.append(
            encode_push_node_state(
                PushNodeState(
                    local.name,
                    ip_bytes(local.addr.host),
                    local.addr.port,
                    local.meta,
                    local.incarnation,
                    int(NodeState.ALIVE),
                    bytes(local.vsn),
                )
            )
        )
    return b"".join(parts)


def _absorb(node: SerfNode, source: Address, message: bytes, now: float) -> None:
    sid = node.accept_stream(source, now)
    node.receive_stream_data(sid, message, now)
    node.take_outputs()  # the push/pull reply and one member-join event per learned node
    # A converged cluster has long finished gossiping these joins (see the module essay).
    node.shared_start().drop_pending_broadcasts()


def _adopt(node: SerfNode, tables: SharedTables, now: float) -> None:
    node.shared_start().adopt(tables, now)
    # Its own start-up ``alive`` broadcast went out long ago, too.
    node.shared_start().drop_pending_broadcasts()


def converge(world: World, names: list[str]) -> SharedTables | None:
    """Fill every node's table with every node in ``names`` (alive), as if the cluster had
    converged long ago: the first node through the real push/pull merge, the others by
    adopting its tables copy-on-write (see the module essay). Returns the shared tables
    (None for no names)."""
    if not names:
        return None
    message = state_message(world, names)
    first = names[0]
    source = world.address(names[1] if len(names) > 1 else first)
    world.call(first, lambda node, now: _absorb(node, source, message, now))
    tables = world.call(first, lambda node, now: node.shared_start().share(now))
    for name in names[1:]:
        world.call(name, lambda node, now: _adopt(node, tables, now))
    assert isinstance(tables, SharedTables)
    return tables
