"""Chaos sweep: many seeded fault schedules on simulated Serf clusters, every invariant checked.

Each cell is one ``serf simulate -scenario=chaos -seed=S -nodes=N -format=json`` process (so
wall time and peak RSS are per run). Every finished seed is appended at once to
``benchmarks/results/chaos-<shortcommit>.cells.jsonl`` (:class:`benchmarks.provenance.CellStore`),
so a sweep stopped half-way continues with ``--resume`` at the same commit; the summary (seeds
run, violations by invariant, the failing seeds with their first violation, false-failure
figures, wall time) goes to ``benchmarks/results/chaos-<date>-<commit>.json`` with provenance
and, unless ``--no-doc``, between the ``chaos-sweep`` markers of ``docs/reliability.md``.

    .venv/bin/python -m benchmarks.chaos.sweep                       # 1,000 × 50 and 100 × 500
    .venv/bin/python -m benchmarks.chaos.sweep --resume              # continue a stopped sweep
    .venv/bin/python -m benchmarks.chaos.sweep --plan 5x20 --no-doc  # a smoke run

A failing seed replays exactly: ``serf simulate -scenario=chaos -seed=S -nodes=N``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from benchmarks.provenance import (
    ROOT,
    CellStore,
    add_output_args,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)

SERF = str(ROOT / ".venv" / "bin" / "serf")
DOC = ROOT / "docs" / "reliability.md"
DEFAULT_PLAN = "1000x50,100x500"


def run_seed(seed: int, nodes: int, timeout: float) -> dict[str, Any]:
    """One chaos run in its own process; the JSON fields the sweep keeps."""
    argv = [SERF, "simulate", "-scenario=chaos", f"-seed={seed}", f"-nodes={nodes}", "-format=json"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"seed": seed, "nodes": nodes, "error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"seed": seed, "nodes": nodes, "error": proc.stderr.strip()[-2000:]}
    out = json.loads(proc.stdout)
    return {
        "seed": seed,
        "nodes": nodes,
        "violations": out["violations"],
        "false_failures": out["false_failures"],
        "majority_declared_then_refuted": out["majority_declared_then_refuted"],
        "actions": len(out["schedule"]),
        "wall_s": out["wall_s"],
        "peak_rss_mib": out["peak_rss_mib"],
    }


def parse_plan(text: str) -> list[tuple[int, int]]:
    """``1000x50,100x500`` → [(1000 seeds, 50 nodes), (100 seeds, 500 nodes)]."""
    plan = []
    for part in text.split(","):
        seeds, nodes = part.lower().split("x")
        plan.append((int(seeds), int(nodes)))
    return plan


def summarise(
    samples: dict[str, list[dict[str, Any]]], plan: list[tuple[int, int]]
) -> list[dict[str, Any]]:
    rows = []
    for seeds, nodes in plan:
        runs = samples.get(str(nodes), [])[:seeds]
        failing = [r for r in runs if r.get("violations") or r.get("error")]
        by_invariant: dict[str, int] = {}
        for r in runs:
            for v in r.get("violations", []):
                by_invariant[v["invariant"]] = by_invariant.get(v["invariant"], 0) + 1
        walls = sorted(r["wall_s"] for r in runs if "wall_s" in r)
        rows.append(
            {
                "nodes": nodes,
                "seeds_planned": seeds,
                "seeds_run": len(runs),
                "failing_seeds": [r["seed"] for r in failing],
                "first_failure": (failing[0].get("violations") or [failing[0].get("error")])[0]
                if failing
                else None,
                "violations_by_invariant": by_invariant,
                "false_failures_total": sum(r.get("false_failures", 0) for r in runs),
                "runs_with_refuted_majority_declarations": sum(
                    1 for r in runs if r.get("majority_declared_then_refuted")
                ),
                "wall_s_median": walls[len(walls) // 2] if walls else None,
                "wall_s_max": walls[-1] if walls else None,
                "peak_rss_mib_max": max((r.get("peak_rss_mib", 0) for r in runs), default=None),
            }
        )
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| nodes | seeds run | failing seeds | violations by invariant | false failures "
        "(declarations) | runs with a refuted majority declaration | wall s (median / max) |",
        "|---:|---:|---|---|---:|---:|---|",
    ]
    for r in rows:
        failing = ", ".join(map(str, r["failing_seeds"][:10])) or "none"
        lines.append(
            f"| {r['nodes']} | {r['seeds_run']} of {r['seeds_planned']} | {failing} | "
            f"{r['violations_by_invariant'] or 'none'} | {r['false_failures_total']} | "
            f"{r['runs_with_refuted_majority_declarations']} | "
            f"{r['wall_s_median']} / {r['wall_s_max']} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", default=DEFAULT_PLAN, help="SEEDSxNODES,... (default %(default)s)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=1800.0, help="per run, seconds")
    ap.add_argument("--resume", action="store_true", help="keep seeds already run at this commit")
    add_output_args(ap)
    args = ap.parse_args(argv)
    plan = parse_plan(args.plan)
    run_info = start("chaos")
    store = CellStore(run_info, args.results_dir)
    stored = store.load()
    if stored and not args.resume:
        raise SystemExit(f"{store.path} already holds seeds run at this commit: pass --resume")
    for seeds, nodes in plan:
        done = {r["seed"] for r in store.samples.get(str(nodes), [])}
        for seed in range(args.first_seed, args.first_seed + seeds):
            if seed in done:
                continue
            result = run_seed(seed, nodes, args.timeout)
            bad = result.get("violations") or result.get("error")
            print(
                f"N={nodes} seed={seed}: {'FAIL ' + json.dumps(bad)[:300] if bad else 'ok'}",
                file=sys.stderr,
                flush=True,
            )
            store.add(str(nodes), result)
    run_info.finish()
    rows = summarise(store.samples, plan)
    raw = save_results(
        run_info,
        rows,
        parameters={"plan": args.plan, "first_seed": args.first_seed},
        results_dir=args.results_dir,
    )
    block = render(rows) + "\n\n" + provenance_block(run_info, raw)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {"chaos-sweep": block})
    return 0 if all(not r["failing_seeds"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
