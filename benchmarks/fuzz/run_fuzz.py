"""Fuzz every decoder and session with a million inputs or more; report findings and memory.

    .venv/bin/python -m benchmarks.fuzz.run_fuzz                 # 1,000,000 inputs, seed 1
    .venv/bin/python -m benchmarks.fuzz.run_fuzz --inputs 5000000 --seed 7
    .venv/bin/python -m benchmarks.fuzz.run_fuzz --engine atheris --inputs 1000000

The default engine is deterministic mutation (``corpus.mutate``) of the Go vectors and of the
inputs that crash Go Serf, spread over six targets: the packet decoder, the stream decoder
(random chunking), a long-lived pure ``SerfNode`` fed packets and streams, the agent's RPC session
and its config decoder. With ``--engine atheris`` (if ``atheris`` is installed; see
docs/reliability.md) the same targets run under coverage-guided libFuzzer instead.

An input is a *finding* when its target raises anything other than the documented error. The
results (inputs per target, findings, peak RSS, the long-lived node's member and drop counts)
are printed as JSON, saved with their provenance to ``benchmarks/results/fuzz-<date>-<commit>.json``
and written into docs/reliability.md between the ``fuzz-results`` markers (``--no-doc``: not).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import random
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.fuzz.agent_targets import CONFIG_SEEDS, config_target, load_rpc_seeds, rpc_target
from benchmarks.fuzz.corpus import REPO_ROOT, chunked, hostile_inputs, load_seeds, mutate
from benchmarks.fuzz.targets import NodeTarget, packet_target, stream_target
from benchmarks.provenance import (
    Run,
    add_output_args,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)

DOC = REPO_ROOT / "docs" / "reliability.md"


@dataclass
class TargetStats:
    inputs: int = 0
    findings: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Report:
    engine: str
    seed: int
    inputs: int = 0
    seconds: float = 0.0
    targets: dict[str, TargetStats] = field(default_factory=dict)
    peak_rss_mib: float = 0.0
    node_members: int = 0
    node_dropped: int = 0
    node_answers_ping: bool = False

    @property
    def findings(self) -> int:
        return sum(t.findings for t in self.targets.values())


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Fuzzer:
    """Holds the corpora and the long-lived node; `one(name, rng)` runs one mutated input."""

    def __init__(self) -> None:
        seeds = load_seeds()
        hostile = hostile_inputs()
        self.packets = [s.data for s in seeds + hostile if s.channel == "packet"]
        self.streams = [s.data for s in seeds + hostile if s.channel == "stream"]
        self.rpc = load_rpc_seeds() + [s.data for s in hostile if s.channel == "rpc"]
        self.configs = [c.encode() for c in CONFIG_SEEDS]
        self.node = NodeTarget(seed=1)
        self.targets: dict[str, tuple[int, Callable[[bytes, random.Random], None]]] = {
            "packet_decoder": (3, self._packet),
            "stream_decoder": (2, self._stream),
            "serf_node_packet": (2, self._node_packet),
            "serf_node_stream": (1, self._node_stream),
            "rpc_session": (2, self._rpc),
            "config_decoder": (1, self._config),
        }

    def corpus_for(self, name: str) -> list[bytes]:
        if name in ("packet_decoder", "serf_node_packet"):
            return self.packets
        if name in ("stream_decoder", "serf_node_stream"):
            return self.streams
        return self.rpc if name == "rpc_session" else self.configs

    def run(self, name: str, data: bytes, rng: random.Random) -> None:
        self.targets[name][1](data, rng)

    def _packet(self, data: bytes, rng: random.Random) -> None:
        packet_target(data)

    def _stream(self, data: bytes, rng: random.Random) -> None:
        stream_target(chunked(data, rng))

    def _node_packet(self, data: bytes, rng: random.Random) -> None:
        self.node.packet(data)

    def _node_stream(self, data: bytes, rng: random.Random) -> None:
        self.node.stream(chunked(data, rng))

    def _rpc(self, data: bytes, rng: random.Random) -> None:
        rpc_target(chunked(data, rng), auth_key=rng.choice(("", "secret")))

    def _config(self, data: bytes, rng: random.Random) -> None:
        config_target(data.decode("utf-8", errors="replace"))


def run_mutation(total: int, seed: int) -> Report:
    """Run `total` mutated inputs, spread over the targets by weight."""
    fuzzer = Fuzzer()
    rng = random.Random(seed)
    report = Report(engine="mutation", seed=seed)
    names = list(fuzzer.targets)
    weights = [fuzzer.targets[n][0] for n in names]
    report.targets = {n: TargetStats() for n in names}
    started = time.monotonic()
    for i in range(total):
        name = rng.choices(names, weights)[0]
        corpus = fuzzer.corpus_for(name)
        data = mutate(rng.choice(corpus), rng, splice_from=corpus)
        stats = report.targets[name]
        stats.inputs += 1
        try:
            fuzzer.run(name, data, rng)
        except Exception as exc:
            stats.findings += 1
            if len(stats.examples) < 5:
                stats.examples.append(f"{type(exc).__name__}: {exc} <- {data[:64].hex()}")
                traceback.print_exc(limit=6, file=sys.stderr)
        if i % 100_000 == 0 and i:
            print(f"{i} inputs, {report.findings} findings", file=sys.stderr, flush=True)
    report.inputs = total
    report.seconds = time.monotonic() - started
    _finish(report, fuzzer.node)
    return report


def _finish(report: Report, node: NodeTarget) -> None:
    report.peak_rss_mib = round(_peak_rss_mib(), 1)
    node.advance(60.0)
    report.node_members = len(node.node.members())
    report.node_dropped = node.dropped_total()
    report.node_answers_ping = node.answers_ping()


def run_atheris(total: int, seed: int) -> None:
    """Coverage-guided run under atheris/libFuzzer; exits the process when done.

    The seed corpus, and any crashing input libFuzzer saves, live in
    ``/tmp/pyserf-fuzz-corpus-<seed>/``.
    """
    atheris = importlib.import_module("atheris")
    fuzzer = Fuzzer()
    names = list(fuzzer.targets)

    def one_input(data: bytes) -> None:
        if len(data) < 2:
            return
        name = names[data[0] % len(names)]
        fuzzer.run(name, data[1:], random.Random(data[1]))

    corpus_dir = Path("/tmp") / f"pyserf-fuzz-corpus-{seed}"
    corpus_dir.mkdir(exist_ok=True)
    for i, name in enumerate(names):
        for j, sample in enumerate(fuzzer.corpus_for(name)):
            (corpus_dir / f"{i}-{j}").write_bytes(bytes([i]) + sample)
    atheris.instrument_all()
    atheris.Setup(
        [
            sys.argv[0],
            f"-runs={total}",
            f"-seed={seed}",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={corpus_dir}/",
            str(corpus_dir),
        ],
        one_input,
    )
    atheris.Fuzz()


def render(report: Report, run_info: Run, raw: Path | None) -> str:
    """The markdown block written into docs/reliability.md."""
    lines = [
        f"{report.inputs:,} inputs, engine `{report.engine}`, seed {report.seed}, "
        f"{report.seconds:.0f} s; **{report.findings} findings**; "
        f"peak RSS {report.peak_rss_mib} MiB.",
        "",
        "| target | inputs | findings |",
        "|---|---:|---:|",
    ]
    for name, stats in report.targets.items():
        lines.append(f"| `{name}` | {stats.inputs:,} | {stats.findings} |")
    lines += [
        "",
        f"The long-lived `SerfNode` that swallowed every packet and stream input ended with "
        f"{report.node_members} member(s) in its table, {report.node_dropped:,} inputs counted as "
        f"dropped, and {'still answered' if report.node_answers_ping else 'did NOT answer'} "
        "a ping.",
        "",
        provenance_block(run_info, raw),
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=["mutation", "atheris"], default="mutation")
    add_output_args(parser)
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    if args.engine == "atheris":
        run_atheris(args.inputs, args.seed)
        return 0
    run_info = start("fuzz")
    report = run_mutation(args.inputs, args.seed)
    run_info.finish()
    out = asdict(report)
    out["findings"] = report.findings
    print(json.dumps(out, indent=2))
    params = {"inputs": args.inputs, "seed": args.seed, "engine": args.engine}
    raw = save_results(run_info, out, parameters=params, results_dir=args.results_dir)
    block = render(report, run_info, raw)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {"fuzz-results": block})
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
