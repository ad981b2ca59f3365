"""Simulation benchmark: real Serf nodes on the deterministic simulator, against Serf's model.

Every run is one ``serf simulate -format=json`` process (so peak RSS is per run). Measured:

- **dissemination**: one user event, time until 50 %, 99 %, 99.99 % and all nodes delivered
  it, for each size at 0 % and 10 % loss, next to Serf's analytical model (fraction informed
  after r rounds = 1/(1+(N+1)e^(-1.5r)), fanout 3, 200 ms rounds) and the ⌈log₄N⌉-round lower
  bound (every informed node informs 3 new ones per round);
- **detection**: one node crashes; time until each live node declared it failed;
- **false failures**: a quiet cluster under loss, Lifeguard on and off, with the TCP ping
  fallback off (simulated streams are lossless, so with it on no node is ever declared failed);
- **simulator speed**: deliveries per wall second after the cluster was built (one run
  each; ``benchmarks/bench_sim.py`` measures speed with repeated samples);
- **large run**: 10,000 nodes simulated for 60 s after one event (wall time and peak RSS).

Sizes whose estimated memory would not fit in ``--max-gib`` are not run; the report says so.
Converged clusters share one node table copy-on-write, so memory grows about linearly in N
(see ``estimated_gib``).

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.sim.run [--sizes 100,1000,10000] [--max-gib 8] [--no-doc]
    .venv/bin/python -m benchmarks.sim.run --from benchmarks/results/sim-DATE-COMMIT.json
    .venv/bin/python -m benchmarks.sim.run --profile   # where the time goes (cProfile)

Raw results (every run's JSON, arrivals included) go to
``benchmarks/results/sim-<date>-<shortcommit>.json``; the tables, the verdicts computed from
them and the provenance go between the ``sim-*`` markers of ``docs/benchmarks.md``; plots to
``docs/img/sim_*.png``. ``--from`` re-renders the docs from a saved file, with its provenance.
Each scenario and size is one deterministic run (the simulator has no noise to sample: the same
seed gives the same trace); only the wall-time columns depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.provenance import (
    ROOT,
    Run,
    Spread,
    add_output_args,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)

SERF = str(ROOT / ".venv" / "bin" / "serf")
DOC = ROOT / "docs" / "benchmarks.md"
IMG = ROOT / "docs" / "img"
#: Memory of a converged cluster: a fixed part per node (its Serf and memberlist state,
#: timers, buffers) plus its probe list and table overlay per member; fitted to peak RSS of
#: 142 MiB at N = 2,000 and 1.6 GiB at N = 10,000.
BYTES_PER_NODE = 50_000
BYTES_PER_NODE_PAIR = 12
LARGE = 10_000
ROUND = 0.2  # seconds per gossip round (LAN gossip_interval)
FANOUT = 3
SHARES = {"p50": 0.5, "p99": 0.99, "p9999": 0.9999}
SPEED_TARGET = 100_000

SimRun = dict[str, Any]


def model_time(nodes: int, share: float) -> float:
    """Seconds until ``share`` of ``nodes`` is informed in Serf's model (the last node: the
    time the model reaches (N-0.5)/N, since it only approaches 1)."""
    need = math.ceil(share * nodes - 1e-9)
    fraction = min(need / nodes, 1 - 0.5 / nodes)
    rounds = math.log(fraction * (nodes + 1) / (1 - fraction)) / 1.5
    return max(0.0, rounds) * ROUND


def model_fraction(nodes: int, seconds: float) -> float:
    """Share informed after ``seconds`` in Serf's model."""
    return 1 / (1 + (nodes + 1) * math.exp(-1.5 * seconds / ROUND))


def lower_bound(nodes: int) -> float:
    """⌈log₄N⌉ rounds, in seconds: the fastest a fanout-3 push can inform N nodes."""
    return math.ceil(math.log(nodes, FANOUT + 1) - 1e-9) * ROUND


def estimated_gib(nodes: int) -> float:
    """Estimated peak memory of a converged ``nodes``-node cluster, in GiB."""
    return nodes * (BYTES_PER_NODE + BYTES_PER_NODE_PAIR * nodes) / 2**30


def fits(nodes: int, max_gib: float) -> bool:
    """Whether a converged ``nodes``-node cluster is expected to fit in ``max_gib``."""
    return estimated_gib(nodes) <= max_gib


def simulate(args: list[str], timeout: float) -> SimRun:
    """Run ``serf simulate -format=json -arrivals -fast-wire args``; the parsed object, or
    ``{"error": ...}`` when it failed or ran out of time."""
    cmd = [SERF, "simulate", "-format=json", "-arrivals", "-fast-wire", *args]
    print("+", " ".join(cmd[1:]), flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s", "args": args}
    if proc.returncode != 0:
        return {"error": proc.stdout.decode(errors="replace")[:300], "args": args}
    data: SimRun = json.loads(proc.stdout)
    print(
        f"  wall {data['wall_s']:.1f} s (build {data['build_s']:.1f} s), "
        f"{data['peak_rss_mib']:,.0f} MiB, {data.get('dissemination') or data.get('detection')}"
        f", false failures {data['false_failures']}",
        flush=True,
    )
    return data


def measure(
    sizes: list[int], max_gib: float, timeout: float, small: int = 100, steady_s: float = 120.0
) -> dict[str, Any]:
    """Every run of the benchmark; sizes that do not fit are listed as skipped."""
    out: dict[str, Any] = {
        "dissemination": [],
        "detection": [],
        "false_failures": [],
        "skipped": [],
    }
    for nodes in sizes:
        if not fits(nodes, max_gib):
            out["skipped"].append({"nodes": nodes, "estimated_gib": round(estimated_gib(nodes), 1)})
            continue
        for loss in (0.0, 0.1):
            common = [f"-nodes={nodes}", f"-loss={loss}", "-trigger=1s", "-stop-when-complete"]
            out["dissemination"].append(
                simulate([*common, "-scenario=event", "-duration=30s"], timeout)
            )
            out["detection"].append(
                simulate([*common, "-scenario=failure", "-duration=60s"], timeout)
            )
    if fits(LARGE, max_gib):
        out["large"] = large_run(timeout)
    for loss in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        for lifeguard in (True, False):
            out["false_failures"].append(
                simulate(
                    [
                        f"-nodes={small}",
                        f"-loss={loss}",
                        "-scenario=steady",
                        f"-duration={steady_s:g}s",
                        "-tcp-pings=false",
                        f"-lifeguard={str(lifeguard).lower()}",
                    ],
                    timeout,
                )
            )
    out["scenarios"] = other_scenarios(timeout, small)
    out["false_failures_tcp"] = simulate(
        [
            f"-nodes={small}",
            "-loss=0.3",
            "-scenario=steady",
            f"-duration={steady_s:g}s",
            "-lifeguard=false",
        ],
        timeout,
    )
    return out


def large_run(timeout: float) -> SimRun:
    """The size target: 10,000 nodes, one event at 10 s, watched for 60 s (70 s simulated)."""
    return simulate([f"-nodes={LARGE}", "-scenario=event", "-duration=60s"], timeout)


def other_scenarios(timeout: float, nodes: int = 100) -> list[SimRun]:
    """Join and partition runs at 100 nodes (a join of N nodes costs O(N²) gossip)."""
    base = [f"-nodes={nodes}", "-stop-when-complete"]
    return [
        simulate([*base, "-scenario=join", "-trigger=0s", "-duration=60s"], timeout),
        simulate([*base, "-scenario=partition", "-heal=20s", "-duration=60s"], timeout),
        simulate([*base, "-scenario=partition", "-heal=60s", "-duration=60s"], timeout),
    ]


def _ok(runs: list[SimRun]) -> list[SimRun]:
    return [r for r in runs if "error" not in r]


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def plot(results: dict[str, Any]) -> None:
    """Write docs/img/sim_dissemination.png, sim_detection.png and sim_false_failures.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    IMG.mkdir(parents=True, exist_ok=True)
    runs = _ok(results["dissemination"])
    sizes = sorted({r["nodes"] for r in runs})
    fig, axes = plt.subplots(1, max(1, len(sizes)), figsize=(4.2 * max(1, len(sizes)), 3.6))
    axes_list = list(axes) if len(sizes) > 1 else [axes]
    for ax, nodes in zip(axes_list, sizes, strict=False):
        for r in (r for r in runs if r["nodes"] == nodes):
            times = [0.0, *r["arrivals_s"]]
            frac = [i / r["population"] for i in range(len(times))]
            ax.step(times, frac, where="post", label=f"simulated, {r['loss']:.0%} loss")
        horizon = max([r["arrivals_s"][-1] for r in runs if r["nodes"] == nodes] + [1.0])
        xs = [horizon * 1.2 * i / 200 for i in range(201)]
        ax.plot(xs, [model_fraction(nodes, x) for x in xs], "k--", label="Serf model")
        ax.axvline(lower_bound(nodes), color="grey", linestyle=":", label="⌈log₄N⌉ rounds")
        ax.set_title(f"N = {nodes:,}")
        ax.set_xlabel("seconds after the event")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes_list[0].set_ylabel("share of nodes with the event")
    axes_list[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("User-event dissemination (LAN profile)")
    fig.tight_layout()
    fig.savefig(IMG / "sim_dissemination.png", dpi=110)
    plt.close(fig)

    det = _ok(results["detection"])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for r in det:
        times = [0.0, *r["arrivals_s"]]
        frac = [i / r["population"] for i in range(len(times))]
        ax.step(times, frac, where="post", label=f"N={r['nodes']:,}, {r['loss']:.0%} loss")
    ax.set_xlabel("seconds after the crash")
    ax.set_ylabel("share of live nodes reporting it failed")
    ax.set_title("Failure detection (LAN profile)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "sim_detection.png", dpi=110)
    plt.close(fig)

    ff = _ok(results["false_failures"])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for lifeguard in (True, False):
        pts = sorted((r["loss"], r["false_failures"]) for r in ff if r["lifeguard"] is lifeguard)
        ax.plot(
            [p[0] * 100 for p in pts],
            [p[1] for p in pts],
            "o-",
            label=f"Lifeguard {'on' if lifeguard else 'off'}",
        )
    ax.set_xlabel("datagram loss (%)")
    ax.set_ylabel("false failure declarations in 120 s")
    ax.set_title("False failures, 100 nodes, UDP probes only")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(IMG / "sim_false_failures.png", dpi=110)
    plt.close(fig)


def _provenance_lines(run_info: Run, raw: Path | None, short: bool) -> list[str]:
    return ["", provenance_block(run_info, raw, short=short)]


def blocks(results: dict[str, Any], run_info: Run, raw: Path | None) -> dict[str, str]:
    """The generated blocks of the ``## Simulation`` section, by marker name: tables, verdicts
    computed from them, and provenance. Explanations are hand-written around the markers."""
    out: dict[str, str] = {}
    lines = [
        "| N | loss | p50 | p99 | p99.99 | all | model p50 / p99 / p99.99 | bound | all ÷ bound |"
        " build s | run s | deliveries/s | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["dissemination"]:
        if "error" in r:
            lines.append(f"| {' '.join(r['args'])} | failed: {r['error']} ||||||||||||")
            continue
        n, d = r["nodes"], r["dissemination"]
        model = " / ".join(f"{model_time(n, s):.2f}" for s in SHARES.values())
        bound = lower_bound(n)
        ratio = "—" if d["all"] is None else f"{d['all'] / bound:.2f}"
        lines.append(
            f"| {n:,} | {r['loss']:.0%} | {_s(d['p50'])} | {_s(d['p99'])} | {_s(d['p9999'])} | "
            f"{_s(d['all'])} | {model} | {bound:.1f} | {ratio} | {r['build_s']:.0f} | "
            f"{r['run_s']:.1f} | {r['deliveries_per_s']:,} | {r['peak_rss_mib']:,.0f} |"
        )
    for s in results["skipped"]:
        lines.append(
            f"| {s['nodes']:,} | — | not run: a converged cluster needs about "
            f"{estimated_gib(s['nodes']):.0f} GiB ||||||||||||"
        )
    out["sim-dissemination"] = "\n".join([*lines, *_provenance_lines(run_info, raw, short=False)])
    out["sim-targets"] = "\n".join(
        [*targets(results, run_info), *_provenance_lines(run_info, raw, short=True)]
    )
    lines = [
        "| N | loss | first | p50 | all | run s | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in _ok(results["detection"]):
        d = r["detection"]
        lines.append(
            f"| {r['nodes']:,} | {r['loss']:.0%} | {_s(d['first'])} | {_s(d['p50'])} | "
            f"{_s(d['all'])} | {r['run_s']:.1f} | {r['peak_rss_mib']:,.0f} |"
        )
    out["sim-detection"] = "\n".join([*lines, *_provenance_lines(run_info, raw, short=True)])
    lines = [
        "| loss | Lifeguard on | Lifeguard off | deliveries/s (on / off) |",
        "|---:|---:|---:|---:|",
    ]
    ff = _ok(results["false_failures"])
    if ff:
        lines[:0] = [
            f"{ff[0]['nodes']:,} nodes, {ff[0]['duration_s']:.0f} simulated seconds per run, "
            "TCP ping fallback off; one run per cell.",
            "",
        ]
    for loss in sorted({r["loss"] for r in ff}):
        on = [r for r in ff if r["loss"] == loss and r["lifeguard"]]
        off = [r for r in ff if r["loss"] == loss and not r["lifeguard"]]
        counts = [str(x[0]["false_failures"]) if x else "—" for x in (on, off)]
        rates = [f"{x[0]['deliveries_per_s']:,}" if x else "—" for x in (on, off)]
        lines.append(f"| {loss:.0%} | {counts[0]} | {counts[1]} | {rates[0]} / {rates[1]} |")
    tcp = results.get("false_failures_tcp", {})
    if "false_failures" in tcp:
        lifeguard = "on" if tcp.get("lifeguard") else "off"
        lines += [
            "",
            f"With the TCP ping fallback on, {tcp['loss']:.0%} loss and Lifeguard {lifeguard}: "
            f"{tcp['false_failures']} false failures.",
        ]
    out["sim-false-failures"] = "\n".join([*lines, *_provenance_lines(run_info, raw, short=True)])
    scen = _ok(results.get("scenarios", []))
    lines = ["| run | nodes | p50 | p99 | all | false failures |", "|---|---:|---:|---:|---:|---:|"]
    for r in scen:
        d = r["dissemination"]
        name = (
            "all nodes join one seed (from the start)"
            if r["scenario"] == "join"
            else f"partition healed after {r['heal_at_s'] - r['split_at_s']:.0f} s (from the heal)"
        )
        lines.append(
            f"| {name} | {r['nodes']:,} | {_s(d['p50'])} | {_s(d['p99'])} | {_s(d['all'])} | "
            f"{r['false_failures']} |"
        )
    out["sim-scenarios"] = "\n".join([*lines, *_provenance_lines(run_info, raw, short=True)])
    return out


def targets(results: dict[str, Any], run_info: Run) -> list[str]:
    """Verdicts on the targets, each with the number it rests on."""
    runs = _ok(results["dissemination"])
    out = []
    for r in (r for r in runs if r["loss"] == 0.0):
        n, d = r["nodes"], r["dissemination"]
        bound = lower_bound(n)
        late = [
            f"{k} {_s(d[k])} s > {model_time(n, share):.2f} s"
            for k, share in SHARES.items()
            if d[k] is None or d[k] > model_time(n, share)
        ]
        within_bound = d["all"] is not None and d["all"] <= 1.5 * bound
        out.append(
            f"- N = {n:,}, no loss, one run: every share within Serf's model: "
            + ("met" if not late else "not met (" + ", ".join(late) + ")")
            + f"; all nodes within 1.5 × the bound ({1.5 * bound:.1f} s): "
            f"{'met' if within_bound else 'not met'} ({_s(d['all'])} s)."
        )
    rates = Spread.of(r["deliveries_per_s"] for r in runs + _ok(results["false_failures"]))
    if rates is not None:
        if rates.low >= SPEED_TARGET:
            verdict = "met by every run"
        elif rates.high < SPEED_TARGET:
            verdict = "not met by any run"
        else:
            verdict = "met by some runs only"
        out.append(
            f"- Simulator speed ≥ {SPEED_TARGET:,} deliveries per wall second: {verdict} "
            f"(median {rates.fmt(',.0f')} over the {rates.n} runs of this sweep, which differ "
            f"in size and scenario, on {run_info.cores} cores with load average "
            f"{run_info.load_start[0]:.1f} at start)."
        )
    large = results.get("large")
    if large is None or "error" in large:
        why = "not run" if large is None else f"failed: {large['error']}"
        out.append(f"- {LARGE:,} nodes for 60 s in under 10 minutes and 8 GB: {why}.")
    else:
        minutes = large["wall_s"] / 60
        gib = large["peak_rss_mib"] / 1024
        met = minutes < 10 and gib < 8
        d = large["dissemination"]
        out.append(
            f"- {LARGE:,} nodes for 60 s in under 10 minutes and 8 GB, one run: "
            f"{'met' if met else 'not met'} ({large['duration_s']:.0f} simulated seconds, an "
            f"event at 10 s: {minutes:.1f} min of wall time, of which {large['build_s']:.0f} s "
            f"building the converged cluster, and {gib:.1f} GiB peak RSS; "
            f"{large['deliveries']:,} deliveries; the event reached every node in "
            f"{_s(d['all'])} s)."
        )
    return out


def profile(nodes: int = 200, seconds: float = 20.0) -> None:
    """Print a cProfile of ``seconds`` of a converged ``nodes``-node cluster spreading one
    event (in this process), sorted by cumulative time."""
    import cProfile
    import logging
    import pstats

    from serf_proto.sim.world import World
    from serf_proto.simulate import converge, serf_sim_factory

    logging.disable(logging.CRITICAL)
    world = World(seed=1, factory=serf_sim_factory("lan", fast_wire=True), keep_trace=False)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        world.add_node(name)
    converge(world, names)
    world.run_for(2.0)
    world.call(names[5], lambda node, now: node.user_event("x", b"", False, now))
    profiler = cProfile.Profile()
    profiler.enable()
    world.run_for(seconds)
    profiler.disable()
    print(f"{world.stats.deliveries:,} deliveries, {world.stats.events:,} events")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="cluster sizes, comma-separated")
    parser.add_argument("--max-gib", type=float, default=8.0, help="memory budget per run")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per run")
    parser.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        help="measure nothing: re-render the docs and plots from a saved raw results file",
    )
    parser.add_argument(
        "--small-nodes", type=int, default=100, help="nodes of the false-failure and join runs"
    )
    parser.add_argument(
        "--steady-seconds", type=float, default=120.0, help="length of the false-failure runs"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile and exit")
    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.profile:
        profile()
        return 0
    if args.from_file:
        saved = json.loads(args.from_file.read_text())
        run_info, results, raw = (
            Run.from_dict(saved["provenance"]),
            saved["results"],
            args.from_file,
        )
    else:
        sizes = [int(s) for s in args.sizes.split(",") if s]
        run_info = start("sim")
        results = measure(sizes, args.max_gib, args.timeout, args.small_nodes, args.steady_seconds)
        run_info.finish()
        params = {k: v for k, v in vars(args).items() if k not in ("results_dir", "from_file")}
        raw = save_results(run_info, results, parameters=params, results_dir=args.results_dir)
    generated = blocks(results, run_info, raw)
    print("\n\n".join(generated.values()))
    if not args.no_doc:
        plot(results)
        replace_blocks(DOC, generated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
