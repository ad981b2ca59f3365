"""Stream decoding cost by read size: a 10,000-entry push/pull in 1 KiB chunks vs one chunk.

Run on demand from the repository root::

    .venv/bin/python -m benchmarks.bench_stream_chunks [--runs 7] [--node-only] [--no-doc]

A push/pull arriving in many reads must cost about what it costs in one read (the node keeps one
incremental ``StreamDecoder`` per stream). Each case is timed ``--runs`` times on one core,
alternating one read and 1 KiB reads after one untimed run of each. Cases: the decoder exactly
as the node configures it (``WireIO.stream_decoder``) on a plain and on an LZW-compressed
push/pull (compression is on by default), and the whole node (``Memberlist.receive_stream_data``:
decode, merge the 10,000 nodes, answer). ``--node-only`` keeps only the node cases, which run
against the ``serf-proto`` of any commit (put its ``src`` first on ``PYTHONPATH``; the results
name the ``serf_proto`` that was imported).

Every time is kept: the raw results go to ``benchmarks/results/stream-chunks-<date>-<commit>.json``
and the table (median and min–max of the runs, and the ratio of 1 KiB reads to one read) between
the ``stream-chunks`` markers of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import serf_proto
from serf_proto.config import MemberlistConfig
from serf_proto.memberlist import Memberlist
from serf_proto.types import Address
from serf_proto.wire import PushNodeState, PushPull, encode_stream, encode_tags

from benchmarks.provenance import (
    ROOT,
    Run,
    Spread,
    add_output_args,
    fmt_spread,
    provenance_block,
    ratio,
    replace_blocks,
    save_results,
    start,
)

DOC = ROOT / "docs" / "benchmarks.md"
BLOCK = "stream-chunks"
ENTRIES = 10_000
CHUNK = 1024
TARGET = 1.5
MIN_RUNS = 5
VSN = bytes([1, 5, 2, 0, 0, 0])  # memberlist 1-5, no delegate (as the bench node)
PEER = Address("10.0.0.1", 7946)


def push_pull(entries: int) -> PushPull:
    """A push/pull announcing ``entries`` alive nodes with Serf-like tags."""
    states = tuple(
        PushNodeState(
            f"node-{i:05d}",
            bytes((10, (i >> 16) & 255, (i >> 8) & 255, i & 255)),
            7946,
            encode_tags({"role": "web", "dc": "dc1"}),
            1 + i % 7,
            0,
            VSN,
        )
        for i in range(entries)
    )
    return PushPull(False, states, b"")


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _decoder_feed(chunks: list[bytes]) -> Callable[[], None]:
    wire = Memberlist(MemberlistConfig.lan("bench"), now=0.0, rng=random.Random(1)).wire

    def run() -> None:
        decoder = wire.stream_decoder(inbound=True)
        got = []
        for chunk in chunks:
            got += decoder.feed(chunk)
        assert len(got) == 1 and isinstance(got[0], PushPull)
        assert len(got[0].states) == ENTRIES

    return run


def _node_feed(chunks: list[bytes]) -> tuple[Callable[[], None], Callable[[], None]]:
    """(setup, run): a fresh node and inbound stream, then the timed feed of every chunk."""
    box: dict[str, object] = {}

    def setup() -> None:
        ml = Memberlist(MemberlistConfig.lan("bench"), now=0.0, rng=random.Random(1))
        box["ml"] = ml
        box["sid"] = ml.accept_stream(PEER, 0.0)

    def run() -> None:
        ml = box["ml"]
        sid = box["sid"]
        assert isinstance(ml, Memberlist) and isinstance(sid, int)
        for chunk in chunks:
            ml.receive_stream_data(sid, chunk, 0.0)
        assert ml.num_members() == ENTRIES + 1, ml.num_members()

    return setup, run


def _time(run: Callable[[], None], runs: int, setup: Callable[[], None] | None) -> list[float]:
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        gc.collect()  # garbage of the previous run is not charged to this one
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def _pair(
    whole: tuple[Callable[[], None] | None, Callable[[], None]],
    split: tuple[Callable[[], None] | None, Callable[[], None]],
    runs: int,
) -> tuple[list[float], list[float]]:
    """Time both feeds ``runs`` times, alternating, so drifting load hits both alike (after
    one untimed run of each, which fills the shared per-entry decode cache)."""
    _time(whole[1], 1, whole[0])
    _time(split[1], 1, split[0])
    a: list[float] = []
    b: list[float] = []
    for _ in range(runs):
        a += _time(whole[1], 1, whole[0])
        b += _time(split[1], 1, split[0])
    return a, b


def measure(
    runs: int, node_only: bool = False
) -> list[tuple[str, int, int, list[float], list[float]]]:
    """Per case: (name, bytes, reads in chunks, one-chunk times, chunked times)."""
    msg = push_pull(ENTRIES)
    plain = encode_stream(msg)
    packed = encode_stream(msg, compress=True)
    out = []
    decoder_cases = (
        () if node_only else (("decoder, plain push/pull", plain), ("decoder, compressed", packed))
    )
    for name, data in decoder_cases:
        pieces = chunks_of(data, CHUNK)
        whole, split = _pair((None, _decoder_feed([data])), (None, _decoder_feed(pieces)), runs)
        out.append((name, len(data), len(pieces), whole, split))
        print(f"{name}: done", file=sys.stderr, flush=True)
    for name, data in (("node, compressed (default)", packed), ("node, plain", plain)):
        pieces = chunks_of(data, CHUNK)
        whole, split = _pair(_node_feed([data]), _node_feed(pieces), runs)
        out.append((name, len(data), len(pieces), whole, split))
        print(f"{name}: done", file=sys.stderr, flush=True)
    return out


def serf_proto_source() -> str:
    """Where ``serf_proto`` was imported from (relative to the checkout when inside it)."""
    path = Path(next(iter(serf_proto.__path__))).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def to_results(
    measured: list[tuple[str, int, int, list[float], list[float]]],
) -> list[dict[str, Any]]:
    """The raw samples of :func:`measure` as JSON rows (times in seconds)."""
    return [
        {"case": name, "bytes": size, "reads": reads, "one_read_s": whole, "chunked_s": split}
        for name, size, reads, whole, split in measured
    ]


def _ms(values: list[float]) -> Spread | None:
    return Spread.of(1000 * v for v in values)


def verdict(ratios: list[tuple[str, Spread]]) -> str:
    """The target sentence: met when every ratio's whole range is at most ``TARGET``, missed
    when some ratio's whole range is above it, not decided otherwise."""
    if not ratios:
        return "no case measured"
    worst_name, worst = max(ratios, key=lambda item: item[1].high)
    above = [(n, r) for n, r in ratios if r.low > TARGET]
    if above:
        name, r = max(above, key=lambda item: item[1].low)
        return f"missed: {name} takes {r.fmt('.2f')} times as long in 1 KiB reads"
    if worst.high <= TARGET:
        return f"met (every range is at or below it; highest {worst.high:.2f}x, {worst_name})"
    undecided = "; ".join(f"{n} {r.fmt('.2f')}" for n, r in ratios if r.high > TARGET)
    return f"not decided: the range crosses {TARGET}x for {undecided}"


def render(results: list[dict[str, Any]], run_info: Run, raw: Path | None, source: str) -> str:
    """The generated block of the ``## Stream chunks`` section: table, verdict, provenance."""
    lines = [
        "| case | bytes | reads | one read ms | 1 KiB reads ms | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    ratios: list[tuple[str, Spread]] = []
    for row in results:
        whole, split = _ms(row["one_read_s"]), _ms(row["chunked_s"])
        r = ratio(split, whole)
        if r is not None:
            ratios.append((row["case"], r))
        lines.append(
            f"| {row['case']} | {row['bytes']:,} | {row['reads']:,} | {fmt_spread(whole, '.1f')} "
            f"| {fmt_spread(split, '.1f')} | {fmt_spread(r, '.2f')} |"
        )
    runs = min((len(row["one_read_s"]) for row in results), default=0)
    lines += [
        "",
        f"Median (min–max) of {runs} timed runs per feed, milliseconds; the ratio is 1 KiB reads "
        "÷ one read (ratio of the medians, range from the extremes).",
        "",
        f"Target: at most {TARGET}x for {CHUNK}-byte reads: {verdict(ratios)}.",
    ]
    if not source.startswith("packages/"):
        lines += ["", f"Code measured: the `serf_proto` imported from `{source}`."]
    lines += ["", provenance_block(run_info, raw)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=7, help=f"timed runs per feed (at least {MIN_RUNS})"
    )
    parser.add_argument(
        "--node-only", action="store_true", help="only the node cases (they run on any commit)"
    )
    add_output_args(parser)
    args = parser.parse_args(argv)
    if args.runs < MIN_RUNS:
        parser.error(f"--runs must be at least {MIN_RUNS}")
    run_info = start(BLOCK)
    results = to_results(measure(args.runs, args.node_only))
    run_info.finish()
    source = serf_proto_source()
    params = {
        "entries": ENTRIES,
        "chunk": CHUNK,
        "runs": args.runs,
        "node_only": args.node_only,
        "target": TARGET,
        "serf_proto": source,
    }
    raw = save_results(run_info, results, parameters=params, results_dir=args.results_dir)
    block = render(results, run_info, raw, source)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {BLOCK: block})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
