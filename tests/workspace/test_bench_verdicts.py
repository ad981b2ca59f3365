"""The verdicts the stream-chunk and hostile-filter benchmarks compute from their samples.

Pure functions on made-up samples; the benchmarks themselves never run in the test suite.
"""

from __future__ import annotations

from benchmarks.bench_regex_backtracking import table, verdicts
from benchmarks.bench_stream_chunks import verdict
from benchmarks.provenance import Spread


def test_stream_chunk_target_follows_the_range_rule() -> None:
    low = Spread(1.0, 0.9, 1.2, 5)
    assert verdict([("a", low)]).startswith("met (")
    crossing = Spread(1.3, 1.1, 1.9, 5)
    assert verdict([("a", low), ("b", crossing)]).startswith("not decided: ")
    above = Spread(23.4, 20.1, 26.0, 5)
    text = verdict([("a", low), ("b", crossing), ("c", above)])
    assert text == "missed: c takes 23.40 (20.10–26.00) times as long in 1 KiB reads"


def _row(target: str, run: int, attack: list[float], repeat: int = 1) -> dict[str, object]:
    return {
        "target": target,
        "run": run,
        "repeat": repeat,
        "queries": 10,
        "seen": 10,
        "cpu_percent": 2.0,
        "quiet_ms": [0.2, 0.3, 0.4],
        "attack_ms": attack,
    }


def test_hostile_filter_verdict_counts_every_probe() -> None:
    rows = [
        _row("py", 22, [0.3, 0.5, 4.0]),
        _row("py", 22, [0.4, 0.6], repeat=2),
        _row("old", 22, [0.3, 120.0, 9000.0]),
    ]
    lines = verdicts(rows)
    assert lines[0].endswith("met (the slowest of 5 probes took 4.0 ms, at run 22).")
    assert (
        lines[1]
        == "pyserf before (Python re), run 22: 2 of 3 probes over 50 ms, slowest 9000.0 ms."
    )
    rows.append(_row("py", 400, [0.3, 75.0]))
    assert ": missed: 1 of 7 probes over 50 ms " in verdicts(rows)[0]
    # one quiet and one hostile row per (target, run) cell, after the two header lines
    assert len(table(rows)) == 2 + 2 * 3
