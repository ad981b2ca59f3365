"""The ``chaos`` scenario: a seeded schedule of faults, a quiet period, then invariants.

Theory of operation
-------------------
:func:`run_chaos` builds a converged cluster of real ``SerfNode``\\ s, draws (or takes) a
:class:`~serf_proto.simulate.chaos_schedule.ChaosPlan` and carries its actions out on the
simulator while an observer follows every output. At the end of the fault window every fault
has ended (links restored, partition healed, crashed nodes restarted); after the quiet period
the invariants are checked. Each violation names the invariant, the simulated time and the
nodes; the schedule is part of the result, so a failure replays exactly from its seed.

The invariants (:data:`INVARIANTS`; docs/reliability.md says why each must hold):

``converged``
    every live node's view holds every live node alive with its current tags, and every node
    that left is ``left`` or reaped (or ``failed`` if it left while off the majority island:
    its best-effort leave intent may never arrive), nothing else alive;
``events_exactly_once``
    every user event sent by a node that stayed up (never crashed or left) reached every node
    that stayed up; no node delivered any event twice, counting a node restarted from its
    snapshot together with its earlier lives;
``lamport_monotonic``
    no Lamport clock (member, event, query) of one process life ever went backwards (sampled
    every simulated second);
``query_responses_selected``
    acks and responses come only from nodes the query's node filter selects, each at most once;
``no_majority_false_failure``
    no node that kept two-way connectivity to a majority throughout (never paused, crashed or
    left, never on a minority island, links to fewer than half its peers ever impaired) was
    declared failed by a majority; every declaration about a running node is counted in
    ``false_failures`` (a figure, not a violation);
``no_exception``
    nothing raised out of a node or the simulator;
``refused_inputs_counted``
    each Go-crashing query injected into a node is counted there under its reason, and never
    counted anywhere else (it was not passed on);
``bounded``
    after the quiet period every broadcast queue is short and no member table holds more
    names than ever existed;
``keys_agree``
    the cluster runs encrypted (first key ``K0``); after a completed rotation every live node
    holds exactly the new key, as primary; without one, every live node's keyring is the same.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable
from typing import Any

from serf_proto.config import MemberlistConfig
from serf_proto.errors import SerfError
from serf_proto.events import (
    JoinCompleted,
    MemberEvent,
    MemberEventType,
    QueryAck,
    QueryResponse,
    SnapshotAppend,
    UserEvent,
)
from serf_proto.events import Query as DeliveredQuery
from serf_proto.serf import SerfConfig, SerfNode
from serf_proto.serf.query import QueryParams
from serf_proto.serf.snapshot import parse_snapshot
from serf_proto.sim.network import LinkSpec
from serf_proto.sim.world import NodeFactory, SimNode, TraceEntry, World
from serf_proto.simulate.chaos_outcome import INVARIANTS, ChaosOutcome, Violation
from serf_proto.simulate.chaos_schedule import Action, ChaosPlan, make_schedule
from serf_proto.simulate.cluster import converge
from serf_proto.simulate.runner import SimulationResult
from serf_proto.simulate.spec import ScenarioSpec
from serf_proto.types import Address, MemberStatus
from serf_proto.wire import MessageQuery, encode_serf_message

__all__ = [
    "INVARIANTS",
    "K0",
    "K1",
    "ROTATION_GRACE",
    "ChaosOutcome",
    "Violation",
    "chaos_result",
    "run_chaos",
]

#: The cluster's first gossip key and the key a rotation installs.
K0 = bytes(range(16))
K1 = bytes(range(16, 32))
#: Seconds after the faults end that a rotation keeps trying to take its next step.
ROTATION_GRACE = 30.0
_ROTATION_STEP = 4.0
#: A Serf query a Go Serf 0.9.4 peer panics on (an empty filter): refused as ``bad_query_filter``.
_POISON_REASON = "bad_query_filter"
_ATTACKER = Address("10.255.0.1", 7946)
_USER_MSG = 8  # memberlist's user-message type byte
#: Consecutive one-second samples a majority must hold a protected node failed to violate
#: ``no_majority_false_failure``: a declaration refuted at once is Serf's behaviour after a
#: heal (see docs/reliability.md), a declaration that sticks is not.
_HELD_SAMPLES = 3
#: Seconds before a join that reached nobody is tried again (the agent's ``-retry-join``).
_JOIN_RETRY = 5.0


def _poison_packet(ltime: int) -> bytes:
    query = MessageQuery(
        ltime=ltime,
        id=ltime,
        addr=bytes([10, 255, 0, 1]),
        port=7946,
        source_node="attacker",
        filters=(b"",),
        flags=0,
        relay_factor=0,
        timeout=1_000_000_000,
        name="poison",
        payload=b"",
    )
    return bytes([_USER_MSG]) + encode_serf_message(query)


class _Chaos:
    """Carries the plan out and follows the trace; see the module docstring."""

    def __init__(
        self,
        world: World,
        plan: ChaosPlan,
        keyrings: dict[str, tuple[bytes, ...]],
        restore: dict[str, str],
    ) -> None:
        self.world = world
        self.plan = plan
        self.keyrings = keyrings
        self.restore = restore  # name -> snapshot text the next instance starts from
        self.snapshots: dict[str, list[str]] = {}  # name -> snapshot file lines so far
        self.lineage: dict[int, int] = {}  # instance id -> first instance of its snapshot line
        self.instances: dict[int, Any] = {}  # every instance seen, so ids are never reused
        self.rotation: str | None = None  # the step in progress: install, use, remove, done
        self.out = ChaosOutcome(plan)
        self.all_names = [*plan.nodes, *plan.joined]
        self.crashed: set[str] = set()  # ever crashed
        self.left: set[str] = set()  # left gracefully (and stopped)
        self.paused: set[str] = set()
        self.minority: set[str] = set()  # ever on an island smaller than a majority
        self.cut_off: set[str] = set()  # off the majority island right now
        self.crashed_instance: dict[str, Any] = {}
        self.left_cut_off: set[str] = set()  # left while off the majority island
        self.impaired: dict[str, set[str]] = {}  # peers with a lossy or cut link, ever
        self.tags: dict[str, dict[str, str]] = {}
        self.sent_events: dict[str, str] = {}  # event name -> origin
        self.delivered: dict[tuple[int, str], int] = {}  # (instance id, event) -> count
        self.instance_of: dict[int, str] = {}
        self.stayed_instance: dict[str, int] = {}
        self.queries: dict[tuple[str, int], frozenset[str]] = {}  # (origin, op) -> selected
        self.query_from: dict[tuple[str, int, str], int] = {}
        self.failed_by: dict[str, set[str]] = {}
        self.holding: dict[str, set[str]] = {}  # member -> viewers whose view has it failed
        self.held_for: dict[str, int] = {}  # member -> consecutive samples held by a majority
        self.poisoned: dict[int, int] = {}  # node instance id -> poison packets delivered
        self.clocks: dict[int, tuple[int, int, int]] = {}
        self.poison_ltime = 1_000_000
        self.join_draws = 0

    # -- observing --------------------------------------------------------------------------

    def violate(self, invariant: str, nodes: tuple[str, ...], detail: str) -> None:
        self.out.violations.append(Violation(invariant, self.world.now, nodes, detail))

    def on_entry(self, entry: TraceEntry) -> None:
        item = entry.item
        kind = type(item)
        if kind is SnapshotAppend:
            lines = self.snapshots.setdefault(entry.node, [])
            if item.compact:
                lines.clear()
            lines.extend(item.lines)
        elif kind is UserEvent:
            node = self.world.node(entry.node)
            self.instances[id(node)] = node
            # A node restarted from its snapshot must not deliver again what it delivered
            # before the crash: deliveries count per snapshot lineage.
            key = (self.lineage.get(id(node), id(node)), item.name)
            self.instance_of[id(node)] = entry.node
            count = self.delivered.get(key, 0) + 1
            self.delivered[key] = count
            if count == 2:
                self.violate("events_exactly_once", (entry.node,), f"{item.name} delivered twice")
        elif kind is MemberEvent:
            if item.type is MemberEventType.FAILED:
                for member in item.members:
                    if self.world.is_running(member.name):
                        self.out.false_failures += 1
                        self.failed_by.setdefault(member.name, set()).add(entry.node)
                        self.holding.setdefault(member.name, set()).add(entry.node)
            else:
                for member in item.members:
                    self.holding.get(member.name, set()).discard(entry.node)
        elif kind is QueryAck or kind is QueryResponse:
            self._answer(entry.node, item.qid, item.node, "ack" if kind is QueryAck else "resp")
        elif kind is JoinCompleted and item.joined == 0:
            # Like the agent's -retry-join: a join that reached nobody is tried again.
            name = entry.node
            self._later(entry.at + _JOIN_RETRY, lambda: self._retry_join(name))
        elif kind is DeliveredQuery and item.name.startswith("q"):
            self.world.at(entry.at, entry.node, lambda node, now: self._respond(node, item, now))

    def _respond(self, node: SerfNode, query: DeliveredQuery, now: float) -> None:
        # A later instance of the node, or past the deadline: not answerable.
        with contextlib.suppress(SerfError):
            node.respond(query, b"ok", now)

    def _answer(self, origin: str, op: int, responder: str, what: str) -> None:
        selected = self.queries.get((origin, op))
        if selected is None:
            return
        if responder not in selected:
            self.violate("query_responses_selected", (origin, responder), f"{what} unselected")
        key = (origin, op, f"{what}:{responder}")
        self.query_from[key] = self.query_from.get(key, 0) + 1
        if self.query_from[key] == 2:
            self.violate("query_responses_selected", (origin, responder), f"{what} twice")

    def sample_clocks(self) -> bool:
        for name in self.world.running():
            node = self.world.node(name)
            self.instances[id(node)] = node
            c = node.clocks()
            now = (c.member, c.event, c.query)
            before = self.clocks.get(id(node))
            if before is not None and any(x < y for x, y in zip(now, before, strict=True)):
                self.violate("lamport_monotonic", (name,), f"{before} -> {now}")
            self.clocks[id(node)] = now
        majority = len(self.all_names) // 2 + 1
        for name, viewers in self.holding.items():
            if len(viewers) < majority or not self.protected(name):
                self.held_for.pop(name, None)
                continue
            held = self.held_for.get(name, 0) + 1
            self.held_for[name] = held
            if held == _HELD_SAMPLES:
                self.violate(
                    "no_majority_false_failure", (name,), f"held failed by {len(viewers)} nodes"
                )
        return False

    def protected(self, name: str) -> bool:
        """Whether ``name`` kept two-way connectivity to a majority throughout."""
        return (
            name in self.plan.nodes
            and name not in self.crashed | self.left | self.paused | self.minority
            and len(self.impaired.get(name, ())) < len(self.all_names) / 2 - 1
        )

    # -- acting -----------------------------------------------------------------------------

    def schedule(self) -> None:
        for action in self.plan.actions:
            self.world.at(action.at, self.plan.nodes[0], self._runner(action))
        self.world.at(self.plan.faults_end, self.plan.nodes[0], self._end_faults)

    def _runner(self, action: Action) -> Callable[[Any, float], None]:
        def run(_node: Any, _now: float) -> None:
            self.apply(action)

        return run

    def _impair(self, a: str, b: str) -> None:
        self.impaired.setdefault(a, set()).add(b)
        self.impaired.setdefault(b, set()).add(a)

    def _later(self, at: float, fn: Callable[[], None]) -> None:
        self.world.at(at, self.plan.nodes[0], lambda _node, _now: fn())

    def _alive(self, name: str) -> bool:
        return self.world.is_running(name) and name not in self.left

    def apply(self, action: Action) -> None:
        world, net = self.world, self.world.network
        kind, nodes = action.kind, action.nodes
        until = action.until if action.until is not None else action.at
        if kind == "loss":
            a, b = nodes
            self._impair(a, b)
            net.set_link(a, b, LinkSpec(loss=action.arg, latency=net.default.latency))
            self._later(until, lambda: net.clear_link(a, b))
        elif kind == "cut":
            a, b = nodes
            self._impair(a, b)
            net.set_link(a, b, LinkSpec(loss=1.0, latency=net.default.latency), symmetric=False)
            self._later(until, lambda: net.clear_link(a, b, symmetric=False))
        elif kind == "islands":
            groups, rest = [], list(nodes)
            for size in action.arg:
                groups.append(rest[:size])
                rest = rest[size:]
            majority = len(self.all_names) // 2 + 1
            big = next((set(g) for g in groups if len(g) >= majority), set())
            self.cut_off = {n for n in self.all_names if n not in big}
            self.minority.update(self.cut_off)
            world.partition(*groups)
            self._later(until, self._heal)
        elif kind == "pause":
            if self._alive(nodes[0]):
                self.paused.add(nodes[0])
                world.pause(nodes[0], until - action.at)
        elif kind == "crash":
            if self._alive(nodes[0]):
                self.crashed.add(nodes[0])
                victim = world.node(nodes[0])
                self.instances[id(victim)] = victim
                self.crashed_instance[nodes[0]] = victim
                self.keyrings[nodes[0]] = victim.keyring.keys
                world.crash(nodes[0])
                how = str(action.arg or "fresh")
                self._later(until, lambda: self._restart(nodes[0], how))
        elif kind == "leave":
            if self._alive(nodes[0]):
                self.left.add(nodes[0])
                if nodes[0] in self.cut_off:
                    # Its leave intent is gossiped best-effort to members it believes alive,
                    # mostly across the split: it may never arrive (docs/reliability.md).
                    self.left_cut_off.add(nodes[0])
                world.call(nodes[0], lambda node, now: node.leave(now))
                self._later(until, lambda: self._stop(nodes[0]))
        elif kind == "join":
            peer = next(n for n in self.plan.nodes if self._alive(n))
            self.keyrings[nodes[0]] = world.node(peer).keyring.keys
            world.add_node(nodes[0])
            self._join(nodes[0])
        elif kind == "rotate":
            self.rotation = "install"
            self._rotate()
        elif kind in ("tags", "event", "query", "poison"):
            if not self._alive(nodes[0]):
                self.out.skipped.append(f"{kind}@{action.at}:{nodes[0]}")
                return
            self._local(action)

    def _local(self, action: Action) -> None:
        world, name = self.world, action.nodes[0]
        if action.kind == "tags":
            tags = {"role": str(action.arg)}
            self.tags[name] = tags
            world.call(name, lambda node, now: node.set_tags(tags, now))
        elif action.kind == "event":
            self.sent_events[str(action.arg)] = name
            self.out.events_sent += 1
            world.call(name, lambda node, now: node.user_event(action.arg, b"", False, now))
        elif action.kind == "query":
            qname, *selected = action.arg
            params = QueryParams(filter_nodes=tuple(selected), request_ack=True)
            op = world.call(name, lambda node, now: node.query(qname, b"", params, now))
            self.queries[(name, op)] = frozenset(selected)
            self.out.queries += 1
        else:
            node = world.node(name)
            before = node.dropped.get(_POISON_REASON, 0)
            self.poison_ltime += 1
            data = _poison_packet(self.poison_ltime)
            world.call(name, lambda n, now: n.receive_packet(_ATTACKER, data, now))
            self.poisoned[id(node)] = self.poisoned.get(id(node), 0) + 1
            if node.dropped.get(_POISON_REASON, 0) != before + 1:
                self.violate("refused_inputs_counted", (name,), "poison not counted")

    def _keyring_of(self, name: str) -> tuple[bytes, ...]:
        if self.world.is_running(name):
            return tuple(self.world.node(name).keyring.keys)
        return self.keyrings.get(name, (K0,))

    def _rotate(self) -> None:
        """Take the rotation's next step once every node holds the previous one; re-send the
        current step to nodes that missed it (see ``chaos_schedule``)."""
        if self.rotation in (None, "done"):
            return
        if self.world.now > self.plan.faults_end + ROTATION_GRACE:
            self.out.skipped.append(f"rotation stopped at step {self.rotation}")
            return
        holders = [n for n in self.all_names if n not in self.left and n in self._existing()]
        rings = {n: self._keyring_of(n) for n in holders}
        done = {
            "install": all(K1 in r for r in rings.values()),
            "use": all(r[0] == K1 for r in rings.values()),
            "remove": all(K0 not in r for r in rings.values()),
        }
        if done[self.rotation]:
            self.rotation = {"install": "use", "use": "remove", "remove": "done"}[self.rotation]
            if self.rotation == "done":
                return
        live = [n for n in self.plan.nodes if self._alive(n)]
        origin = live[int(self.world.now * 1000) % len(live)]
        step = self.rotation
        if step == "install":
            self.world.call(origin, lambda node, now: node.install_key(K1, now))
        elif step == "use":
            self.world.call(origin, lambda node, now: node.use_key(K1, now))
        else:
            self.world.call(origin, lambda node, now: node.remove_key(K0, now))
        self._later(self.world.now + _ROTATION_STEP, self._rotate)

    def _existing(self) -> set[str]:
        """Nodes started so far (running or crashed)."""
        return {n for n in self.all_names if n in self.plan.nodes or n in self.keyrings}

    def _seeds(self, name: str) -> list[Address]:
        peers = [n for n in self.plan.nodes if n != name and self._alive(n)]
        self.join_draws += 1
        start = self.join_draws % max(1, len(peers))
        return [self.world.address(n) for n in (peers[start:] + peers[:start])[:3]]

    def _join(self, name: str) -> None:
        seeds = self._seeds(name)
        self.world.call(name, lambda node, now: node.join(seeds, now, ignore_old=True))

    def _retry_join(self, name: str) -> None:
        if self._alive(name):
            self._join(name)

    def _restart(self, name: str, how: str) -> None:
        old = self.crashed_instance.pop(name)
        if how == "snapshot":
            self.restore[name] = "".join(f"{line}\n" for line in self.snapshots.get(name, ()))
        else:
            self.snapshots.pop(name, None)
        new = self.world.restart(name)
        self.instances[id(new)] = new
        if how == "snapshot":
            self.lineage[id(new)] = self.lineage.get(id(old), id(old))
        tags = self.tags.get(name)
        if tags is not None:
            self.world.call(name, lambda node, now: node.set_tags(tags, now))
        self._join(name)

    def _stop(self, name: str) -> None:
        if self.world.is_running(name):
            self.world.call(name, lambda node, now: node.shutdown(now))
            self.world.crash(name)

    def _heal(self) -> None:
        self.cut_off = set()
        self.world.heal()

    def _end_faults(self, _node: Any, _now: float) -> None:
        self._heal()
        net = self.world.network
        for a in self.all_names:
            for b in self.all_names:
                net.clear_link(a, b, symmetric=False)

    # -- checking ---------------------------------------------------------------------------

    def check(self) -> None:
        world = self.world
        live = [n for n in self.all_names if self._alive(n)]
        stayed = [n for n in self.plan.nodes if n not in self.crashed and n not in self.left]
        for viewer in live:
            node = world.node(viewer)
            view = {m.name: m for m in node.members()}
            for name in live:
                m = view.get(name)
                if m is None or m.status is not MemberStatus.ALIVE:
                    status = "absent" if m is None else m.status.value
                    self.violate("converged", (viewer, name), f"sees {name} {status}")
                elif self.tags.get(name) is not None and dict(m.tags) != self.tags[name]:
                    self.violate("converged", (viewer, name), f"stale tags {dict(m.tags)}")
            for name, m in view.items():
                if name in self.left and m.status is not MemberStatus.LEFT:
                    if name in self.left_cut_off and m.status is MemberStatus.FAILED:
                        self.out.leaves_seen_failed.add(name)
                        continue
                    self.violate("converged", (viewer, name), f"left node is {m.status.value}")
                elif name not in live and name not in self.left:
                    self.violate("converged", (viewer, name), f"unknown {m.status.value}")
            bound = max(2 * len(self.all_names), 32)
            stats = node.stats()
            for queue in ("intent_queue", "event_queue", "query_queue"):
                if int(stats[queue]) > bound:
                    self.violate("bounded", (viewer,), f"{queue}={stats[queue]}")
            if len(view) > len(self.all_names):
                self.violate("bounded", (viewer,), f"{len(view)} members")
            ring = tuple(node.keyring.keys)
            want = (K1,) if self.rotation == "done" else self._keyring_of(live[0])
            if ring != want:
                self.violate("keys_agree", (viewer,), f"{len(ring)} keys, unexpected ring")
            if node.dropped.get(_POISON_REASON, 0) != self.poisoned.get(id(node), 0):
                self.violate("refused_inputs_counted", (viewer,), "poison counted elsewhere")
        for event, origin in self.sent_events.items():
            if origin not in stayed:
                continue
            for viewer in stayed:
                got = self.delivered.get((id(world.node(viewer)), event), 0)
                self.out.deliveries_checked += 1
                if got != 1:
                    self.violate("events_exactly_once", (origin, viewer), f"{event} x{got}")
        majority = len(self.all_names) // 2 + 1
        self.out.majority_declared = sorted(
            n for n, v in self.failed_by.items() if len(v) >= majority and self.protected(n)
        )


def _factory(
    profile: str, keyrings: dict[str, tuple[bytes, ...]], snapshots: dict[str, str]
) -> NodeFactory:
    """Serf nodes on ``profile`` with the keyring ``keyrings`` holds for their name (their
    keyring file: saved at a crash, copied from a peer for a new node), ``K0`` otherwise.

    Incoming plaintext is accepted (``gossip_verify_incoming`` off) only so that the
    converged start, which feeds every node one plaintext push/pull, works; every node
    encrypts what it sends with its primary key, and undecryptable input is refused.
    """

    def make(world: World, name: str, addr: Address, rng: random.Random, now: float) -> SimNode:
        del world
        config = SerfConfig.build(
            name,
            profile=profile,
            bind=addr,
            keys=keyrings.get(name, (K0,)),
            memberlist={"gossip_verify_incoming": False},
            snapshot=True,
        )
        text = snapshots.pop(name, None)
        recovered = parse_snapshot(text) if text is not None else None
        return SerfNode(config, now=now, rng=rng, entropy=rng.randbytes, recovered=recovered)

    return make


def run_chaos(
    seed: int,
    nodes: int,
    *,
    profile: str = "lan",
    plan: ChaosPlan | None = None,
    on_progress: Callable[[float, float, int], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> tuple[ChaosOutcome, World]:
    """Run one chaos schedule (drawn from ``seed`` unless ``plan`` is given) and check it."""
    if plan is None:
        interval = MemberlistConfig.profile(profile, "n0").push_pull_interval
        plan = make_schedule(seed, nodes, push_pull_interval=interval)
    keyrings: dict[str, tuple[bytes, ...]] = {}
    restore: dict[str, str] = {}
    world = World(seed=seed, factory=_factory(profile, keyrings, restore), keep_trace=False)
    for name in plan.nodes:
        world.add_node(name)
    converge(world, plan.nodes)
    if on_phase is not None:
        on_phase("built")
    chaos = _Chaos(world, plan, keyrings, restore)
    world.observers.append(chaos.on_entry)
    chaos.schedule()

    def tick() -> bool:
        chaos.sample_clocks()
        if on_progress is not None:
            on_progress(world.now, plan.quiet_end, world.stats.deliveries)
        return False

    try:
        world.run_until(plan.quiet_end, stop=tick, step=1.0)
    except Exception as exc:
        chaos.violate("no_exception", (), f"{type(exc).__name__}: {exc}")
        return chaos.out, world
    chaos.check()
    chaos.out.rotation = chaos.rotation
    if not math.isfinite(world.now):
        chaos.violate("no_exception", (), "the clock ran away")
    return chaos.out, world


def chaos_result(
    spec: ScenarioSpec,
    *,
    on_phase: Callable[[str], None] | None = None,
    on_progress: Callable[[float, float, int], None] | None = None,
) -> SimulationResult:
    """``run_scenario`` for ``scenario="chaos"``: the outcome as a ``SimulationResult``."""
    outcome, world = run_chaos(
        spec.seed, spec.nodes, profile=spec.profile, on_progress=on_progress, on_phase=on_phase
    )
    if on_phase is not None:
        on_phase("done")
    live = world.running()
    return SimulationResult(
        spec=spec,
        duration_s=world.now,
        deliveries=world.stats.deliveries,
        packets_sent=world.stats.packets_sent,
        packets_lost=world.stats.packets_lost,
        events=world.stats.events,
        false_failures=outcome.false_failures,
        population=len(live),
        reached=len(live),
        subject=None,
        trace_hash=world.trace_hash(),
        extra=outcome.to_dict(),
    )
