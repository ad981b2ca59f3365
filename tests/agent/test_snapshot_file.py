"""The snapshot file: appends, private mode, bounded size, atomic compaction, torn lines."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from serf_agent.snapshot_file import SnapshotFile, previously_failed
from serf_proto.serf.snapshot import SNAPSHOT_SIZE_LIMIT, PreviousNode, parse_snapshot


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


def test_the_file_stays_bounded_by_compacting_atomically(tmp_path: Path) -> None:
    path = tmp_path / "snap"
    snap = SnapshotFile(str(path))
    snap.open()
    line = 0
    while snap.compactions == 0:
        line += 1
        snap.append([f"alive: node-{line % 5} 127.0.0.1:{7000 + line % 5}", f"clock: {line}"])
        snap.append([f"event-clock: {line}"])
    assert os.path.getsize(path) < SNAPSHOT_SIZE_LIMIT
    assert not (tmp_path / "snap.compact").exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    recovered = parse_snapshot(path.read_text())
    assert recovered.clock == line
    assert recovered.event_clock == line
    assert {p.name for p in recovered.alive} == {f"node-{i}" for i in range(5)}
    snap.append(["query-clock: 9"])  # still appends after the rename
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


def test_failed_members_are_remembered_for_rejoin_failed() -> None:
    text = (
        "alive: a 127.0.0.1:1\nalive: b 127.0.0.1:2\nalive: c 127.0.0.1:3\n"
        "not-alive: b\nnot-alive: c\nalive: c 127.0.0.1:4\n"
    )
    assert previously_failed(text) == [PreviousNode("b", "127.0.0.1:2")]
    assert previously_failed(text + "leave\n") == []
