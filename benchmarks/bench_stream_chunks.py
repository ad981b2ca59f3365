"""Stream decoding cost by read size: a 10,000-entry push/pull in 1 KiB chunks vs one chunk.

Run on demand from the repository root::

    .venv/bin/python benchmarks/bench_stream_chunks.py [--runs 7] [--write]

A push/pull arriving in many reads must cost about what it costs in one read (the node keeps one
incremental ``StreamDecoder`` per stream). Each case is timed ``--runs`` times on one core; the
table gives the median and the spread (min-max) for both feeds and the ratio of the medians
(target ≤ 1.5x). Cases: the decoder exactly as the node configures it (``WireIO.stream_decoder``)
on a plain and on an LZW-compressed push/pull (compression is on by default), and the whole node
(``Memberlist.receive_stream_data``: decode, merge the 10,000 nodes, answer). ``--write``
replaces the ``## Stream chunks`` section of ``docs/benchmarks.md`` and saves the raw output in
``benchmarks/bench_stream_chunks.txt``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from serf_proto.config import MemberlistConfig
from serf_proto.memberlist import Memberlist
from serf_proto.types import Address
from serf_proto.wire import PushNodeState, PushPull, encode_stream, encode_tags

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
RAW = ROOT / "benchmarks" / "bench_stream_chunks.txt"
ENTRIES = 10_000
CHUNK = 1024
TARGET = 1.5
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
    for name, data in (("node, compressed (default)", packed), ("node, plain", plain)):
        pieces = chunks_of(data, CHUNK)
        whole, split = _pair(_node_feed([data]), _node_feed(pieces), runs)
        out.append((name, len(data), len(pieces), whole, split))
    return out


def _ms(times: list[float]) -> str:
    return (
        f"{statistics.median(times) * 1000:.1f} ({min(times) * 1000:.1f}-{max(times) * 1000:.1f})"
    )


def render(results: list[tuple[str, int, int, list[float], list[float]]], runs: int) -> str:
    """The ``## Stream chunks`` section as Markdown."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    cpu = platform.processor() or platform.machine()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Stream chunks",
        "",
        f"`benchmarks/bench_stream_chunks.py --runs {runs}` at commit {commit}, {when}",
        f"(Python {platform.python_version()}, {cpu}, {os.cpu_count()} CPUs shared with other",
        f"work, load average {os.getloadavg()[0]:.1f}). A {ENTRIES:,}-entry push/pull fed in",
        f"{CHUNK}-byte reads vs the same bytes in one read; milliseconds, median (min-max) of",
        f"{runs} runs. Raw output: `benchmarks/bench_stream_chunks.txt`.",
        "",
        "| case | bytes | reads | one read ms | 1 KiB reads ms | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    worst = 0.0
    for name, size, reads, whole, split in results:
        ratio = statistics.median(split) / statistics.median(whole)
        worst = max(worst, ratio)
        lines.append(
            f"| {name} | {size:,} | {reads:,} | {_ms(whole)} | {_ms(split)} | {ratio:.2f}x |"
        )
    verdict = "met" if worst <= TARGET else "missed"
    lines += [
        "",
        f"Target: at most {TARGET}x for many reads. {verdict}: the worst ratio is {worst:.2f}x.",
        "Each stream holds one `StreamDecoder` that parses what it can of every read and keeps",
        "only the unparsed tail, so the total work is linear in the stream's length whatever",
        "the read sizes. (Before, the node appended each read to a buffer and decoded the",
        "whole buffer again, which is quadratic in the number of reads.)",
        "Runs alternate one read and many reads, after one untimed run of each: push/pull",
        "entries are decoded once per distinct byte string (a cache shared by every stream,",
        "as in the node), so the timed runs measure a warm cache, as a node sees the",
        "mostly unchanged table of a peer. The decoder rows are small absolute times (a few",
        "ms), where a loaded machine moves the ratio most.",
        "",
        "Before (commit 2e30c1d, the node re-decoding its buffer on every read; node cases",
        "only, `--node-only --runs 5` on that commit's `serf-proto`, raw output in",
        "`benchmarks/bench_stream_chunks_before.txt`): the plain push/pull took 4,346 ms in",
        "879 reads against 186 ms in one (23.4x); the compressed one was not affected (a",
        "partial LZW map fails fast): 244 ms vs 251 ms.",
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace (or append) the ``## Stream chunks`` section of docs/benchmarks.md."""
    text = DOC.read_text()
    pattern = re.compile(r"^## Stream chunks\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        anchor = "## Simulator\n"
        text = text.replace(anchor, section + "\n" + anchor, 1)
    DOC.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per feed (≥ 5)")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument(
        "--node-only", action="store_true", help="only the node cases (they run on any commit)"
    )
    args = parser.parse_args(argv)
    runs = max(args.runs, 5)
    results = measure(runs, args.node_only)
    section = render(results, runs)
    raw = [section, "Every run, in ms (one read | 1 KiB reads):"]
    for name, _, _, whole, split in results:
        raw.append(f"{name}: " + " ".join(f"{1000 * t:.1f}" for t in whole))
        raw.append(" " * len(name) + "| " + " ".join(f"{1000 * t:.1f}" for t in split))
    output = "\n".join(raw) + "\n"
    print(output)
    if args.write:
        write_section(section)
        RAW.write_text(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
