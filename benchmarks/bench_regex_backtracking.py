"""Hostile query tag filters: does a target node stay responsive while they arrive?

A query's tag filter is a regular expression every receiving node evaluates against its own
tag. With a backtracking engine, ``(a+)+$`` against a tag of many ``a`` followed by ``b``
takes time exponential in the run length, on the node's event loop; with Go's (and now our)
RE2 semantics it is linear. Any member can send such a query.

For each target implementation this script starts, on 127.0.0.1, a Go agent that sends the
queries and the target agent tagged ``run=a…ab``, joined. It then probes the target's RPC
``members`` latency over one persistent connection (the PyPI ``serfclient``) every
``--probe-interval`` seconds: first ``--quiet`` seconds with no queries, then ``--seconds``
while the sender issues one query with ``-tag run=(a+)+$`` every ``--query-interval`` (Go's
CLI, each query open 1 s). Each (target, run length) cell is measured ``--repeats`` times with
fresh agents, interleaved (repeat 1 of every cell, then repeat 2, ...). Every process is
stopped by PID at the end of its cell, whatever happens.

Targets: ``py`` (this checkout's agent), ``go`` (/usr/bin/serf), ``old`` (the agent of
another checkout, given by ``--old-python``: that checkout's venv interpreter).

Run on demand from the repository root, with the old agent prepared from an earlier commit::

    mkdir /tmp/old && git archive 2e30c1d | tar -x -C /tmp/old
    (cd /tmp/old && UV_PROJECT_ENVIRONMENT=/tmp/old/.venv uv sync --all-packages --locked)
    .venv/bin/python -m benchmarks.bench_regex_backtracking --targets py,go,old \\
        --old-python /tmp/old/.venv/bin/python --old-label "2e30c1d (Python re)" \\
        --runs 20,22,400

Every probe latency is kept: the raw results go to
``benchmarks/results/regex-backtracking-<date>-<commit>.json`` and the table (per cell, median
and min–max over the repeats of each latency statistic) between the ``regex-backtracking``
markers of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serfclient.client import SerfClient

from benchmarks.provenance import (
    GO_SERF,
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
from tests.loopback import free_port

DOC = ROOT / "docs" / "benchmarks.md"
BLOCK = "regex-backtracking"
HOSTILE = "(a+)+$"
TARGET_MS = 50.0
#: Longest run the old (backtracking) agent is measured with: ~0.4 s per query at 22.
OLD_MAX_RUN = 22
#: Table names, in table order within a run length.
NAMES = {
    "py": "pyserf (RE2)",
    "go": "Go Serf",
    "old": "pyserf before (Python re)",
}


@dataclass
class Agent:
    name: str
    argv: list[str]
    workdir: Path
    bind: int = field(default_factory=free_port)
    rpc: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] | None = None

    def start(self, *extra: str) -> None:
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                *self.argv,
                f"-node={self.name}",
                f"-bind=127.0.0.1:{self.bind}",
                f"-rpc-addr=127.0.0.1:{self.rpc}",
                "-profile=local",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env=self.env,
        )
        log.close()

    def cli(self, *args: str, wait: bool = True) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [GO_SERF, args[0], f"-rpc-addr=127.0.0.1:{self.rpc}", *args[1:]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if wait:
            proc.wait(timeout=30)
        return proc

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def alive_members(agent: Agent) -> set[str]:
    try:
        client = SerfClient(host="127.0.0.1", port=agent.rpc, timeout=2)
        members = client.members().body["Members"]
        client.close()
    except Exception:
        return set()
    return {m["Name"] for m in members if m["Status"] == "alive"}


def query_time(agent: Agent) -> int:
    """The target's query Lamport clock: it advances with every query the node witnessed."""
    client = SerfClient(host="127.0.0.1", port=agent.rpc, timeout=30)
    stats = client.stats().body
    client.close()
    return int(stats["serf"]["query_time"])


def wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Phase:
    samples_ms: list[float]

    def stats(self) -> dict[str, float]:
        """Probes, p50, p95, p99, max (ms) and the share of probes over ``TARGET_MS`` (%)."""
        s = sorted(self.samples_ms)
        q = statistics.quantiles(s, n=100, method="inclusive") if len(s) > 1 else s * 99
        over = sum(1 for x in s if x > TARGET_MS)
        return {
            "probes": len(s),
            "p50": statistics.median(s),
            "p95": q[94],
            "p99": q[98],
            "max": s[-1],
            "over": over,
            "over_pct": 100 * over / len(s),
        }


@dataclass
class Result:
    target: str
    run: int
    quiet: Phase
    attack: Phase
    queries: int
    seen: int
    cpu_percent: float


def probe(agent: Agent, seconds: float, interval: float) -> Phase:
    client = SerfClient(host="127.0.0.1", port=agent.rpc, timeout=30)
    samples: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        client.members()
        samples.append((time.perf_counter() - started) * 1000)
        time.sleep(interval)
    client.close()
    return Phase(samples)


def measure(target: str, run: int, args: argparse.Namespace, workdir: Path) -> Result:
    argv = {
        "go": [GO_SERF, "agent"],
        "py": [sys.executable, "-m", "serf_agent"],
        "old": [args.old_python or "", "-m", "serf_agent"],
    }[target]
    sender = Agent(f"sender-{target}-{run}", [GO_SERF, "agent"], workdir)
    victim = Agent(f"target-{target}-{run}", argv, workdir)
    if target == "old":
        victim.env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    queries: list[subprocess.Popen[bytes]] = []
    try:
        sender.start()
        wait_for(lambda: sender.name in alive_members(sender), "the sender")
        victim.start("-tag", "run=" + "a" * run + "b", f"-join=127.0.0.1:{sender.bind}")
        wait_for(
            lambda: {sender.name, victim.name} <= alive_members(victim),
            f"{victim.name} to join",
        )
        quiet = probe(victim, args.quiet, args.probe_interval)
        stop = threading.Event()

        def attack() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                queries.append(
                    sender.cli(
                        "query",
                        "-timeout=1s",
                        f"-tag=run={HOSTILE}",
                        f"hostile-{n}",
                        wait=False,
                    )
                )
                stop.wait(args.query_interval)

        clock0 = query_time(victim)
        cpu0 = victim.cpu_seconds()
        t0 = time.monotonic()
        thread = threading.Thread(target=attack, daemon=True)
        thread.start()
        attacked = probe(victim, args.seconds, args.probe_interval)
        stop.set()
        thread.join()
        cpu = (victim.cpu_seconds() - cpu0) / (time.monotonic() - t0) * 100
        for q in queries:
            q.wait(timeout=60)
        wait_for(lambda: query_time(victim) - clock0 >= len(queries), "the last queries", 300)
        seen = query_time(victim) - clock0
        return Result(target, run, quiet, attacked, len(queries), seen, cpu)
    finally:
        for q in queries:
            if q.poll() is None:
                q.kill()
            q.wait(timeout=30)
        victim.stop()
        sender.stop()


def to_row(result: Result, repeat: int) -> dict[str, Any]:
    """One measured cell as a JSON row (probe latencies in ms, to the microsecond)."""
    return {
        "target": result.target,
        "run": result.run,
        "repeat": repeat,
        "queries": result.queries,
        "seen": result.seen,
        "cpu_percent": round(result.cpu_percent, 2),
        "quiet_ms": [round(x, 3) for x in result.quiet.samples_ms],
        "attack_ms": [round(x, 3) for x in result.attack.samples_ms],
    }


def _cells(rows: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """The rows by (target, run length), ordered by run length, then as in ``NAMES``."""
    cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["target"], row["run"]), []).append(row)
    return dict(sorted(cells.items(), key=lambda item: (item[0][1], list(NAMES).index(item[0][0]))))


def _phase_cells(rows: list[dict[str, Any]], key: str) -> list[str]:
    stats = [Phase(r[key]).stats() for r in rows if r[key]]
    out = [fmt_spread(Spread.of(s["probes"] for s in stats), ".0f")]
    out += [fmt_spread(Spread.of(s[k] for s in stats), ".2f") for k in ("p50", "p95", "p99")]
    out.append(fmt_spread(Spread.of(s["max"] for s in stats), ".1f"))
    out.append(fmt_spread(Spread.of(s["over_pct"] for s in stats), ".0f"))
    return out


def table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        "| target | run of `a` | phase | repeats | probes | p50 ms | p95 ms | p99 ms | max ms "
        f"| % over {TARGET_MS:.0f} ms | queries sent / seen | target CPU % |"
    )
    out = [head, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (target, run), cell in _cells(rows).items():
        name = NAMES[target]
        n = len(cell)
        quiet = " | ".join(_phase_cells(cell, "quiet_ms"))
        out.append(f"| {name} | {run} | quiet | {n} | {quiet} | | |")
        attack = " | ".join(_phase_cells(cell, "attack_ms"))
        sent = sum(r["queries"] for r in cell)
        seen = sum(r["seen"] for r in cell)
        cpu = fmt_spread(Spread.of(r["cpu_percent"] for r in cell), ".0f")
        out.append(
            f"| {name} | {run} | hostile queries | {n} | {attack} | {sent} / {seen} | {cpu} |"
        )
    return out


def _worst(rows: list[dict[str, Any]]) -> tuple[int, int, float, int]:
    """Over the hostile phases of ``rows``: probes, probes over the target, slowest probe (ms)
    and the run length it was measured at."""
    probes = sum(len(r["attack_ms"]) for r in rows)
    over = sum(1 for r in rows for x in r["attack_ms"] if x > TARGET_MS)
    worst = max(rows, key=lambda r: max(r["attack_ms"], default=0.0))
    return probes, over, max(worst["attack_ms"], default=0.0), worst["run"]


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """The target sentence for pyserf, then the same figures for the other targets."""
    out = []
    ours = [r for r in rows if r["target"] == "py" and r["attack_ms"]]
    if ours:
        probes, over, worst, run = _worst(ours)
        state = "met" if over == 0 else f"missed: {over} of {probes} probes over {TARGET_MS:.0f} ms"
        out.append(
            f"Target: `members` latency ≤ {TARGET_MS:.0f} ms on pyserf throughout the hostile "
            f"queries: {state} (the slowest of {probes} probes took {worst:.1f} ms, at run {run})."
        )
    else:
        out.append("Target: not measured (pyserf was not among the targets).")
    for target in ("go", "old"):
        theirs = [r for r in rows if r["target"] == target and r["attack_ms"]]
        for run in sorted({r["run"] for r in theirs}):
            probes, over, worst, _ = _worst([r for r in theirs if r["run"] == run])
            out.append(
                f"{NAMES[target]}, run {run}: {over} of {probes} probes over "
                f"{TARGET_MS:.0f} ms, slowest {worst:.1f} ms."
            )
    return out


def render(
    rows: list[dict[str, Any]], params: dict[str, Any], run_info: Run, raw: Path | None
) -> str:
    """The generated block of the ``## Hostile query filters`` section."""
    lines = [
        f"Settings: filter `{HOSTILE}`, one query every {params['query_interval']:g} s; a "
        f"`members` probe every {params['probe_interval']:g} s, {params['quiet']:g} s quiet, "
        f"then {params['seconds']:g} s under queries. Each statistic is the median (min–max) "
        "over the repeats (fresh agents each); *probes* is per repeat, *queries sent / seen* "
        "the total over the repeats.",
    ]
    if params.get("old_python"):
        old_root = Path(params["old_python"]).parents[2]
        label = f": {params['old_label']}" if params.get("old_label") else ""
        lines.append(f"{NAMES['old']}: the agent of the checkout in `{old_root}`{label}.")
    lines += ["", *table(rows), ""]
    lines += [f"- {v}" for v in verdicts(rows)]
    lines += ["", provenance_block(run_info, raw)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--targets", default="py,go", help="comma list of py, go, old")
    ap.add_argument("--runs", default="22", help="comma list of run lengths of `a`")
    ap.add_argument("--repeats", type=int, default=5, help="fresh agent pairs per cell")
    ap.add_argument("--old-python", help="interpreter of the checkout measured as 'old'")
    ap.add_argument("--old-label", default="", help="what the old checkout is (commit)")
    ap.add_argument("--seconds", type=float, default=20.0, help="probing under queries")
    ap.add_argument("--quiet", type=float, default=5.0, help="probing before the queries")
    ap.add_argument("--query-interval", type=float, default=0.2)
    ap.add_argument("--probe-interval", type=float, default=0.02)
    add_output_args(ap)
    args = ap.parse_args(argv)
    targets = args.targets.split(",")
    if unknown := set(targets) - set(NAMES):
        ap.error(f"unknown targets: {', '.join(sorted(unknown))}")
    if "old" in targets and not args.old_python:
        ap.error("--targets old needs --old-python")
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")
    runs = [int(r) for r in args.runs.split(",")]
    params: dict[str, Any] = {
        "targets": targets,
        "runs": runs,
        "repeats": args.repeats,
        "seconds": args.seconds,
        "quiet": args.quiet,
        "query_interval": args.query_interval,
        "probe_interval": args.probe_interval,
        "filter": HOSTILE,
        "target_ms": TARGET_MS,
        "old_python": args.old_python,
        "old_label": args.old_label,
    }
    run_info = start(BLOCK)
    workdir = Path(tempfile.mkdtemp(prefix="bench-regex-"))
    rows: list[dict[str, Any]] = []
    try:
        for repeat in range(1, args.repeats + 1):
            for run in runs:
                for target in targets:
                    if target == "old" and run > OLD_MAX_RUN:
                        continue
                    rows.append(to_row(measure(target, run, args, workdir), repeat))
                    print(
                        f"repeat {repeat}, run {run}, {target}: done", file=sys.stderr, flush=True
                    )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    run_info.finish()
    raw = save_results(run_info, rows, parameters=params, results_dir=args.results_dir)
    block = render(rows, params, run_info, raw)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {BLOCK: block})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
