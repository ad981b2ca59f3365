"""Whole-cluster behaviour of bare memberlist nodes in the deterministic simulator."""

from __future__ import annotations

from serf_proto.memberlist import Memberlist, suspicion_timeout
from serf_proto.sim import LinkSpec, NodeEvent, World, memberlist_factory
from serf_proto.types import NodeState


def cluster(n: int, seed: int = 1, link: LinkSpec | None = None) -> World:
    """``n`` LAN nodes that all join ``n0`` at time 0."""
    world = World(seed=seed, factory=memberlist_factory("lan"), link=link)
    for i in range(n):
        world.add_node(f"n{i}")
    seed_addr = world.address("n0")
    for name in world.names()[1:]:
        world.call(name, lambda node, now: node.join([seed_addr], now))
    return world


def ml(world: World, name: str) -> Memberlist:
    node = world.node(name)
    assert isinstance(node, Memberlist)
    return node


def views(world: World) -> set[frozenset[str]]:
    """The distinct sets of alive members the running nodes see."""
    return {frozenset(m.name for m in ml(world, n).members()) for n in world.running()}


def leave_events(world: World, about: str | None = None) -> list[tuple[float, str, NodeEvent]]:
    return [
        (e.at, e.node, e.item)
        for e in world.trace
        if isinstance(e.item, NodeEvent)
        and e.item.kind == "leave"
        and (about is None or e.item.name == about)
    ]


def test_n_nodes_joining_one_seed_converge_to_one_view() -> None:
    world = cluster(16)
    assert world.run_until(
        20.0, stop=lambda: len(views(world)) == 1 and len(next(iter(views(world)))) == 16
    )
    assert world.now <= 5.0


def test_a_crashed_node_is_declared_dead_by_every_peer_within_the_suspicion_bound() -> None:
    n = 10
    world = cluster(n)
    world.run_for(10.0)
    world.crash("n3")
    crashed_at = world.now
    minimum = suspicion_timeout(4, n, 1.0)
    bound = 6 * minimum + n * 1.0  # max suspicion timeout plus one full probe round
    world.run_for(bound)
    seen = {node: at - crashed_at for at, node, ev in leave_events(world, "n3")}
    assert set(seen) == set(world.running())
    assert all(minimum <= delay <= bound for delay in seen.values())
    assert all(ev.state is NodeState.DEAD for _, _, ev in leave_events(world, "n3"))
    assert len(views(world)) == 1


def test_no_node_is_declared_failed_at_ten_percent_loss_over_ten_minutes() -> None:
    world = cluster(20, link=LinkSpec(loss=0.10, latency=0.002, jitter=0.003))
    world.run_for(600.0)
    assert world.stats.packets_lost > 0
    assert leave_events(world) == []
    assert views(world) == {frozenset(f"n{i}" for i in range(20))}


def test_a_node_paused_for_two_probe_intervals_may_be_suspected_but_refutes_and_lives() -> None:
    suspected_runs = 0
    for seed in range(1, 5):
        world = cluster(3, seed=seed)
        world.run_for(10.0)
        world.pause("n2", 2.0)  # 2 × probe_interval
        world.run_for(30.0)
        suspicions = sum(ml(world, n).stats.suspicions for n in ("n0", "n1"))
        paused = ml(world, "n2")
        if suspicions:
            suspected_runs += 1
            assert paused.stats.refutations >= 1
            assert paused.local_node.incarnation > 1
        assert leave_events(world, "n2") == []
        assert views(world) == {frozenset({"n0", "n1", "n2"})}
    assert suspected_runs >= 2


def test_a_short_partition_heals_by_refutation_without_failures() -> None:
    world = cluster(8)
    world.run_for(10.0)
    world.partition(["n0", "n1", "n2", "n3"], ["n4", "n5", "n6", "n7"])
    world.run_for(2.0)
    assert sum(ml(world, n).stats.suspicions for n in world.names()) > 0
    world.heal()
    world.run_for(20.0)
    assert leave_events(world) == []
    assert len(views(world)) == 1 and len(next(iter(views(world)))) == 8


def test_a_long_partition_splits_the_cluster_and_a_rejoin_after_heal_reunites_it() -> None:
    world = cluster(8)
    world.run_for(10.0)
    world.partition(["n0", "n1", "n2", "n3"], ["n4", "n5", "n6", "n7"])
    world.run_for(60.0)
    assert views(world) == {
        frozenset({"n0", "n1", "n2", "n3"}),
        frozenset({"n4", "n5", "n6", "n7"}),
    }
    world.heal()
    other_side = world.address("n4")
    world.call("n0", lambda node, now: node.join([other_side], now))
    world.run_for(20.0)
    assert len(views(world)) == 1 and len(next(iter(views(world)))) == 8


def test_a_graceful_leave_is_seen_as_left_not_failed() -> None:
    world = cluster(6)
    world.run_for(10.0)
    world.call("n5", lambda node, now: node.leave(5.0, now))
    world.run_for(5.0)
    done = [e for e in world.trace if e.node == "n5" and type(e.item).__name__ == "LeaveCompleted"]
    assert len(done) == 1 and done[0].item.error is None
    world.call("n5", lambda node, now: node.shutdown(now))
    world.crash("n5")
    world.run_for(30.0)
    events = leave_events(world, "n5")  # n5 records its own leave too, as Go does
    assert {node for _, node, _ in events} == {"n0", "n1", "n2", "n3", "n4", "n5"}
    assert all(ev.state is NodeState.LEFT for _, _, ev in events)


def test_new_metadata_reaches_everyone_and_then_broadcasts_stop() -> None:
    world = cluster(10)
    world.run_for(30.0)
    assert all(ml(world, n).queue_depth() == 0 for n in world.names())
    n4 = ml(world, "n4")
    n4.delegate.meta = b"role=web"  # type: ignore[attr-defined]
    world.call("n4", lambda node, now: node.update_node(now))
    world.run_for(5.0)
    updates = {
        e.node for e in world.trace if isinstance(e.item, NodeEvent) and e.item.kind == "update"
    }
    assert updates == set(world.names())
    assert all(ml(world, n).node("n4").meta == b"role=web" for n in world.names())  # type: ignore[union-attr]
    drained = world.run_until(
        world.now + 20.0, stop=lambda: all(ml(world, n).queue_depth() == 0 for n in world.names())
    )
    assert drained
    sent = world.stats.packets_sent
    world.run_for(10.0)
    quiet = world.stats.packets_sent - sent
    # Once drained only probes and their acks flow: 2 packets per node per second, 1.5x slack.
    assert quiet <= 10 * 10 * 2 * 1.5


def test_the_same_seed_gives_the_same_trace_and_another_seed_a_different_one() -> None:
    def run(seed: int) -> str:
        world = cluster(6, seed=seed, link=LinkSpec(loss=0.05, latency=0.001, jitter=0.004))
        world.trace_packets = True
        world.run_for(15.0)
        world.crash("n2")
        world.run_for(15.0)
        return world.trace_hash()

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_crashed_node_restarts_rejoins_and_refutes_its_old_death() -> None:
    world = cluster(5)
    world.run_for(10.0)
    world.crash("n2")
    world.run_for(20.0)
    assert all("n2" not in {m.name for m in ml(world, n).members()} for n in world.running())
    world.restart("n2")
    seed_addr = world.address("n0")
    world.call("n2", lambda node, now: node.join([seed_addr], now))
    world.run_for(10.0)
    assert views(world) == {frozenset(f"n{i}" for i in range(5))}
    assert ml(world, "n2").local_node.incarnation > 1  # it had to refute its recorded death
