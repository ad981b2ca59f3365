"""The snapshot file: appends, private mode, the core's compactions done atomically, torn lines."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from serf_agent.snapshot_file import SnapshotFile
from serf_proto.serf.snapshot import SNAPSHOT_SIZE_LIMIT, Snapshotter, parse_snapshot
from serf_proto.types import Address


def test_records_are_appended_one_per_line_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "snap"
    snap = SnapshotFile(str(path))
    assert snap.open() == ""
    snap.append(["alive: a 127.0.0.1:7946", "clock: 1"])
    snap.append(["event-clock: 3"])
    snap.close()
    assert path.read_text() == "alive: a 127.0.0.1:7946\nclock: 1\nevent-clock: 3\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_reopening_returns_the_text_and_keeps_appending(tmp_path: Path) -> None:
    path = tmp_path / "snap"
    path.write_text("alive: a 127.0.0.1:7946\nclock: 4\n")
    snap = SnapshotFile(str(path))
    text = snap.open()
    assert parse_snapshot(text).clock == 4
    snap.append(["query-clock: 2"])
    snap.close()
    assert path.read_text().endswith("clock: 4\nquery-clock: 2\n")


def test_a_torn_last_record_is_dropped_before_new_records(tmp_path: Path) -> None:
    path = tmp_path / "snap"
    path.write_text("clock: 4\nalive: b 127.0")
    snap = SnapshotFile(str(path))
    snap.open()
    snap.append(["clock: 5"])
    snap.close()
    recovered = parse_snapshot(path.read_text())
    assert recovered.clock == 5
    assert recovered.alive == ()  # the torn record is dropped, not trusted


def test_the_file_stays_bounded_by_the_cores_compactions_done_atomically(tmp_path: Path) -> None:
    path = tmp_path / "snap"
    snap = SnapshotFile(str(path))
    snapshotter = Snapshotter.resume(parse_snapshot(snap.open()))
    line = 0
    while snap.compactions == 0:
        line += 1
        for update in (
            snapshotter.record_join(
                f"node-{line % 5}", Address("127.0.0.1", 7000 + line % 5), line
            ),
            snapshotter.record_user_event(line),
        ):
            snap.write(update.lines, compact=update.compact)
    assert os.path.getsize(path) < SNAPSHOT_SIZE_LIMIT
    assert not (tmp_path / "snap.compact").exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    recovered = parse_snapshot(path.read_text())
    assert recovered.clock == line - 1
    assert recovered.event_clock == line
    assert {p.name for p in recovered.alive} == {f"node-{i}" for i in range(5)}
    snap.write(["query-clock: 9"])  # still appends after the rename
    snap.close()
    assert parse_snapshot(path.read_text()).query_clock == 9


def test_a_core_decided_compaction_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "snap"
    snap = SnapshotFile(str(path))
    snap.open()
    snap.append(["alive: a 127.0.0.1:1", "alive: b 127.0.0.1:2", "not-alive: b"])
    snap.replace(["alive: a 127.0.0.1:1", "clock: 3", "event-clock: 0", "query-clock: 0"])
    snap.append(["clock: 4"])
    snap.close()
    assert path.read_text() == (
        "alive: a 127.0.0.1:1\nclock: 3\nevent-clock: 0\nquery-clock: 0\nclock: 4\n"
    )
