"""Side-by-side cluster benchmark: Go Serf and pyserf agents on loopback.

Starts N agents of one implementation (or a half/half mix) on 127.0.0.1, drives them through the
standard RPC (the PyPI `serfclient`) and the implementation's own CLI, and measures:

- join convergence: seconds from launch until every agent lists N alive members;
- idle CPU % and RSS (MiB) per agent over a fixed window;
- packets and bytes per second per agent (iptables counters on each agent's gossip port);
- failure detection after SIGKILL: seconds until each peer reports the node failed;
- leave propagation: seconds until every peer reports a leaving node as left;
- user-event dissemination: seconds until 50/95/100% of nodes ran their handler;
- event throughput: K events back to back, how many arrive at every node and how long it takes;
- `serf members` CLI latency (median of repeated runs).

Every cell (implementation, N) is measured on ``--repeats`` independent clusters (default 5),
interleaved: for each N, repeat 1 of every implementation, then repeat 2, and so on, so a change
of machine load falls on all implementations alike. Idle CPU is read from
``/proc/PID/task/*/schedstat`` (nanoseconds on CPU).

Usage (from the repo root):

    .venv/bin/python -m benchmarks.cluster.run --sizes 5,20,50 --impls go,py,mixed
    .venv/bin/python -m benchmarks.cluster.run --resume        # continue an interrupted sweep
    .venv/bin/python -m benchmarks.cluster.run --resume --report-only   # render what is there
    .venv/bin/python -m benchmarks.cluster.run --compare benchmarks/results/cluster-OLD.json

Each cluster's figures are appended as soon as they are measured to
``benchmarks/results/cluster-<shortcommit>.cells.jsonl``; ``--resume`` skips the clusters that
file already holds for the same commit, so a long sweep can be stopped and continued later.
At the end the raw samples go to ``benchmarks/results/cluster-<date>-<shortcommit>.json``, the
table (median and min–max of the clusters; Go/pyserf ratios of the medians with the range from
the extremes) between the ``cluster`` markers of ``docs/benchmarks.md`` and the plot to
``docs/img/cluster.png``. Every process is stopped by PID at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.provenance import (
    ROOT,
    CellStore,
    Run,
    Spread,
    add_output_args,
    compare,
    fmt_spread,
    provenance_block,
    ratio,
    replace_blocks,
    save_results,
    start,
)

GO_SERF = "/usr/bin/serf"
PY_SERF = str(ROOT / ".venv" / "bin" / "serf")


@dataclass
class Agent:
    """One running agent process and where to reach it."""

    name: str
    binary: str
    bind_port: int
    rpc_port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def rpc_addr(self) -> str:
        return f"127.0.0.1:{self.rpc_port}"

    @property
    def events_file(self) -> Path:
        return self.workdir / f"{self.name}.events"


@dataclass
class Result:
    """Every figure measured for one (implementation, N) cluster."""

    impl: str
    nodes: int
    join_s: float | None = None
    idle_cpu_pct: float | None = None
    rss_mib: float | None = None
    pkts_per_s: float | None = None
    bytes_per_s: float | None = None
    detect_s: dict[str, float | None] = field(default_factory=dict)
    leave_s: float | None = None
    event_s: dict[str, float | None] = field(default_factory=dict)
    throughput: dict[str, float | int | None] = field(default_factory=dict)
    members_ms: float | None = None
    error: str | None = None


FIELDS = set(Result.__dataclass_fields__)


def free_ports(count: int, start: int = 24000) -> list[int]:
    """Return ``count`` ports (UDP+TCP free) on 127.0.0.1 at or above ``start``."""
    import socket

    ports: list[int] = []
    port = start
    while len(ports) < count:
        ok = True
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
        if ok:
            ports.append(port)
        port += 1
    return ports


def write_handler(workdir: Path) -> Path:
    """An event handler that appends ``<unix time> <event name>`` to the node's events file."""
    script = workdir / "handler.sh"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$(date +%s.%N) $SERF_USER_EVENT" >> "$EVENTS_DIR/$SERF_SELF_NAME.events"\n'
    )
    script.chmod(0o755)
    return script


def rpc(agent: Agent) -> Any:
    """A connected ``serfclient.SerfClient`` for ``agent``."""
    from serfclient.client import SerfClient

    return SerfClient(host="127.0.0.1", port=agent.rpc_port, timeout=5)


def member_statuses(agent: Agent) -> dict[str, str]:
    """Map of member name to status as ``agent`` reports it over RPC."""
    client = rpc(agent)
    try:
        body = client.members().body
    finally:
        client.close()
    members = body.get(b"Members") or body.get("Members") or []
    out: dict[str, str] = {}
    for m in members:
        name = m.get(b"Name", m.get("Name"))
        status = m.get(b"Status", m.get("Status"))
        name = name.decode() if isinstance(name, bytes) else str(name)
        status = status.decode() if isinstance(status, bytes) else str(status)
        out[name] = status
    return out


def poll(deadline_s: float, check: Callable[[], bool], every: float = 0.05) -> float | None:
    """Call ``check`` until it is true; return the elapsed seconds, or None after ``deadline_s``."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - start
        time.sleep(every)
    return None


def start_agent(agent: Agent, handler: Path, join: str | None) -> None:
    """Launch ``agent`` (fast local profile, user-event handler, optional join)."""
    args = [
        agent.binary,
        "agent",
        f"-node={agent.name}",
        f"-bind=127.0.0.1:{agent.bind_port}",
        f"-rpc-addr={agent.rpc_addr}",
        f"-event-handler=user={handler}",
        "-log-level=warn",
    ]
    if join:
        args.append(f"-join={join}")
    env = dict(os.environ, EVENTS_DIR=str(agent.workdir))
    log = open(agent.workdir / f"{agent.name}.log", "wb")  # noqa: SIM115 - closed with the process
    agent.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)


def stop_all(agents: list[Agent]) -> None:
    """SIGKILL every agent process by PID and reap it."""
    for a in agents:
        if a.proc and a.proc.poll() is None:
            a.proc.send_signal(signal.SIGKILL)
    for a in agents:
        if a.proc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                a.proc.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """Seconds on CPU of every thread of ``pid``: the first field of each
    ``/proc/PID/task/TID/schedstat``, in nanoseconds (not the 10 ms ticks of ``/proc/PID/stat``).
    A thread that exits between two readings takes its time with it; the agents' threads live
    as long as the agent."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def port_counters(ports: list[int]) -> Iterator[Callable[[], tuple[int, int]]]:
    """Count UDP+TCP packets and bytes sent from ``ports`` (iptables; root only)."""
    if os.geteuid() != 0 or not shutil.which("iptables"):
        yield lambda: (0, 0)
        return
    chain = f"PYSERF_BENCH_{os.getpid()}"
    subprocess.run(["iptables", "-N", chain], check=True)
    subprocess.run(["iptables", "-I", "OUTPUT", "-j", chain], check=True)
    for p in ports:
        for proto in ("udp", "tcp"):
            subprocess.run(
                ["iptables", "-A", chain, "-p", proto, "--sport", str(p), "-j", "RETURN"],
                check=True,
            )

    def read() -> tuple[int, int]:
        out = subprocess.run(
            ["iptables", "-L", chain, "-v", "-x", "-n"], capture_output=True, text=True, check=True
        ).stdout
        pkts = byts = 0
        for line in out.splitlines()[2:]:
            parts = line.split()
            if len(parts) > 2 and parts[0].isdigit():
                pkts += int(parts[0])
                byts += int(parts[1])
        return pkts, byts

    try:
        yield read
    finally:
        subprocess.run(["iptables", "-D", "OUTPUT", "-j", chain], check=False)
        subprocess.run(["iptables", "-F", chain], check=False)
        subprocess.run(["iptables", "-X", chain], check=False)


def event_arrivals(agents: list[Agent], name: str) -> list[float]:
    """Unix times at which each agent's handler saw user event ``name`` (first sighting)."""
    times: list[float] = []
    for a in agents:
        if not a.events_file.exists():
            continue
        for line in a.events_file.read_text().splitlines():
            ts, _, ev = line.partition(" ")
            if ev == name:
                times.append(float(ts))
                break
    return sorted(times)


def quantile_times(arrivals: list[float], sent: float, n: int) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for label, share in (("p50", 0.5), ("p95", 0.95), ("all", 1.0)):
        need = max(1, -(-int(share * n * 100) // 100))
        out[label] = arrivals[need - 1] - sent if len(arrivals) >= need else None
    return out


def bench_cluster(impl: str, n: int, idle_window: float, base: Path) -> Result:
    """Run every measurement on one fresh cluster of ``n`` agents of ``impl``."""
    res = Result(impl=impl, nodes=n)
    workdir = Path(tempfile.mkdtemp(prefix=f"{impl}{n}-", dir=base))
    handler = write_handler(workdir)
    ports = free_ports(2 * n)
    binaries = {
        "go": [GO_SERF] * n,
        "py": [PY_SERF] * n,
        "mixed": [GO_SERF if i % 2 == 0 else PY_SERF for i in range(n)],
    }[impl]
    agents = [
        Agent(f"{impl}-{i}", binaries[i], ports[2 * i], ports[2 * i + 1], workdir) for i in range(n)
    ]
    try:
        start_agent(agents[0], handler, None)
        if poll(10, lambda: bool(member_statuses(agents[0]))) is None:
            res.error = "seed agent did not answer RPC"
            return res
        for a in agents[1:]:
            start_agent(a, handler, f"127.0.0.1:{agents[0].bind_port}")

        def converged() -> bool:
            return all(list(member_statuses(a).values()).count("alive") == n for a in agents)

        res.join_s = poll(120, converged, every=0.2)  # from the joiners' launch
        # Idle: CPU, RSS, traffic.
        pids = [a.proc.pid for a in agents if a.proc]
        with port_counters([a.bind_port for a in agents]) as counters:
            c0 = [cpu_seconds(p) for p in pids]
            k0 = counters()
            time.sleep(idle_window)
            c1 = [cpu_seconds(p) for p in pids]
            k1 = counters()
        res.idle_cpu_pct = (
            100 * statistics.mean(b - a for a, b in zip(c0, c1, strict=True)) / (idle_window)
        )
        res.rss_mib = statistics.mean(rss_mib(p) for p in pids)
        res.pkts_per_s = (k1[0] - k0[0]) / idle_window / n
        res.bytes_per_s = (k1[1] - k0[1]) / idle_window / n
        # CLI latency.
        lat: list[float] = []
        for _ in range(10):
            s = time.monotonic()
            subprocess.run(
                [agents[0].binary, "members", f"-rpc-addr={agents[0].rpc_addr}"],
                capture_output=True,
                check=False,
            )
            lat.append(time.monotonic() - s)
        res.members_ms = 1000 * statistics.median(lat)
        # User-event dissemination.
        client = rpc(agents[-1])
        sent = time.time()
        client.event("bench-one", b"x", False)
        client.close()
        poll(30, lambda: len(event_arrivals(agents, "bench-one")) >= n, every=0.1)
        res.event_s = quantile_times(event_arrivals(agents, "bench-one"), sent, n)
        # Event throughput.
        k = 200
        client = rpc(agents[0])
        s = time.time()
        for i in range(k):
            client.event(f"burst-{i}", b"", False)
        client.close()

        def burst_counts() -> list[int]:
            counts = []
            for a in agents:
                text = a.events_file.read_text() if a.events_file.exists() else ""
                counts.append(text.count(" burst-"))
            return counts

        poll(30, lambda: min(burst_counts()) >= k, every=0.2)
        counts = burst_counts()
        res.throughput = {
            "sent": k,
            "min_received": min(counts),
            "mean_received": statistics.mean(counts),
            "seconds": time.time() - s,
        }
        # Leave propagation (node 1), then failure detection (node 2 killed).
        leaver, victim = agents[1], agents[2] if n > 2 else agents[1]
        peers = [a for a in agents if a not in (leaver, victim)]
        # Timed from the leave command, not from its return: `serf leave` blocks until the
        # leave has been broadcast and propagated.
        leave_cmd = subprocess.Popen(
            [leaver.binary, "leave", f"-rpc-addr={leaver.rpc_addr}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            res.leave_s = poll(
                60,
                lambda: all(member_statuses(a).get(leaver.name) == "left" for a in peers),
                every=0.1,
            )
        finally:
            try:
                leave_cmd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                leave_cmd.kill()
                leave_cmd.wait()
        if victim is not leaver and victim.proc:
            victim.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            seen: dict[str, float] = {}

            def all_failed() -> bool:
                for a in peers:
                    if a.name not in seen and member_statuses(a).get(victim.name) == "failed":
                        seen[a.name] = time.monotonic() - killed
                return len(seen) == len(peers)

            poll(90, all_failed, every=0.1)
            times = sorted(seen.values())
            res.detect_s = {
                "min": times[0] if times else None,
                "median": statistics.median(times) if times else None,
                "max": times[-1] if len(times) == len(peers) else None,
            }
    except Exception as exc:  # a benchmark records what broke and moves on
        res.error = f"{type(exc).__name__}: {exc}"
    finally:
        stop_all(agents)
    return res


def fmt(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


#: Each reported figure, read from one cluster's Result (None: not reached in time).
METRICS: dict[str, Callable[[Result], float | None]] = {
    "join": lambda r: r.join_s,
    "idle_cpu": lambda r: r.idle_cpu_pct,
    "rss": lambda r: r.rss_mib,
    "pkts": lambda r: r.pkts_per_s,
    "bytes": lambda r: r.bytes_per_s,
    "detect": lambda r: _num(r.detect_s.get("median")),
    "leave": lambda r: r.leave_s,
    "event_p50": lambda r: _num(r.event_s.get("p50")),
    "event_all": lambda r: _num(r.event_s.get("all")),
    "burst_min": lambda r: _num(r.throughput.get("min_received")),
    "members": lambda r: r.members_ms,
}
#: Targets on the ratio pyserf / Go (at most).
TARGETS = {"detect": 1.0, "event_all": 1.0, "idle_cpu": 1.5, "rss": 2.0, "members": 2.0}
LABELS = {
    "detect": "failure detection (median peer)",
    "event_all": "event to 100 %",
    "idle_cpu": "idle CPU",
    "rss": "RSS",
    "members": "`serf members` latency",
}


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) else None


Cells = dict[tuple[str, int], list[Result]]


def _unreached(rows: list[Result], metric: str) -> str:
    """`` +k —`` when ``k`` error-free clusters have no value for ``metric``."""
    k = sum(1 for r in rows if r.error is None and METRICS[metric](r) is None)
    return f" +{k} —" if k else ""


def spreads(rows: list[Result]) -> dict[str, Spread | None]:
    """Median and min–max of every metric over the clusters of one cell (errors left out)."""
    ok = [r for r in rows if r.error is None]
    return {name: Spread.of(get(r) for r in ok) for name, get in METRICS.items()}


def render(
    cells: Cells,
    idle_window: float,
    run_info: Run,
    raw: Path | None,
    measured: list[str],
    repeats: int,
    previous: tuple[str, Cells] | None = None,
) -> str:
    """The generated block of the Cluster section of docs/benchmarks.md."""
    lines = [
        "| impl | N | clusters | join s | idle CPU % | RSS MiB | pkts/s | bytes/s "
        "| detect s | leave s | event p50 s | event all s | burst min recv of 200 "
        "| `members` ms |",
        "|---|---:|---:|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    stats = {key: spreads(rows) for key, rows in cells.items()}
    for (impl, n), rows in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        s = stats[(impl, n)]
        errors = sum(1 for r in rows if r.error is not None)
        count = f"{len(rows) - errors}" + (f" ({errors} failed)" if errors else "")
        lines.append(
            f"| {impl} | {n} | {count} | "
            + " | ".join(
                fmt_spread(s[k]) + _unreached(rows, k)
                for k in (
                    "join",
                    "idle_cpu",
                    "rss",
                    "pkts",
                    "bytes",
                    "detect",
                    "leave",
                    "event_p50",
                    "event_all",
                    "burst_min",
                    "members",
                )
            )
            + " |"
        )
    lines += [
        "",
        "Each cell: median (min–max) over independent clusters; “+k —” counts clusters in "
        "which the figure was not reached in time (left out of the median); idle window "
        f"{idle_window:.0f} s per cluster"
        + (f"; clusters measured {min(measured)} to {max(measured)}." if measured else "."),
    ]
    short = [f"{i} N = {n} ({len(rows)})" for (i, n), rows in cells.items() if len(rows) < repeats]
    if short:
        lines.append(f"Cells with fewer than {repeats} clusters: {', '.join(short)}.")
    failures = [(k, r.error) for k, rows in cells.items() for r in rows if r.error]
    for (impl, n), error in failures:
        lines.append(f"Failed cluster: {impl} N = {n}: {error}.")
    ratios: dict[int, dict[str, Spread | None]] = {}
    for n in sorted({n for _, n in cells}):
        if ("go", n) in stats and ("py", n) in stats:
            go, py = stats[("go", n)], stats[("py", n)]
            ratios[n] = {k: ratio(py[k], go[k]) for k in TARGETS}
    if ratios:
        targets = ", ".join(f"{LABELS[k]} ≤ {v}" for k, v in TARGETS.items())
        lines += [
            "",
            f"Ratios pyserf / Go: ratio of the medians (range from the extremes). Targets: "
            f"{targets}.",
            "",
            "| N | " + " | ".join(LABELS[k] for k in TARGETS) + " |",
            "|---|" + "---|" * len(TARGETS),
        ]
        for n, row in ratios.items():
            lines.append(
                f"| {n} | " + " | ".join(fmt_spread(row[k], ".2f") for k in TARGETS) + " |"
            )
        lines += ["", *verdicts(ratios)]
    if previous is not None:
        lines += ["", *changes(previous, stats)]
    lines += ["", "![cluster](img/cluster.png)", "", provenance_block(run_info, raw)]
    return "\n".join(lines) + "\n"


#: Metrics where a higher value is better (all others: lower is better).
HIGHER_IS_BETTER = {"burst_min"}


def load_previous(path: Path) -> tuple[str, Cells]:
    """An earlier run's raw results file: its short commit and its clusters by cell."""
    saved = json.loads(path.read_text())
    cells: Cells = {}
    for cell, samples in saved["results"].items():
        impl, n = cell.split("/")
        cells[(impl, int(n))] = [
            Result(**{k: v for k, v in s.items() if k in FIELDS}) for s in samples
        ]
    return str(saved["provenance"]["commit"])[:7], cells


def changes(
    previous: tuple[str, Cells], stats: dict[tuple[str, int], dict[str, Spread | None]]
) -> list[str]:
    """Every metric of every cell that moved beyond the spread since ``previous``: improved
    or worse only when the two min–max ranges do not overlap."""
    commit, old_cells = previous
    moved = []
    for key in sorted(set(old_cells) & set(stats), key=lambda k: (k[1], k[0])):
        old = spreads(old_cells[key])
        for metric, new in stats[key].items():
            before = old[metric]
            if before is None or new is None:
                continue
            verdict = compare(before, new, lower_is_better=metric not in HIGHER_IS_BETTER)
            if verdict != "within spread":
                moved.append(
                    f"- {key[0]} N = {key[1]}, {metric}: {verdict}, {before.fmt()} → {new.fmt()}"
                )
    head = f"Changes since `{commit}` beyond the spread (min–max ranges that do not overlap)"
    if not moved:
        return [f"{head}: none."]
    return [f"{head}:", "", *moved]


def verdicts(ratios: dict[int, dict[str, Spread | None]]) -> list[str]:
    """Each target at each N: missed (with the number), met, or within the spread."""
    missed, unclear, met = [], [], []
    for n, row in ratios.items():
        for k, target in TARGETS.items():
            r = row[k]
            if r is None:
                continue
            text = f"{LABELS[k]} at N = {n}: {r.fmt('.2f')} (target ≤ {target})"
            if r.low > target:
                missed.append(text)
            elif r.high <= target:
                met.append(f"{LABELS[k]} at N = {n}")
            else:
                unclear.append(text)
    out = []
    if missed:
        out += ["Missed (the whole ratio range above the target):", ""]
        out += [f"- {t}" for t in missed] + [""]
    if unclear:
        out += ["Not decided (the target lies within the ratio range):", ""]
        out += [f"- {t}" for t in unclear] + [""]
    if met:
        out += ["Met (the whole ratio range at or below the target): " + "; ".join(met) + "."]
    return out


def plot(cells: Cells, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = {
        "join": "join convergence (s)",
        "detect": "failure detection, median peer (s)",
        "event_all": "event to 100% (s)",
        "idle_cpu": "idle CPU %",
        "rss": "RSS MiB",
        "members": "serf members (ms)",
    }
    stats = {key: spreads(rows) for key, rows in cells.items()}
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (metric, title) in zip(axes.flat, titles.items(), strict=True):
        for impl in ("go", "py", "mixed"):
            pts = sorted((n, s[metric]) for (i, n), s in stats.items() if i == impl and s[metric])
            if not pts:
                continue
            xs = [n for n, _ in pts]
            med = [sp.median for _, sp in pts if sp]
            low = [sp.median - sp.low for _, sp in pts if sp]
            high = [sp.high - sp.median for _, sp in pts if sp]
            ax.errorbar(xs, med, yerr=[low, high], marker="o", capsize=3, label=impl)
        ax.set_title(title)
        ax.set_xlabel("nodes")
        ax.legend()
    fig.suptitle("median and min–max over independent clusters")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="5,20,50")
    ap.add_argument("--impls", default="go,py,mixed")
    ap.add_argument("--repeats", type=int, default=5, help="independent clusters per cell")
    ap.add_argument("--idle-window", type=float, default=10.0)
    ap.add_argument(
        "--resume", action="store_true", help="keep the clusters already measured at this commit"
    )
    ap.add_argument(
        "--fresh", action="store_true", help="discard the clusters already measured at this commit"
    )
    ap.add_argument(
        "--compare",
        type=Path,
        help="an earlier benchmarks/results/cluster-*.json: report what moved beyond the spread",
    )
    ap.add_argument(
        "--report-only", action="store_true", help="measure nothing; report what is stored"
    )
    add_output_args(ap)
    args = ap.parse_args(argv)
    run_info = start("cluster")
    store = CellStore(run_info, args.results_dir)
    stored = store.load()
    if stored and not (args.resume or args.fresh or args.report_only):
        raise SystemExit(
            f"{store.path} already holds clusters measured at this commit: "
            "pass --resume to keep them or --fresh to start over"
        )
    if args.fresh and store.path.exists():
        store.path.rename(store.path.with_suffix(".discarded"))
        store.load()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    impls = [x for x in args.impls.split(",") if x]
    if not args.report_only:
        with tempfile.TemporaryDirectory(prefix="serf-bench-") as tmp:
            for n in sizes:
                for rep in range(args.repeats):
                    for impl in impls:
                        cell = f"{impl}/{n}"
                        if len(store.samples.get(cell, [])) > rep:
                            continue
                        print(f"== {impl} N={n} cluster {rep + 1}", file=sys.stderr, flush=True)
                        r = bench_cluster(impl, n, args.idle_window, Path(tmp))
                        print(json.dumps(r.__dict__), file=sys.stderr, flush=True)
                        store.add(cell, r.__dict__)
    cells: Cells = {}
    for cell, samples in store.samples.items():
        cell_impl, cell_n = cell.split("/")
        if cell_impl in impls and int(cell_n) in sizes:
            kept = [{k: v for k, v in s.items() if k in FIELDS} for s in samples[: args.repeats]]
            cells[(cell_impl, int(cell_n))] = [Result(**s) for s in kept]
    if not cells:
        raise SystemExit(f"no clusters of this commit in {store.path}: nothing to report")
    run_info.finish()
    params = {
        "sizes": sizes,
        "impls": impls,
        "repeats": args.repeats,
        "idle_window": args.idle_window,
        "cells_file": str(store.path.name),
    }
    raw_rows = {f"{i}/{n}": store.samples[f"{i}/{n}"][: args.repeats] for i, n in cells}
    raw = save_results(run_info, raw_rows, parameters=params, results_dir=args.results_dir)
    measured = [s["measured_at"] for rows in raw_rows.values() for s in rows]
    previous = load_previous(args.compare) if args.compare else None
    section = render(cells, args.idle_window, run_info, raw, measured, args.repeats, previous)
    print(section)
    if args.no_doc:
        return 0
    plot(cells, ROOT / "docs" / "img" / "cluster.png")
    replace_blocks(ROOT / "docs" / "benchmarks.md", {"cluster": section})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
