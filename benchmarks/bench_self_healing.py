"""Self-healing: how fast long partitions and restart waves converge, pyserf's rules beside Go's.

Run on demand from the repository root (resumable; small sizes first)::

    .venv/bin/python -m benchmarks.bench_self_healing [--nodes 100] [--seeds 5]
        [--partitions 60,300] [--resume] [--report-only] [--no-doc]

Every cell is one seeded ``serf_proto.simulate.run_scenario`` run (``fast_wire``), once with
pyserf's rules and once with ``go_faithful`` (Go's), on the same seed:

* ``partition-<H>``: the cluster splits in two halves at 10 s and heals after ``H`` seconds;
  the figure is the ``dissemination`` ``all`` time: seconds from the heal until every live
  node sees every node alive (the worst seed is the p100 the acceptance target is about);
* ``restart-fresh`` / ``restart-snapshot``: every node is crashed and restarted (down 8 s)
  over 20 s, fresh with a join or from a snapshot; ``dissemination`` from the last restart,
  and ``wrong_pairs`` 30 s after it;
* ``cost``: one node crashed for good (a failed member that never comes back); the extra
  packets per node per second that pyserf's heal pings cost over Go's rules, over 300 s.

Samples are appended to ``benchmarks/results/self-healing-<commit>.cells.jsonl`` as they are
measured (``--resume`` keeps those of the same commit); the summary goes to
``benchmarks/results/self-healing-<date>-<commit>.json`` and to the ``self-healing`` markers of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from serf_proto.simulate import ScenarioSpec, run_scenario

from benchmarks.provenance import (
    ROOT,
    CellStore,
    Spread,
    add_output_args,
    fmt_spread,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)

DOC = ROOT / "docs" / "benchmarks.md"
RULES = ("pyserf", "go")


def _spec(cell: str, nodes: int, seed: int, go: bool) -> ScenarioSpec:
    common: dict[str, Any] = {"nodes": nodes, "seed": seed, "fast_wire": True, "go_faithful": go}
    if cell.startswith("partition-"):
        heal = float(cell.split("-", 1)[1])
        return ScenarioSpec(scenario="partition", heal_after=heal, duration=40.0, **common)
    if cell.startswith("restart-"):
        return ScenarioSpec(
            scenario="restart",
            restart_spread=20.0,
            duration=30.0,
            from_snapshot=cell == "restart-snapshot",
            **common,
        )
    assert cell == "cost"
    return ScenarioSpec(scenario="failure", duration=300.0, **common)


def measure(cell: str, nodes: int, seed: int, go: bool) -> dict[str, Any]:
    """One run; what the report needs from it."""
    result = run_scenario(_spec(cell, nodes, seed, go))
    summary = result.dissemination or {}
    return {
        "seed": seed,
        "all_s": summary.get("all"),
        "wrong_pairs": result.wrong_pairs,
        "packets_sent": result.packets_sent,
        "simulated_s": result.duration_s,
        "false_failures": result.false_failures,
    }


def _cells(partitions: list[float]) -> list[str]:
    return [
        *(f"partition-{h:g}" for h in partitions),
        "restart-fresh",
        "restart-snapshot",
        "cost",
    ]


def _key(cell: str, rules: str, nodes: int) -> str:
    return f"{cell}/{rules}/{nodes}"


def report(samples: dict[str, list[dict[str, Any]]], cells: list[str], nodes: int) -> str:
    lines = [
        f"| case ({nodes} nodes) | rules | seeds | converged after (s), median (min–max) "
        "| worst seed (s) | wrong pairs at the end |",
        "|---|---|---|---|---|---|",
    ]
    for cell in cells:
        if cell == "cost":
            continue
        for rules in RULES:
            rows = samples.get(_key(cell, rules, nodes), [])
            if not rows:
                continue
            times = [r["all_s"] for r in rows]
            never = sum(1 for t in times if t is None)
            spread = Spread.of(times)
            worst = "never" if never else f"{max(t for t in times if t is not None):.2f}"
            wrong = max(r["wrong_pairs"] or 0 for r in rows)
            note = f" ({never} never)" if never else ""
            lines.append(
                f"| {cell} | {rules} | {len(rows)} | {fmt_spread(spread)}{note} | {worst} "
                f"| {wrong} |"
            )
    ours = samples.get(_key("cost", "pyserf", nodes), [])
    go = {r["seed"]: r for r in samples.get(_key("cost", "go", nodes), [])}
    extra = [
        (r["packets_sent"] - go[r["seed"]]["packets_sent"]) / (nodes * r["simulated_s"])
        for r in ours
        if r["seed"] in go
    ]
    if extra:
        lines.append("")
        lines.append(
            f"Cost with one member failed for good: {fmt_spread(Spread.of(extra))} extra "
            f"packets per node per second over Go's rules ({len(extra)} seeds, 300 s)."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--partitions", default="60,300", help="partition lengths in seconds")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--report-only", action="store_true")
    add_output_args(parser)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    run = start("self-healing")
    store = CellStore(run, args.results_dir)
    samples = store.load() if args.resume or args.report_only else {}
    cells = _cells([float(x) for x in args.partitions.split(",") if x])
    if not args.report_only:
        for cell in cells:
            for rules in RULES:
                key = _key(cell, rules, args.nodes)
                done = {r["seed"] for r in samples.get(key, [])}
                for seed in range(1, args.seeds + 1):
                    if seed in done:
                        continue
                    sample = measure(cell, args.nodes, seed, rules == "go")
                    store.add(key, sample)
                    print(key, sample, flush=True)
    samples = store.samples
    table = report(samples, cells, args.nodes)
    raw = save_results(
        run,
        samples,
        parameters={"nodes": args.nodes, "seeds": args.seeds, "partitions": args.partitions},
        results_dir=args.results_dir,
    )
    block = f"{table}\n\n{provenance_block(run, raw)}"
    if args.no_doc:
        print(block)
    else:
        replace_blocks(DOC, {"self-healing": block})
        print(f"updated {DOC}")


if __name__ == "__main__":
    main()
