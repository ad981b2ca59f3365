"""Wire codec throughput: decode and encode rates of typical memberlist traffic.

Run on demand from the repository root::

    .venv/bin/python -m benchmarks.bench_codec [--seconds 0.5] [--repeats 7] [--no-doc]

After one calibration, each case is timed ``--repeats`` times for about ``--seconds`` each, for
decoding, encoding and a decode+encode round trip, in this one process (one core). Every rate
is kept: the raw results go to ``benchmarks/results/codec-<date>-<commit>.json`` and the table
(median and min–max of the runs) between the ``codec`` markers of ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serf_proto.wire import (
    Ack,
    Alive,
    Coordinate,
    Keyring,
    Message,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    UserMsg,
    decode_ack_payload,
    decode_message,
    decode_packet,
    decode_stream,
    encode_ack_payload,
    encode_message,
    encode_packet,
    encode_serf_message,
    encode_stream,
    encode_tags,
)
from serf_proto.wire.serf_messages import MessageJoin

from benchmarks.provenance import (
    Run,
    Spread,
    add_output_args,
    fmt_spread,
    provenance_block,
    replace_blocks,
    save_results,
    start,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
LOCALHOST = b"\x7f\x00\x00\x01"
VSN = bytes([1, 5, 2, 2, 5, 5])
KEY = bytes(range(32))
TARGET = 100_000


@dataclass(frozen=True)
class Case:
    """One benchmark case: how to decode and encode one unit, and how many messages it holds."""

    name: str
    messages: int
    size: int
    decode: Callable[[], object]
    encode: Callable[[], object]


def _rates(fn: Callable[[], object], seconds: float, repeats: int) -> list[float]:
    """Calls per second of ``fn`` in ``repeats`` timed runs of about ``seconds`` each."""
    n = 1
    while True:  # calibrate
        begin = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - begin
        if elapsed > 0.05:
            break
        n *= 2
    per_run = max(1, int(n * seconds / elapsed))
    rates = []
    for _ in range(repeats):
        begin = time.perf_counter()
        for _ in range(per_run):
            fn()
        rates.append(per_run / (time.perf_counter() - begin))
    return rates


def _payload(msg: object) -> bytes:
    assert isinstance(msg, Ack)
    return msg.payload


def build_cases() -> list[Case]:
    """The traffic the issue asks about, built once."""
    ping = Ping(1234, "node-b", LOCALHOST, 7946, "node-a")
    ping_bytes = encode_message(ping)
    coordinate = Coordinate()
    ack = Ack(1234, encode_ack_payload(coordinate))
    ack_bytes = encode_message(ack)
    meta = encode_tags({"role": "web", "dc": "east"})
    alive = Alive(7, "node-c", LOCALHOST, 7948, meta, VSN)
    alive_bytes = encode_message(alive)

    join = UserMsg(encode_serf_message(MessageJoin(12, "node-d")))
    compound_msgs: list[Message] = [ping, alive, Suspect(3, "node-e", "node-a"), join]
    compound_bytes = encode_packet(compound_msgs, crc=True)
    keyring = Keyring([KEY])
    encrypted_bytes = encode_packet(compound_msgs, crc=True, keyring=keyring, entropy=os.urandom)

    states = tuple(
        PushNodeState(f"node-{i:03d}", bytes([10, 0, i // 256, i % 256]), 7946, meta, 1, 0, VSN)
        for i in range(100)
    )
    push_pull = PushPull(False, states, b"\x02" + bytes(585))
    push_pull_bytes = encode_stream(push_pull)

    return [
        Case(
            "ping",
            1,
            len(ping_bytes),
            lambda: decode_message(ping_bytes),
            lambda: encode_message(ping),
        ),
        Case(
            "ack with coordinate",
            1,
            len(ack_bytes),
            lambda: decode_ack_payload(_payload(decode_message(ack_bytes))),
            lambda: encode_message(Ack(1234, encode_ack_payload(coordinate))),
        ),
        Case(
            "alive",
            1,
            len(alive_bytes),
            lambda: decode_message(alive_bytes),
            lambda: encode_message(alive),
        ),
        Case(
            "compound packet (CRC; ping, alive, suspect, user)",
            4,
            len(compound_bytes),
            lambda: decode_packet(compound_bytes),
            lambda: encode_packet(compound_msgs, crc=True),
        ),
        Case(
            "encrypted packet (AES-256-GCM v1; same compound)",
            4,
            len(encrypted_bytes),
            lambda: decode_packet(encrypted_bytes, keyring=keyring),
            lambda: encode_packet(compound_msgs, crc=True, keyring=keyring, entropy=os.urandom),
        ),
        Case(
            "push/pull stream, 100 nodes",
            101,
            len(push_pull_bytes),
            lambda: decode_stream(push_pull_bytes),
            lambda: encode_stream(push_pull),
        ),
    ]


def run(seconds: float, repeats: int) -> list[dict[str, Any]]:
    """Measure every case: ``repeats`` rates each of decoding, encoding and both (calls/s)."""
    results: list[dict[str, Any]] = []
    for case in build_cases():

        def both(c: Case = case) -> None:
            c.decode()
            c.encode()

        results.append(
            {
                "case": case.name,
                "messages": case.messages,
                "bytes": case.size,
                "decode": _rates(case.decode, seconds, repeats),
                "encode": _rates(case.encode, seconds, repeats),
                "round_trip": _rates(both, seconds, repeats),
            }
        )
        print(f"{case.name}: done", file=sys.stderr, flush=True)
    return results


def render(results: list[dict[str, Any]], run_info: Run, raw: Path | None) -> str:
    """The generated block of the ``## Codec`` section: table, verdict, provenance."""
    lines = [
        "| case | bytes | decode units/s | encode units/s | decode+encode units/s "
        "| decode msgs/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    spreads: list[tuple[str, Spread]] = []
    for row in results:
        dec, enc, rt = (Spread.of(row[k]) for k in ("decode", "encode", "round_trip"))
        msgs = Spread.of(r * row["messages"] for r in row["decode"])
        lines.append(
            f"| {row['case']} | {row['bytes']} | {fmt_spread(dec, ',.0f')} | "
            f"{fmt_spread(enc, ',.0f')} | {fmt_spread(rt, ',.0f')} | {fmt_spread(msgs, ',.0f')} |"
        )
        if row["messages"] == 1 and dec is not None:
            spreads.append((row["case"], dec))
    lines += ["", f"Median (min–max) of {_repeats(results)} timed runs per cell."]
    if spreads:
        name, slowest = min(spreads, key=lambda item: item[1].median)
        if slowest.low >= TARGET:
            verdict = "met by every run"
        elif slowest.median >= TARGET:
            verdict = "met by the median, not by every run"
        else:
            verdict = f"missed: the median is {TARGET - slowest.median:,.0f}/s short"
        lines += [
            "",
            f"Target: at least {TARGET:,} small messages decoded per second per core: "
            f"{verdict}; the slowest single-message case ({name}) decodes "
            f"{slowest.fmt(',.0f')} per second.",
        ]
    lines += ["", provenance_block(run_info, raw)]
    return "\n".join(lines) + "\n"


def _repeats(results: list[dict[str, Any]]) -> int:
    return min((len(r["decode"]) for r in results), default=0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per cell (>= 5)")
    add_output_args(parser)
    args = parser.parse_args(argv)
    run_info = start("codec")
    results = run(args.seconds, args.repeats)
    run_info.finish()
    params = {"seconds": args.seconds, "repeats": args.repeats, "target": TARGET}
    raw = save_results(run_info, results, parameters=params, results_dir=args.results_dir)
    block = render(results, run_info, raw)
    print(block)
    if not args.no_doc:
        replace_blocks(DOC, {"codec": block})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
