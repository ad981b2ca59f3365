"""The Serf layer's promises, checked in deterministic simulations."""

from __future__ import annotations

import base64
import math
import random
import statistics
from collections.abc import Callable

from serf_proto.coordinate import distance
from serf_proto.events import (
    KeyOpCompleted,
    NodeShutdown,
    Query,
    QueryAck,
    QueryDone,
    QueryResponse,
    SnapshotAppend,
    UserEvent,
)
from serf_proto.serf import QueryParams, RecoveredState, SerfNode, SerfState, parse_snapshot
from serf_proto.sim.network import LinkSpec
from serf_proto.sim.world import TraceEntry, World

from tests.sim.serf_cluster import (
    alive_everywhere,
    build_cluster,
    serf,
    serf_factory,
    user_events,
)


def _send_event(name: str) -> Callable[[SerfNode, float], None]:
    """A command for ``World.call``/``World.at``: gossip user event ``name``."""

    def send(node: SerfNode, now: float) -> None:
        node.user_event(name, b"", False, now)

    return send


def _answer_queries(world: World, text: str = "pong") -> None:
    """Make every node answer every user query with ``<text>:<node>``."""

    def observe(entry: TraceEntry) -> None:
        item = entry.item
        if isinstance(item, Query):
            payload = f"{text}:{entry.node}".encode()
            world.at(world.now, entry.node, lambda n, now: n.respond(item, payload, now))

    world.observers.append(observe)


def _results(world: World, op: int, origin: str) -> tuple[set[str], set[str], bool]:
    acks = {e.item.node for e in world.trace if e.node == origin and isinstance(e.item, QueryAck)}
    resps = {
        e.item.node
        for e in world.trace
        if e.node == origin and isinstance(e.item, QueryResponse) and e.item.qid == op
    }
    done = any(
        e.node == origin and isinstance(e.item, QueryDone) and e.item.qid == op for e in world.trace
    )
    return acks, resps, done


def test_every_user_event_reaches_each_of_50_nodes_exactly_once_under_5_percent_loss() -> None:
    world = World(11, serf_factory(), link=LinkSpec(loss=0.05), keep_trace=True)
    names = [f"n{i:02d}" for i in range(50)]
    build_cluster(world, names, settle=15.0)
    assert alive_everywhere(world, names)
    for i, sender in enumerate(("n03", "n17", "n42")):
        world.call(sender, _send_event(f"ev{i}"))
        world.run_for(0.5)
    world.run_for(15.0)
    seen: dict[tuple[str, str], int] = {}
    for node, event in user_events(world):
        seen[(node, event.name)] = seen.get((node, event.name), 0) + 1
    for i in range(3):
        for name in names:
            assert seen.get((name, f"ev{i}")) == 1, (name, i)


def test_a_filtered_query_reaches_exactly_the_matching_nodes_and_collects_their_answers() -> None:
    tags = {
        "a": {"role": "web"},
        "b": {"role": "web"},
        "c": {"role": "db"},
        "d": {"role": "webserver"},
        "e": {"role": "cache"},
    }
    world = World(12, serf_factory(per_node={k: {"tags": v} for k, v in tags.items()}))
    names = list(tags)
    build_cluster(world, names)
    _answer_queries(world)
    params = QueryParams(
        filter_nodes=("a", "b", "c", "d"), filter_tags={"role": "^web"}, request_ack=True
    )
    op = world.call("e", lambda n, now: n.query("who", b"", params, now))
    world.run_for(5.0)
    delivered = {e.node for e in world.trace if isinstance(e.item, Query) and e.item.name == "who"}
    acks, resps, done = _results(world, op, "e")
    assert delivered == {"a", "b", "d"}
    assert acks == {"a", "b", "d"}
    assert resps == {"a", "b", "d"}
    assert done
    payloads = {
        e.item.payload for e in world.trace if isinstance(e.item, QueryResponse) and e.node == "e"
    }
    assert payloads == {b"pong:a", b"pong:b", b"pong:d"}


def _relay_world(relay_factor: int) -> tuple[World, int]:
    world = World(13, serf_factory(protocol_version=5))
    names = ["a", "b", "c", "d", "e", "f", "g"]
    build_cluster(world, names)
    _answer_queries(world)
    for blocked in ("b", "c"):
        world.network.set_link(blocked, "a", LinkSpec(loss=1.0), symmetric=False)
    params = QueryParams(filter_nodes=("b", "c"), relay_factor=relay_factor, timeout=3.0)
    op = world.call("a", lambda n, now: n.query("relayed", b"", params, now))
    world.run_for(4.0)
    return world, op


def test_relayed_responses_arrive_when_the_direct_path_is_dropped() -> None:
    world, op = _relay_world(relay_factor=3)
    _, resps, done = _results(world, op, "a")
    assert resps == {"b", "c"} and done
    without, op0 = _relay_world(relay_factor=0)
    _, direct_only, _ = _results(without, op0, "a")
    assert direct_only == set()


def _key_result(world: World, op: int, origin: str) -> KeyOpCompleted:
    found = [
        e.item
        for e in world.trace
        if e.node == origin and isinstance(e.item, KeyOpCompleted) and e.item.op == op
    ]
    assert len(found) == 1
    return found[0]


def test_key_rotation_across_ten_nodes_keeps_gossip_flowing() -> None:
    k1, k2 = bytes(range(16)), bytes(range(32, 64))
    world = World(14, serf_factory(keys=(k1,)))
    names = [f"k{i}" for i in range(10)]
    build_cluster(world, names)
    assert alive_everywhere(world, names)

    def event_reaches_all(tag: str) -> bool:
        world.call("k3", lambda n, now: n.user_event(tag, b"", False, now))
        world.run_for(5.0)
        return {node for node, e in user_events(world) if e.name == tag} == set(names)

    b64 = base64.b64encode
    for step, action in enumerate(
        (
            lambda n, now: n.install_key(b64(k2).decode(), now),
            lambda n, now: n.use_key(k2, now),
            lambda n, now: n.remove_key(k1, now),
        )
    ):
        op = world.call("k0", action)
        world.run_for(5.0)
        result = _key_result(world, op, "k0")
        assert (result.num_nodes, result.num_resp, result.num_err) == (10, 10, 0), result
        assert event_reaches_all(f"after-step-{step}")
    op = world.call("k0", lambda n, now: n.list_keys(now))
    world.run_for(5.0)
    listed = _key_result(world, op, "k0")
    assert listed.keys == {b64(k2).decode(): 10}
    assert listed.primary_keys == {b64(k2).decode(): 10}
    for name in names:
        ring = serf(world, name).keyring
        assert ring is not None and ring.keys == (k2,)


def test_removing_the_primary_key_is_refused_by_every_node() -> None:
    k1 = bytes(range(16))
    world = World(15, serf_factory(keys=(k1,)))
    names = ["a", "b", "c"]
    build_cluster(world, names)
    op = world.call("a", lambda n, now: n.remove_key(k1, now))
    world.run_for(5.0)
    result = _key_result(world, op, "a")
    assert result.num_err == 3
    assert set(result.messages.values()) == {"Removing the primary key is not allowed"}


def test_two_nodes_with_one_name_resolve_the_conflict_by_majority() -> None:
    world = World(16, serf_factory(node_names={"impostor": "c"}))
    names = ["a", "b", "c", "d"]
    build_cluster(world, names)
    world.add_node("impostor")
    world.call("impostor", lambda n, now: n.join([world.address("a")], now))
    world.run_for(15.0)
    shutdowns = [e.node for e in world.trace if isinstance(e.item, NodeShutdown)]
    assert shutdowns == ["impostor"]
    assert serf(world, "c").state is SerfState.ALIVE
    assert serf(world, "impostor").state is SerfState.SHUTDOWN


def test_lamport_clocks_never_go_backwards() -> None:
    world = World(17, serf_factory(), link=LinkSpec(loss=0.05, jitter=0.01))
    names = [f"m{i}" for i in range(8)]
    last: dict[str, tuple[int, int, int]] = {}
    violations: list[str] = []

    def sample() -> bool:
        for name in world.running():
            c = serf(world, name).clocks()
            now = (c.member, c.event, c.query)
            prev = last.get(name, (0, 0, 0))
            if any(x < y for x, y in zip(now, prev, strict=True)):
                violations.append(f"{name}: {prev} -> {now}")
            last[name] = now
        return False

    for name in names:
        world.add_node(name)
    for i, name in enumerate(names[1:]):
        world.at(0.5 * i, name, lambda n, now: n.join([world.address("m0")], now))
    rng = random.Random(5)
    for t in range(20):
        sender = names[rng.randrange(len(names))]
        world.at(5.0 + t, sender, _send_event(f"e{t}"))
        if t % 4 == 0:
            world.at(5.5 + t, sender, lambda n, now: n.query("q", b"", QueryParams(), now))
    world.at(12.0, "m5", lambda n, now: n.leave(now))
    world.run_until(30.0, stop=sample, step=0.25)
    assert violations == []
    assert min(c[0] for c in last.values()) > 1


def test_a_node_restarted_from_its_snapshot_resumes_clocks_and_skips_old_events() -> None:
    recovered: dict[str, RecoveredState] = {}
    world = World(18, serf_factory(snapshot=True, recovered=recovered))
    names = ["a", "b", "c"]
    build_cluster(world, names)
    for i in range(3):
        world.call("a", _send_event(f"old{i}"))
        world.run_for(1.0)
    world.call("a", lambda n, now: n.query("q", b"", QueryParams(), now))
    world.run_for(5.0)
    before = serf(world, "b").clocks()
    lines = [ln for e in world.trace if e.node == "b" and isinstance(e.item, SnapshotAppend)
             for ln in e.item.lines]  # fmt: skip
    state = parse_snapshot("\n".join(lines) + "\n")
    assert state.event_clock == 3 and state.query_clock >= 1
    assert {p.name for p in state.alive} == set(names)
    world.crash("b")
    world.run_for(2.0)
    restart_at = world.now
    recovered["b"] = state
    world.restart("b")
    after = serf(world, "b").clocks()
    assert after.event > state.event_clock and after.query > state.query_clock
    assert after.member > state.clock
    world.run_for(10.0)
    world.call("c", lambda n, now: n.user_event("new", b"", False, now))
    world.run_for(5.0)
    replayed = [
        e.item.name
        for e in world.trace
        if e.node == "b" and e.at >= restart_at and isinstance(e.item, UserEvent)
    ]
    assert replayed == ["new"]
    assert serf(world, "b").clocks().event >= before.event
    assert alive_everywhere(world, names)


def test_vivaldi_coordinates_converge_to_the_simulated_latencies() -> None:
    rng = random.Random(7)
    names = [f"v{i}" for i in range(8)]
    pos = {n: (rng.uniform(0, 0.05), rng.uniform(0, 0.05)) for n in names}

    def one_way(a: str, b: str) -> float:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        return 0.002 + math.hypot(x1 - x2, y1 - y2) / 2

    world = World(19, serf_factory(), keep_trace=False)
    for name in names:
        world.add_node(name)
    for a in names:
        for b in names:
            if a != b:
                world.network.set_link(a, b, LinkSpec(latency=one_way(a, b)), symmetric=False)
    for name in names[1:]:
        world.call(name, lambda n, now: n.join([world.address("v0")], now))
    world.run_for(120.0)
    errors = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            est = distance(serf(world, a).coordinate(), serf(world, b).coordinate())
            rtt = one_way(a, b) + one_way(b, a)
            errors.append(abs(est - rtt) / rtt)
    assert statistics.median(errors) < 0.15, statistics.median(errors)
