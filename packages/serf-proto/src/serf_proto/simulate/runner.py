"""Run one scenario on simulated Serf nodes and measure its curves.

Theory of operation
-------------------
The runner builds a :class:`~serf_proto.sim.World` of real ``SerfNode``\\ s (``n0`` ... ``nN-1``)
and, for every scenario but ``join``, gives them a converged start
(:func:`~serf_proto.simulate.cluster.converge`). At ``trigger_at`` seconds it acts:

* ``event``: one node sends a user event; the curve is when each live node delivered it;
* ``failure``: one node crashes; the curve is when each live node emitted ``member-failed``
  for it (``detection``);
* ``join``: every node joins ``n0`` (at time 0, the trigger); the curve is when each node's
  view first held every node alive;
* ``partition``: the cluster splits into two halves; ``heal_after`` seconds later the network
  heals, and the curve is when each node's view first held every node alive again, counted
  from the heal;
* ``restart``: a wave of crash-and-restarts (:mod:`~serf_proto.simulate.restart`); the curve
  is when each node's view first held every node alive again, counted from the end of the wave;
* ``steady``: nothing; only false failures are counted.

For ``partition`` and ``restart`` the result also counts ``wrong_pairs``: the (viewer, node)
pairs of running nodes where, when the run ends, the viewer does not see the node alive.

An observer on the world's trace follows ``UserEvent`` and ``MemberEvent`` outputs as they
happen, keeping for each viewer the set of members it sees alive. A *false failure* is a
``member-failed`` about a node that is running and reachable from the viewer (same side of a
partition); each (viewer, member) declaration counts once per event. Once a partition was
made, declarations about the other half never count, even after the heal (a suspicion raised
during the partition may expire just after it).

Shares are of the live nodes: the crashed node never counts, and ``p9999`` needs
``ceil(0.9999 * live)`` nodes, i.e. all of them below 10,000 nodes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serf_proto.events import MemberEvent, MemberEventType, UserEvent
from serf_proto.serf import SerfNode
from serf_proto.serf.snapshot import RecoveredState
from serf_proto.sim.network import LinkSpec
from serf_proto.sim.world import NodeFactory, TraceEntry, World
from serf_proto.simulate.cluster import converge, serf_sim_factory
from serf_proto.simulate.curves import ArrivalCurve
from serf_proto.simulate.restart import Action, restart_wave, wrong_pairs
from serf_proto.simulate.spec import ScenarioSpec

__all__ = ["DISSEMINATION_SHARES", "SimulationResult", "run_scenario"]

#: The shares reported for dissemination curves: key -> share of live nodes.
DISSEMINATION_SHARES = {"p50": 0.5, "p99": 0.99, "p9999": 0.9999, "all": 1.0}
#: The shares reported for detection curves.
DETECTION_SHARES = {"first": 0.0, "p50": 0.5, "all": 1.0}
#: Shares printed in the curve table.
CURVE_SHARES = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0)
EVENT_NAME = "simulate"


@dataclass(slots=True)
class SimulationResult:
    """What one run measured (times in seconds; None where a share was never reached)."""

    spec: ScenarioSpec
    duration_s: float
    deliveries: int
    packets_sent: int
    packets_lost: int
    events: int
    false_failures: int
    population: int
    reached: int
    subject: str | None
    dissemination: dict[str, float | None] | None = None
    detection: dict[str, float | None] | None = None
    curve: list[tuple[float, float | None]] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    trace_hash: str = ""
    #: (viewer, node) pairs still wrong at the end (``partition`` and ``restart`` only).
    wrong_pairs: int | None = None
    #: True when the run was cut short (Ctrl-C with ``interruptible``): a partial result.
    interrupted: bool = False
    #: Scenario-specific fields added to the JSON object (``chaos``: invariants, violations,
    #: schedule).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, arrivals: bool = False) -> dict[str, Any]:
        """The JSON object of ``serf simulate -format=json`` (without wall time and RSS);
        ``arrivals`` adds every live node's arrival time (seconds after the trigger)."""
        spec = self.spec
        out: dict[str, Any] = {
            "nodes": spec.nodes,
            "seed": spec.seed,
            "scenario": spec.scenario,
            "profile": spec.profile,
            "loss": spec.loss,
            "latency_s": spec.latency,
            "lifeguard": spec.lifeguard,
            "tcp_pings": spec.tcp_pings,
            "fast_wire": spec.fast_wire,
            "go_faithful": spec.go_faithful,
            "duration_s": round(self.duration_s, 6),
            "deliveries": self.deliveries,
            "packets_sent": self.packets_sent,
            "packets_lost": self.packets_lost,
            "sim_events": self.events,
            "false_failures": self.false_failures,
            "population": self.population,
            "reached": self.reached,
            "subject": self.subject,
            "trace_hash": self.trace_hash,
        }
        if self.interrupted:
            out["interrupted"] = True
        if spec.scenario == "partition":
            out["split_at_s"] = spec.trigger_at
            out["heal_at_s"] = spec.trigger_at + spec.heal_after
        if spec.scenario == "restart":
            out["restart_share"] = spec.restart_share
            out["restart_spread_s"] = spec.restart_spread
            out["restart_downtime_s"] = spec.restart_downtime
            out["from_snapshot"] = spec.from_snapshot
        if self.wrong_pairs is not None:
            out["wrong_pairs"] = self.wrong_pairs
        if self.dissemination is not None:
            out["dissemination"] = {k: _round(v) for k, v in self.dissemination.items()}
        if self.detection is not None:
            out["detection"] = {k: _round(v) for k, v in self.detection.items()}
        out["curve"] = [{"share": s, "seconds": _round(t)} for s, t in self.curve]
        if arrivals:
            out["arrivals_s"] = [round(t, 6) for t in self.arrivals]
        out.update(self.extra)
        return out


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 6)


class _Watcher:
    """Follows the trace: arrivals of the measured state, views, false failures."""

    def __init__(self, world: World, spec: ScenarioSpec, names: list[str]) -> None:
        self.world = world
        self.spec = spec
        self.names = names
        self.all_names = frozenset(names)
        self.subject: str | None = None
        self.curve = ArrivalCurve(spec.trigger_at)
        self.false_failures = 0
        self.half: dict[str, int] = {}
        self.watch_views = spec.scenario in ("join", "partition", "restart")
        self.views: dict[str, set[str]] = {}
        if self.watch_views:
            start = self.all_names if spec.converged_start else frozenset()
            self.views = {n: {n, *start} for n in names}

    def on_entry(self, entry: TraceEntry) -> None:
        item = entry.item
        if type(item) is UserEvent:
            if item.name == EVENT_NAME and self.spec.scenario == "event":
                self.curve.arrive(entry.node, entry.at)
            return
        if type(item) is not MemberEvent:
            return
        viewer = entry.node
        etype = item.type
        if etype is MemberEventType.FAILED:
            for member in item.members:
                self._failed(viewer, member.name, entry.at)
        if self.watch_views:
            view = self.views[viewer]
            if etype is MemberEventType.JOIN:
                view.update(m.name for m in item.members)
                if len(view) == len(self.all_names) and self._measuring(entry.at):
                    self.curve.arrive(viewer, entry.at)
            elif etype in (MemberEventType.FAILED, MemberEventType.LEAVE, MemberEventType.REAP):
                view.difference_update(m.name for m in item.members)
                if self.spec.scenario == "restart":
                    self.curve.forget(viewer)  # the last arrival counts: views must stay whole

    def _measuring(self, at: float) -> bool:
        if self.spec.scenario in ("partition", "restart"):
            return at >= self.curve.trigger
        return True

    def restarted(self, name: str) -> None:
        """A fresh instance of ``name`` knows only itself."""
        self.views[name] = {name}
        self.curve.forget(name)

    def start_measuring(self) -> None:
        """Views already complete when the measurement starts arrive at once."""
        at = self.curve.trigger
        for viewer in self.world.running():
            if len(self.views[viewer]) == len(self.all_names):
                self.curve.arrive(viewer, at)

    def _failed(self, viewer: str, member: str, at: float) -> None:
        if self.spec.scenario == "failure" and member == self.subject:
            self.curve.arrive(viewer, at)
            return
        if not self.world.is_running(member):
            return
        if self.half and self.half.get(viewer) != self.half.get(member):
            return  # the partition's doing, during it or when an old suspicion ends after it
        self.false_failures += 1

    def complete(self, population: int) -> bool:
        return len(self.curve) >= population


def _trigger(world: World, spec: ScenarioSpec, names: list[str], watcher: _Watcher) -> list[Action]:
    """Schedule the scenario's action(s); returns those the runner carries out itself."""
    pick = random.Random(f"{spec.seed}/scenario")
    at = spec.trigger_at
    if spec.scenario == "event":
        origin = pick.choice(names)
        watcher.subject = origin
        world.at(
            at,
            origin,
            lambda node, now: node.user_event(EVENT_NAME, b"", False, now),
        )
    elif spec.scenario == "failure":
        victim = pick.choice(names[1:])
        watcher.subject = victim
        world.at(at, names[0], lambda node, now: world.crash(victim))
    elif spec.scenario == "join":
        seed = world.address(names[0])
        for name in names[1:]:
            world.at(at, name, lambda node, now: node.join([seed], now))
    elif spec.scenario == "partition":
        half = len(names) // 2
        left, right = names[:half], names[half:]
        sides = {n: (0 if i < half else 1) for i, n in enumerate(names)}

        def split(node: SerfNode, now: float) -> None:
            del node, now
            world.partition(left, right)
            watcher.half = sides

        def heal(node: SerfNode, now: float) -> None:
            del node, now
            world.heal()

        world.at(at, names[0], split)
        world.at(at + spec.heal_after, names[0], heal)
        watcher.curve = ArrivalCurve(at + spec.heal_after)
    elif spec.scenario == "restart":

        def make(recovered: dict[str, RecoveredState]) -> NodeFactory:
            return serf_sim_factory(
                spec.profile,
                lifeguard=spec.lifeguard,
                tcp_pings=spec.tcp_pings,
                fast_wire=spec.fast_wire,
                go_faithful=spec.go_faithful,
                recovered=recovered,
            )

        actions, end = restart_wave(world, spec, names, make, watcher.restarted)
        watcher.curve = ArrivalCurve(end)
        return [*actions, (end, watcher.start_measuring)]
    return []


#: ``on_progress(now, end, deliveries)``: simulated seconds so far and at the end, deliveries.
Progress = Callable[[float, float, int], None]


def run_scenario(
    spec: ScenarioSpec,
    *,
    on_phase: Callable[[str], None] | None = None,
    on_progress: Progress | None = None,
    interruptible: bool = False,
) -> SimulationResult:
    """Build the cluster, run ``spec`` and return what it measured.

    ``on_phase`` is called with ``"built"`` once the cluster is ready (converged when the
    scenario starts converged) and with ``"done"`` after the run, so a caller can time them.
    ``on_progress`` is called after every simulated second of the run (the result does not
    change). With ``interruptible``, a ``KeyboardInterrupt`` during the run ends it early and
    the result measures what happened so far (``interrupted`` is set); during the build it
    propagates.
    """
    if spec.scenario == "chaos":
        from serf_proto.simulate.chaos import chaos_result

        return chaos_result(spec, on_phase=on_phase, on_progress=on_progress)
    world = World(
        seed=spec.seed,
        factory=serf_sim_factory(
            spec.profile,
            lifeguard=spec.lifeguard,
            tcp_pings=spec.tcp_pings,
            fast_wire=spec.fast_wire,
            go_faithful=spec.go_faithful,
        ),
        link=LinkSpec(loss=spec.loss, latency=spec.latency),
        keep_trace=False,
    )
    names = [f"n{i}" for i in range(spec.nodes)]
    for name in names:
        world.add_node(name)
    if spec.converged_start:
        converge(world, names)
    if on_phase is not None:
        on_phase("built")
    watcher = _Watcher(world, spec, names)
    world.observers.append(watcher.on_entry)
    actions = _trigger(world, spec, names, watcher)
    start_of_watch = watcher.curve.trigger
    end = start_of_watch + spec.duration
    if spec.scenario == "steady":
        end = spec.duration
    population = spec.nodes - (1 if spec.scenario == "failure" else 0)
    early_stop = spec.stop_when_complete and spec.scenario != "steady"
    interrupted = False
    try:
        for when, action in actions:
            world.run_until(when)
            action()
        if on_progress is not None:

            def tick() -> bool:
                on_progress(world.now, end, world.stats.deliveries)
                return early_stop and world.now >= start_of_watch and watcher.complete(population)

            world.run_until(end, stop=tick, step=1.0)
        elif early_stop:
            world.run_until(start_of_watch)
            world.run_until(end, stop=lambda: watcher.complete(population), step=1.0)
        else:
            world.run_until(end)
    except KeyboardInterrupt:
        if not interruptible:
            raise
        interrupted = True
    if on_phase is not None:
        on_phase("done")
    live = set(world.running())
    if spec.scenario == "failure" and watcher.subject is not None:
        live.discard(watcher.subject)
    times = watcher.curve.times(live)
    result = SimulationResult(
        spec=spec,
        duration_s=world.now,
        deliveries=world.stats.deliveries,
        packets_sent=world.stats.packets_sent,
        packets_lost=world.stats.packets_lost,
        events=world.stats.events,
        false_failures=watcher.false_failures,
        population=len(live),
        reached=len(times),
        subject=watcher.subject,
        arrivals=times,
        trace_hash=world.trace_hash(),
        interrupted=interrupted,
    )
    if spec.scenario in ("partition", "restart"):
        result.wrong_pairs = wrong_pairs(world)
    curve = watcher.curve
    if spec.scenario == "failure":
        result.detection = {
            k: curve.at_share(len(live), s, live) for k, s in DETECTION_SHARES.items()
        }
    elif spec.scenario != "steady":
        result.dissemination = {
            k: curve.at_share(len(live), s, live) for k, s in DISSEMINATION_SHARES.items()
        }
    if spec.scenario != "steady":
        result.curve = [(s, curve.at_share(len(live), s, live)) for s in CURVE_SHARES]
    return result
