"""Send each hostile input to a fresh agent (Go's or ours) and record whether it survives.

    .venv/bin/python -m benchmarks.fuzz.hostile_live              # Go and ours, update the docs
    .venv/bin/python -m benchmarks.fuzz.hostile_live --agent go --no-doc

For every input in ``corpus.hostile_inputs()`` a new agent is started on loopback (free ports),
the input is sent once to the gossip UDP port, the gossip TCP port or the RPC port, and after
two seconds the agent is checked: still running, RPC answering ``members``, resident memory. The
outcomes are saved with their provenance to ``benchmarks/results/hostile-live-<date>-<commit>.json``
and the table is written into docs/reliability.md between the ``hostile-live`` markers.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fuzz.corpus import REPO_ROOT, Sample, hostile_inputs
from benchmarks.provenance import (
    Run,
    add_output_args,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)

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


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


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
    add_output_args(parser)
    args = parser.parse_args(argv)
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
