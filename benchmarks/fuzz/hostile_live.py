"""Send each hostile input to a fresh agent (Go's or ours) and record whether it survives.

    .venv/bin/python -m benchmarks.fuzz.hostile_live              # Go and ours, update the docs
    .venv/bin/python -m benchmarks.fuzz.hostile_live --agent go --no-doc
    .venv/bin/python -m benchmarks.fuzz.hostile_live --cluster --mutations 20000

``--cluster`` attacks a mixed cluster instead: a pyserf agent joined by a Go agent; every
hostile packet, then ``--mutations`` mutated real packets, go to the pyserf agent, and the run
records whether the Go agent survived what the pyserf agent gossiped on (it must: a node never
passes on input it refuses). Its result is saved and printed, not written into the docs.

For every input in ``corpus.hostile_inputs()`` a new agent is started on loopback (free ports),
the input is sent once to the gossip UDP port, the gossip TCP port or the RPC port, and after
two seconds the agent is checked: still running, RPC answering ``members``, resident memory. The
outcomes are saved with their provenance to ``benchmarks/results/hostile-live-<date>-<commit>.json``
and the table is written into docs/reliability.md between the ``hostile-live`` markers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fuzz.corpus import REPO_ROOT, Sample, hostile_inputs, load_seeds, mutate
from benchmarks.provenance import (
    Run,
    add_output_args,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)
from tests.loopback import free_port

DOC = REPO_ROOT / "docs" / "reliability.md"
AGENTS = {
    "go": ["/usr/bin/serf", "agent"],
    "py": [str(REPO_ROOT / ".venv" / "bin" / "serf"), "agent"],
}
GO_CLI = "/usr/bin/serf"


@dataclass
class Outcome:
    sample: str
    channel: str
    survived: bool
    detail: str


def _rpc_ok(rpc: str) -> bool:
    proc = subprocess.run(
        [GO_CLI, "members", f"-rpc-addr={rpc}"], capture_output=True, timeout=10, check=False
    )
    return proc.returncode == 0


def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _deliver(sample: Sample, gossip: int, rpc: int) -> None:
    if sample.channel == "packet":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(sample.data, ("127.0.0.1", gossip))
        return
    port = gossip if sample.channel == "stream" else rpc
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 5) as conn:
        conn.sendall(sample.data)
        time.sleep(2.0)  # hold the connection open while the agent reads the claim


def try_one(kind: str, sample: Sample, workdir: Path) -> Outcome:
    gossip, rpc_port = free_port(), free_port()
    rpc = f"127.0.0.1:{rpc_port}"
    log = workdir / f"{kind}-{sample.name}.log"
    argv = [*AGENTS[kind], "-node=victim", f"-bind=127.0.0.1:{gossip}", f"-rpc-addr={rpc}"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not _rpc_ok(rpc):
            if time.monotonic() > deadline or proc.poll() is not None:
                return Outcome(sample.name, sample.channel, False, "agent did not start")
            time.sleep(0.2)
        _deliver(sample, gossip, rpc_port)
        time.sleep(2.0)
        rss = _rss_mib(proc.pid)
        if proc.poll() is not None:
            text = log.read_text(errors="replace")
            panic = next(
                (ln for ln in text.splitlines() if ln.startswith(("panic", "fatal error"))), ""
            )
            return Outcome(sample.name, sample.channel, False, f"exit {proc.poll()}: {panic}")
        if not _rpc_ok(rpc):
            return Outcome(sample.name, sample.channel, False, "RPC stopped answering")
        return Outcome(sample.name, sample.channel, True, f"RSS {rss:.0f} MiB")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _members(rpc: str) -> dict[str, str]:
    proc = subprocess.run(
        [GO_CLI, "members", f"-rpc-addr={rpc}"], capture_output=True, timeout=10, check=False
    )
    return {f[0]: f[2] for f in (ln.split() for ln in proc.stdout.decode().splitlines()) if f}


def attack_cluster(mutations: int, seed: int, workdir: Path) -> dict[str, object]:
    """Join a Go agent to a pyserf agent, attack the pyserf agent, report on the Go agent."""
    ports = {k: free_port() for k in ("py", "py_rpc", "go", "go_rpc")}
    rpc = {k: f"127.0.0.1:{ports[k + '_rpc']}" for k in ("py", "go")}
    argv = {
        "py": [*AGENTS["py"], "-node=py", f"-bind=127.0.0.1:{ports['py']}"],
        "go": [*AGENTS["go"], "-node=go", f"-bind=127.0.0.1:{ports['go']}"],
    }
    argv["go"].append(f"-join=127.0.0.1:{ports['py']}")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for kind in ("py", "go"):
            with (workdir / f"cluster-{kind}.log").open("wb") as out:
                procs[kind] = subprocess.Popen(
                    [*argv[kind], "-profile=local", f"-rpc-addr={rpc[kind]}"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + 20
            while not _rpc_ok(rpc[kind]):
                if time.monotonic() > deadline or procs[kind].poll() is not None:
                    return {"survived": False, "detail": f"{kind} agent did not start"}
                time.sleep(0.2)
        rng = random.Random(seed)
        hostile = [s.data for s in hostile_inputs() if s.channel == "packet"]
        pool = [s.data for s in load_seeds() if s.channel == "packet"] + hostile
        sent = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            for data in hostile + [
                mutate(rng.choice(pool), rng, splice_from=pool) for _ in range(mutations)
            ]:
                udp.sendto(data, ("127.0.0.1", ports["py"]))
                sent += 1
                if sent % 100 == 0:
                    time.sleep(0.05)  # let gossip carry what the agent accepted
                if procs["go"].poll() is not None:
                    break
        time.sleep(5.0)
        go_alive = procs["go"].poll() is None
        detail = (
            "running"
            if go_alive
            else "died: "
            + next(
                (
                    ln
                    for ln in (workdir / "cluster-go.log").read_text(errors="replace").splitlines()
                    if ln.startswith(("panic", "fatal error"))
                ),
                f"exit {procs['go'].poll()}",
            )
        )
        return {
            "survived": go_alive and procs["py"].poll() is None,
            "sent": sent,
            "go_agent": detail,
            "py_agent": "running" if procs["py"].poll() is None else "died",
            "views": {"py": _members(rpc["py"]), "go": _members(rpc["go"])} if go_alive else {},
        }
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def render(results: dict[str, list[Outcome]], run_info: Run, raw: Path | None) -> str:
    kinds = list(results)
    header = "| input | channel | " + " | ".join(f"{k} agent" for k in kinds) + " |"
    lines = [header, "|---|---|" + "---|" * len(kinds)]
    first = results[kinds[0]]
    for i, outcome in enumerate(first):
        cells = []
        for kind in kinds:
            o = results[kind][i]
            cells.append(("survived, " if o.survived else "**died**: ") + o.detail)
        lines.append(f"| `{outcome.sample}` | {outcome.channel} | " + " | ".join(cells) + " |")
    died = {k: sum(1 for o in v if not o.survived) for k, v in results.items()}
    lines += [
        "",
        "Died: " + "; ".join(f"{k} agent {n} of {len(results[k])}" for k, n in died.items()) + ".",
        "",
        provenance_block(run_info, raw),
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", choices=["go", "py", "both"], default="both")
    parser.add_argument(
        "--limit", type=int, default=0, help="only the first N inputs (a smoke run; 0: all)"
    )
    parser.add_argument("--cluster", action="store_true", help="attack a Go+pyserf cluster")
    parser.add_argument("--mutations", type=int, default=2000, help="--cluster: mutated packets")
    parser.add_argument("--seed", type=int, default=1, help="--cluster: mutation seed")
    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.cluster:
        info = start("hostile-cluster")
        with tempfile.TemporaryDirectory(prefix="pyserf-hostile-") as tmp:
            attack = attack_cluster(args.mutations, args.seed, Path(tmp))
        info.finish()
        cluster_params = {"mutations": args.mutations, "seed": args.seed}
        raw_path = save_results(
            info, attack, parameters=cluster_params, results_dir=args.results_dir
        )
        print(json.dumps(attack, indent=1))
        print(provenance_block(info, raw_path))
        return 0 if attack["survived"] else 1
    kinds = ["go", "py"] if args.agent == "both" else [args.agent]
    results: dict[str, list[Outcome]] = {}
    inputs = hostile_inputs()
    if args.limit:
        inputs = inputs[: args.limit]
    run_info = start("hostile-live")
    with tempfile.TemporaryDirectory(prefix="pyserf-hostile-") as tmp:
        for kind in kinds:
            results[kind] = []
            for sample in inputs:
                outcome = try_one(kind, sample, Path(tmp))
                print(f"{kind} {sample.name}: {outcome}", file=sys.stderr, flush=True)
                results[kind].append(outcome)
    run_info.finish()
    params = {"agents": kinds, "inputs": len(inputs)}
    raw = save_results(run_info, results, parameters=params, results_dir=args.results_dir)
    block = render(results, run_info, raw)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {"hostile-live": block})
    return 0 if all(o.survived for o in results.get("py", [])) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
