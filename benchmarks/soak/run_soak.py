"""The long versions of the fault scenarios (root and ``ip netns`` needed; run on demand).

    sudo .venv/bin/python -m benchmarks.soak.run_soak                    # every scenario, every mix
    sudo .venv/bin/python -m benchmarks.soak.run_soak --mix mixed --only loss --loss-seconds 600

Same scenarios as ``tests/faults`` (``tests/faults/scenarios.py``) with the durations of the
reliability issue: 10% loss on every link for 5 minutes with 8 agents (and a second, harsher
loss level), a 3 s pause, a 4/4 partition held for 60 s, kill -9 of 3 agents, and a storm of
1,000 events and 100 concurrent queries. Each runs on Go-only, Python-only and mixed clusters.
Results are printed, saved with their provenance to ``benchmarks/results/soak-<date>-<commit>.json``
and written into docs/reliability.md between the ``soak-results`` markers (``--no-doc``: not).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from benchmarks.provenance import (
    Run,
    add_output_args,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)
from tests.faults.cluster import GO, PY, AgentKind, Cluster, running_cluster
from tests.faults.netlab import sweep_stale
from tests.faults.scenarios import (
    run_kill_restart,
    run_loss,
    run_partition,
    run_pause,
    run_storm,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "reliability.md"
MIXES: dict[str, tuple[AgentKind, ...]] = {"go": (GO,), "py": (PY,), "mixed": (GO, PY)}


@dataclass
class Row:
    scenario: str
    mix: str
    passed: bool
    numbers: str
    seconds: float


def _kinds(mix: str, size: int) -> list[AgentKind]:
    cycle = MIXES[mix]
    return [cycle[i % len(cycle)] for i in range(size)]


def loss(cluster: Cluster, level: float, seconds: float) -> tuple[bool, str]:
    r = run_loss(cluster, loss=level, seconds=seconds)
    ok = not r.failed_reports and not r.not_alive_observations and not r.unanswered_polls
    text = (
        f"{level:.0%} loss for {seconds:.0f} s: {r.dropped_packets} packets dropped, "
        f"{r.polls} views polled ({len(r.unanswered_polls)} unanswered), "
        f"{len(r.not_alive_observations)} non-alive observations, "
        f"failed reports {r.failed_reports or 'none'}"
    )
    return ok, text


def pause(cluster: Cluster) -> tuple[bool, str]:
    r = run_pause(cluster, cluster.agents[3], seconds=3.0)
    ok = bool(r.suspected_by) and r.refuted and len(r.failed_by) < len(cluster.agents) // 2
    text = (
        f"3 s pause ({r.rounds} round(s)): suspected by {len(r.suspected_by)}, "
        f"refuted {r.refuted}, failed by {len(r.failed_by)}, recovered in "
        f"{r.recovery_seconds:.1f} s"
    )
    return ok, text


def partition(cluster: Cluster, hold: float) -> tuple[bool, str]:
    r = run_partition(cluster, hold=hold, heal_timeout=30)
    ok = not r.missing_events and r.heal_seconds <= 30
    text = (
        f"4/4 split held {hold:.0f} s: detected in {r.detect_seconds:.1f} s, healed in "
        f"{r.heal_seconds:.1f} s, missing events {r.missing_events or 'none'}"
    )
    return ok, text


def kill(cluster: Cluster) -> tuple[bool, str]:
    r = run_kill_restart(cluster, cluster.agents[-3:])
    replays = {n: r.old_events_after[n] - r.old_events_before[n] for n in r.victims}
    clocks_ok = all(
        r.clocks_after[n][k] >= v for n in r.victims for k, v in r.clocks_before[n].items()
    )
    ok = clocks_ok and not any(replays.values())
    text = (
        f"3 agents SIGKILLed and restarted: rejoined in {r.rejoin_seconds:.1f} s, clocks "
        f"{'intact' if clocks_ok else 'WENT BACK'}, replayed events {sum(replays.values())}"
    )
    return ok, text


def storm(cluster: Cluster) -> tuple[bool, str]:
    r = run_storm(cluster, events=1000, queries=100)
    growth = max(r.rss_after_kib[n] - r.rss_before_kib[n] for n in r.rss_before_kib) // 1024
    ok = (
        r.fire.get("events_ok") == 1000
        and r.fire.get("done") == 100
        and all(r.marker_seen.values())
        and growth < 128
    )
    delivered = sorted(r.delivered.values())
    refused = sum(r.old_event_warnings.values())
    text = (
        f"1,000 events + 100 queries: events delivered per node {delivered[0]}-{delivered[-1]} "
        f"({refused} refused as older than the event buffer), "
        f"{r.fire.get('acks')} acks, {r.fire.get('responses')} responses, max RSS growth "
        f"{growth} MiB, gossip flowing after: {all(r.marker_seen.values())}"
    )
    return ok, text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mix", choices=[*MIXES, "all"], default="all")
    parser.add_argument(
        "--only", choices=["loss", "pause", "partition", "kill", "storm"], action="append"
    )
    parser.add_argument("--loss-seconds", type=float, default=300.0)
    parser.add_argument("--loss-levels", type=float, nargs="+", default=[0.10, 0.20])
    parser.add_argument("--partition-seconds", type=float, default=60.0)
    add_output_args(parser)
    args = parser.parse_args(argv)
    run_info = start("soak")
    sweep_stale()
    mixes = list(MIXES) if args.mix == "all" else [args.mix]
    plan: list[tuple[str, int, Callable[[Cluster], tuple[bool, str]]]] = []
    for level in args.loss_levels:
        plan.append((f"loss {level:.0%}", 8, partial(loss, level=level, seconds=args.loss_seconds)))
    plan += [
        ("pause", 8, pause),
        ("partition", 8, partial(partition, hold=args.partition_seconds)),
        ("kill", 6, kill),
        ("storm", 5, storm),
    ]
    if args.only:
        plan = [p for p in plan if p[0].split()[0] in args.only]
    rows: list[Row] = []
    for name, size, scenario in plan:
        for mix in mixes:
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="pyserf-soak-") as tmp:
                try:
                    filt = "member-failed" if name == "storm" else ""
                    with running_cluster(_kinds(mix, size), Path(tmp), handler_filter=filt) as c:
                        ok, text = scenario(c)
                except AssertionError as exc:
                    ok, text = False, f"assertion: {str(exc).splitlines()[0][:300]}"
            row = Row(name, mix, ok, text, time.monotonic() - started)
            print(f"{row}", file=sys.stderr, flush=True)
            rows.append(row)
    run_info.finish()
    params = {k: v for k, v in vars(args).items() if k != "results_dir"}
    raw = save_results(run_info, rows, parameters=params, results_dir=args.results_dir)
    block = render(rows, run_info, raw)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {"soak-results": block})
    return 0 if all(r.passed for r in rows) else 1


def render(rows: list[Row], run_info: Run, raw: Path | None) -> str:
    lines = ["| scenario | cluster | result | numbers | s |", "|---|---|---|---|---:|"]
    for r in rows:
        verdict = "pass" if r.passed else "**FAIL**"
        lines.append(f"| {r.scenario} | {r.mix} | {verdict} | {r.numbers} | {r.seconds:.0f} |")
    failed = [f"{r.scenario} ({r.mix})" for r in rows if not r.passed]
    lines += [
        "",
        f"{len(rows) - len(failed)} of {len(rows)} runs passed"
        + (f"; failed: {', '.join(failed)}." if failed else "."),
        "",
        provenance_block(run_info, raw),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
