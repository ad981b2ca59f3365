"""Simulator speed: deliveries per CPU second of real Serf nodes under several kinds of traffic.

Run on demand from the repository root::

    .venv/bin/python -m benchmarks.bench_sim [--nodes 200] [--span 120] [--repeats 5]
        [--large-nodes 1000] [--large-seconds 60] [--no-doc]

Every sample is one fresh child process (``--sample``) that builds a cluster of ``--nodes``
``SerfNode``s (LAN profile, 1 ms links, the real codec; ``fast_wire``, as ``serf simulate
-fast-wire``, unless the scenario says otherwise) on the deterministic simulator, seeded with
the sample's number, and times one window of ``--span`` simulated seconds with
``time.process_time`` (CPU) and ``time.perf_counter`` (wall). The scenarios:

* ``quiet``: a converged cluster (built with ``serf_proto.simulate.converge``), 5 s of warm-up,
  then the window: probes, acks and the periodic push/pull only;
* ``quiet-lzw``: the same with the full wire pipeline (LZW compression on, Go's default);
* ``event``: a converged cluster, 5 s of warm-up, then one user event per simulated second
  from a random node throughout the window, so gossip always carries something;
* ``join``: no converged start: every node joins ``n0`` at the start of the window, 10 ms
  apart (a join wave: push/pulls plus the gossip of every join and Serf join intent);
* ``churn``: a converged cluster, 5 s of warm-up, then every 2 simulated seconds one random
  running node crashes and the longest-crashed node restarts and rejoins ``n0``.

The *large* run is the ``join`` scenario at ``--large-nodes`` nodes over ``--large-seconds``
(``--large-nodes 0`` skips it); it also reports peak RSS of its process.

Each scenario runs ``--repeats`` samples (seeds 1..repeats, at least 5 for a published
figure); the report gives the median and the min–max of deliveries per CPU second, and the
verdict on the 100,000 deliveries-per-second target is computed from them. Raw samples go
to ``benchmarks/results/sim-speed-<date>-<commit>.json``; the table to the ``sim-speed``
markers of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serf_proto.serf.node import SerfNode
from serf_proto.sim import World
from serf_proto.simulate import converge, serf_sim_factory
from serf_proto.types import MemberStatus

from benchmarks.provenance import (
    ROOT,
    Run,
    Spread,
    add_output_args,
    fmt_spread,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)

DOC = ROOT / "docs" / "benchmarks.md"
TARGET = 100_000
WARMUP = 5.0
SCENARIOS = ("quiet", "quiet-lzw", "event", "join", "churn")
DESCRIPTIONS = {
    "quiet": "quiet converged cluster",
    "quiet-lzw": "quiet converged cluster, LZW on",
    "event": "one user event per second",
    "join": "join wave (all join one seed)",
    "churn": "churn (a crash and a rejoin every 2 s)",
}

Sample = dict[str, Any]


def _world(nodes: int, seed: int, fast_wire: bool) -> tuple[World, list[str]]:
    world = World(seed=seed, factory=serf_sim_factory("lan", fast_wire=fast_wire), keep_trace=False)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        world.add_node(name)
    return world, names


def _messages(world: World) -> int:
    total = 0
    for name in world.running():
        node = world.node(name)
        assert isinstance(node, SerfNode)
        total += node.memberlist.stats.messages_in
    return total


def _converged(world: World, nodes: int) -> bool:
    for name in world.running():
        node = world.node(name)
        assert isinstance(node, SerfNode)
        if sum(1 for m in node.members() if m.status == MemberStatus.ALIVE) != nodes:
            return False
    return True


def _schedule(world: World, names: list[str], scenario: str, seed: int, span: float) -> None:
    """Schedule the scenario's actions in the window that starts now."""
    pick = random.Random(f"{seed}/bench")
    now = world.now
    if scenario == "event":

        def fire(name: str) -> Callable[[SerfNode, float], None]:
            return lambda node, t: node.user_event(name, b"", False, t)

        for i in range(int(span)):
            world.at(now + i + 0.5, pick.choice(names), fire(f"bench-{i}"))
    elif scenario == "join":
        seed_addr = world.address(names[0])
        for i, name in enumerate(names[1:]):
            world.at(now + i * 0.01, name, lambda node, t: node.join([seed_addr], t))
    elif scenario == "churn":
        down: list[str] = []
        seed_addr = world.address(names[0])

        def step(node: SerfNode, t: float) -> None:
            del node, t
            up = [n for n in world.running() if n != names[0]]
            victim = pick.choice(up)
            world.crash(victim)
            if down:
                back = down.pop(0)
                world.restart(back)
                world.call(back, lambda n, when: n.join([seed_addr], when))
            down.append(victim)

        for i in range(int(span / 2)):
            world.at(now + 2.0 * i + 1.0, names[0], step)


def sample(scenario: str, nodes: int, span: float, seed: int) -> Sample:
    """One measured window of ``scenario`` (in this process)."""
    world, names = _world(nodes, seed, fast_wire=scenario != "quiet-lzw")
    if scenario != "join":
        converge(world, names)
        world.run_for(WARMUP)
    _schedule(world, names, scenario, seed, span)
    deliveries, events, handled = world.stats.deliveries, world.stats.events, _messages(world)
    wall = time.perf_counter()
    cpu = time.process_time()
    world.run_for(span)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    return {
        "scenario": scenario,
        "nodes": nodes,
        "seed": seed,
        "sim_seconds": span,
        "cpu_s": cpu,
        "wall_s": wall,
        "deliveries": world.stats.deliveries - deliveries,
        "events": world.stats.events - events,
        "messages": _messages(world) - handled,
        "converged": _converged(world, nodes) if scenario != "churn" else None,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(scenario: str, nodes: int, span: float, seed: int, timeout: float) -> Sample:
    """One sample in a fresh interpreter (independent runs; peak RSS per run)."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_sim",
        "--sample",
        scenario,
        "--nodes",
        str(nodes),
        "--span",
        str(span),
        "--seed",
        str(seed),
    ]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"scenario": scenario, "nodes": nodes, "seed": seed, "error": "timeout"}
    if proc.returncode != 0:
        return {"scenario": scenario, "nodes": nodes, "seed": seed, "error": proc.stderr[-300:]}
    result: Sample = json.loads(proc.stdout)
    return result


def _rate(key: str) -> Callable[[Sample], float | None]:
    def get(s: Sample) -> float | None:
        return s[key] / s["cpu_s"] if "error" not in s and s["cpu_s"] > 0 else None

    return get


def render(groups: dict[str, list[Sample]], run_info: Run, raw: Path | None) -> str:
    """The generated block of the ``## Simulator`` section."""
    lines = [
        "| traffic | nodes | samples | deliveries / CPU s | messages / CPU s | events / CPU s "
        "| CPU s per window | peak RSS MiB | converged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    medians: list[tuple[str, Spread]] = []
    for label, samples in groups.items():
        ok = [s for s in samples if "error" not in s]
        errors = len(samples) - len(ok)
        deliveries = Spread.of(_rate("deliveries")(s) for s in ok)
        if deliveries is not None and not label.startswith("large"):
            medians.append((label, deliveries))
        conv = {s["converged"] for s in ok}
        converged = "—" if conv == {None} else ("yes" if conv == {True} else "not all")
        nodes = ok[0]["nodes"] if ok else (samples[0]["nodes"] if samples else 0)
        lines.append(
            f"| {label} | {nodes:,} | {len(ok)}"
            + (f" ({errors} failed)" if errors else "")
            + f" | {fmt_spread(deliveries, ',.0f')} "
            f"| {fmt_spread(Spread.of(_rate('messages')(s) for s in ok), ',.0f')} "
            f"| {fmt_spread(Spread.of(_rate('events')(s) for s in ok), ',.0f')} "
            f"| {fmt_spread(Spread.of(s['cpu_s'] for s in ok), '.3g')} "
            f"| {fmt_spread(Spread.of(s['peak_rss_mib'] for s in ok), ',.0f')} | {converged} |"
        )
    lines += [
        "",
        "Median (min–max) over the samples; each sample is a fresh process and seed.",
    ]
    if medians:
        met = [label for label, s in medians if s.low >= TARGET]
        missed = [(label, s) for label, s in medians if s.high < TARGET]
        unclear = [label for label, s in medians if s.low < TARGET <= s.high]
        parts = []
        if met:
            parts.append("every sample at or above it in " + ", ".join(met))
        if unclear:
            parts.append("the target lies within the spread of " + ", ".join(unclear))
        if missed:
            parts.append(
                "missed, every sample below it, in "
                + "; ".join(f"{label} (median {s.median:,.0f})" for label, s in missed)
            )
        lines += ["", f"Target: {TARGET:,} deliveries per CPU second: " + "; ".join(parts) + "."]
    lines += ["", provenance_block(run_info, raw)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200, help="nodes per scenario")
    parser.add_argument("--span", type=float, default=120.0, help="simulated seconds measured")
    parser.add_argument("--repeats", type=int, default=5, help="samples per scenario (>= 5)")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help="comma-separated subset of scenarios"
    )
    parser.add_argument("--large-nodes", type=int, default=1000, help="0 skips the large run")
    parser.add_argument("--large-seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per sample")
    parser.add_argument("--sample", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    add_output_args(parser)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # probes failing under churn log warnings; not measured
    if args.sample:
        print(json.dumps(sample(args.sample, args.nodes, args.span, args.seed)))
        return 0
    run_info = start("sim-speed")
    groups: dict[str, list[Sample]] = {}
    plan = [(s, DESCRIPTIONS[s], args.nodes, args.span) for s in args.scenarios.split(",") if s]
    if args.large_nodes:
        plan.append(
            ("join", f"large: {DESCRIPTIONS['join']}", args.large_nodes, args.large_seconds)
        )
    for scenario, label, nodes, span in plan:
        groups[label] = []
        for seed in range(1, args.repeats + 1):
            s = run_child(scenario, nodes, span, seed, args.timeout)
            groups[label].append(s)
            print(f"{label} seed {seed}: {s}", file=sys.stderr, flush=True)
    run_info.finish()
    params = {k: v for k, v in vars(args).items() if k not in ("sample", "seed", "results_dir")}
    raw = save_results(run_info, groups, parameters=params, results_dir=args.results_dir)
    block = render(groups, run_info, raw)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {"sim-speed": block})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
