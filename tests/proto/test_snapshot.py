"""The snapshot codec replays Go's files and records what Go's snapshotter records."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from serf_proto.serf.snapshot import (
    SNAPSHOT_SIZE_LIMIT,
    PreviousNode,
    RecoveredState,
    SnapshotError,
    Snapshotter,
    compaction_threshold,
    parse_address,
    parse_snapshot,
    rejoin_order,
    should_compact,
)
from serf_proto.types import Address

FILES = Path(__file__).parent / "vectors" / "serf" / "files"


def test_a_go_snapshot_before_leave_recovers_clocks_and_alive_nodes() -> None:
    state = parse_snapshot((FILES / "snapshot_run1_a_before_leave.txt").read_text())
    assert (state.clock, state.event_clock, state.query_clock) == (3, 3, 9)
    assert state.alive == (
        PreviousNode("a", "127.0.0.1:18946"),
        PreviousNode("b", "127.0.0.1:18947"),
        PreviousNode("c", "127.0.0.1:18948"),
    )
    assert not state.left and state.warnings == ()


def test_a_leave_record_forgets_alive_nodes_and_clocks_but_later_lines_apply() -> None:
    state = parse_snapshot((FILES / "snapshot_run1_a.txt").read_text())
    assert state.left
    assert state.alive == ()
    assert (state.clock, state.event_clock, state.query_clock) == (10, 0, 0)


def test_rejoin_after_leave_keeps_what_was_known_before_the_leave() -> None:
    text = (FILES / "snapshot_run1_a.txt").read_text()
    state = parse_snapshot(text, rejoin_after_leave=True)
    assert [p.name for p in state.alive] == ["a"]
    assert (state.clock, state.event_clock, state.query_clock) == (10, 3, 9)


def test_a_restarted_node_snapshot_recovers_every_line_it_wrote() -> None:
    state = parse_snapshot((FILES / "snapshot_run1_c_restarted.txt").read_text())
    assert [p.name for p in state.alive] == ["c", "a"]
    assert (state.clock, state.event_clock, state.query_clock) == (5, 3, 9)


def test_a_torn_last_line_comments_and_old_coordinates_are_ignored() -> None:
    text = "# comment\ncoordinate: {}\nalive: x 10.0.0.1:7946\nclock: 4\nclock: 9"
    state = parse_snapshot(text)
    assert state.clock == 4
    assert state.alive == (PreviousNode("x", "10.0.0.1:7946"),)
    assert state.warnings == ()
    assert state.size == len(text) - len("clock: 9")  # the torn record is not counted


def test_garbage_lines_are_skipped_with_a_warning() -> None:
    state = parse_snapshot("bogus\nclock: x\nalive: nospace\nclock: 2\n")
    assert state.clock == 2
    assert len(state.warnings) == 3


def test_a_name_with_spaces_keeps_everything_before_the_last_space() -> None:
    state = parse_snapshot("alive: my node 10.0.0.1:1\n")
    assert state.alive == (PreviousNode("my node", "10.0.0.1:1"),)


def test_addresses_parse_in_go_tcpaddr_form() -> None:
    assert parse_address("127.0.0.1:7946") == Address("127.0.0.1", 7946)
    assert parse_address("[::1]:7946") == Address("::1", 7946)
    for bad in ("nope", ":1", "1.2.3.4:", "1.2.3.4:99999"):
        with pytest.raises(SnapshotError):
            parse_address(bad)


def test_the_snapshotter_writes_the_lines_go_writes_for_a_session() -> None:
    snap = Snapshotter()
    lines: list[str] = []
    lines += snap.record_join("a", Address("127.0.0.1", 18946), member_clock=1).lines
    lines += snap.record_join("b", Address("127.0.0.1", 18947), member_clock=2).lines
    lines += snap.record_join("c", Address("127.0.0.1", 18948), member_clock=3).lines
    for lt in (1, 2, 3, 3, 2):
        lines += snap.record_user_event(lt).lines
    lines += snap.record_query(1).lines
    lines += snap.record_clock(4).lines
    lines += snap.record_clock(4).lines
    lines += snap.record_gone("b", member_clock=5).lines
    lines += snap.record_leave().lines
    lines += snap.record_join("d", Address("127.0.0.1", 1), member_clock=6).lines
    lines += snap.record_clock(7).lines
    assert lines == [
        "alive: a 127.0.0.1:18946",
        "alive: b 127.0.0.1:18947",
        "clock: 1",
        "alive: c 127.0.0.1:18948",
        "clock: 2",
        "event-clock: 1",
        "event-clock: 2",
        "event-clock: 3",
        "query-clock: 1",
        "clock: 3",
        "not-alive: b",
        "clock: 4",
        "leave",
        "clock: 6",
    ]
    replayed = parse_snapshot("\n".join(lines) + "\n")
    assert replayed.left and replayed.clock == 6


def test_compaction_starts_at_128_kib_or_256_bytes_per_alive_node() -> None:
    assert compaction_threshold(0) == SNAPSHOT_SIZE_LIMIT
    assert compaction_threshold(1000) == 256_000
    assert not should_compact(SNAPSHOT_SIZE_LIMIT, 3)
    assert should_compact(SNAPSHOT_SIZE_LIMIT + 1, 3)


def test_a_log_past_the_threshold_is_replaced_by_its_compacted_form() -> None:
    state = RecoveredState(clock=7, event_clock=2, query_clock=3, size=SNAPSHOT_SIZE_LIMIT - 40)
    snap = Snapshotter.resume(state)
    first = snap.record_join("a", Address("10.0.0.1", 7946), member_clock=9)
    assert not first.compact
    second = snap.record_join("b", Address("10.0.0.2", 7946), member_clock=9)
    assert second.compact
    assert second.lines == [
        "alive: a 10.0.0.1:7946",
        "alive: b 10.0.0.2:7946",
        "clock: 8",
        "event-clock: 2",
        "query-clock: 3",
    ]
    assert snap.offset == sum(len(line) + 1 for line in second.lines)
    again = parse_snapshot("\n".join(second.lines) + "\n")
    assert (again.clock, again.event_clock, again.query_clock) == (8, 2, 3)


def test_members_seen_alive_then_lost_are_remembered_as_failed_until_they_return() -> None:
    text = (
        "alive: a 10.0.0.1:7946\nalive: b 10.0.0.2:7946\nalive: c 10.0.0.3:7946\n"
        "not-alive: a\nnot-alive: b\nalive: b 10.0.0.9:7946\nnot-alive: ghost\n"
    )
    state = parse_snapshot(text)
    assert state.failed == (PreviousNode("a", "10.0.0.1:7946", failed=True),)
    assert sorted(p.name for p in state.alive) == ["b", "c"]
    assert parse_snapshot(text + "leave\n").failed == ()
    assert parse_snapshot(text + "leave\n", rejoin_after_leave=True).failed == state.failed


def test_the_rejoin_order_shuffles_alive_members_then_failed_ones_never_ourselves() -> None:
    state = RecoveredState(
        alive=tuple(
            PreviousNode(n, f"10.0.0.{i}:1") for i, n in enumerate(["a", "b", "me", "c", "d"])
        ),
        failed=tuple(PreviousNode(n, f"10.0.1.{i}:1", failed=True) for i, n in enumerate("xyz")),
    )
    plain = rejoin_order(state, "me", random.Random(1))
    assert sorted(p.name for p in plain) == ["a", "b", "c", "d"]
    both = rejoin_order(state, "me", random.Random(1), include_failed=True)
    assert both[:4] == plain
    assert sorted(p.name for p in both[4:]) == ["x", "y", "z"]
    assert all(p.failed for p in both[4:])
    # Go draws the same shuffle of the alive members whether or not failed ones follow.
    orders = {tuple(p.name for p in rejoin_order(state, "me", random.Random(s))) for s in range(20)}
    assert len(orders) > 1


def test_a_snapshotting_node_emits_the_compacted_log_once_it_outgrows_the_threshold() -> None:
    from serf_proto.events import SnapshotAppend
    from serf_proto.serf import SerfConfig, SerfNode

    alive = tuple(PreviousNode(f"n{i}", f"10.0.{i // 200}.{i % 200}:7946") for i in range(3))
    start = RecoveredState(clock=5, alive=alive, size=SNAPSHOT_SIZE_LIMIT - 10)
    config = SerfConfig.build("me", bind=("127.0.0.1", 7946), snapshot=True)
    node = SerfNode(config, now=0.0, rng=random.Random(1), recovered=start)
    appends = [o for o in node.take_outputs() if isinstance(o, SnapshotAppend)]
    t = 0.0
    while not any(a.compact for a in appends) and t < 10.0:
        t += 0.5
        node.handle_timer(t)
        appends += [o for o in node.take_outputs() if isinstance(o, SnapshotAppend)]
    compacted = next(a for a in appends if a.compact)
    assert not any(a.compact for a in appends[: appends.index(compacted)])
    alive_names = {ln.split()[1] for ln in compacted.lines if ln.startswith("alive: ")}
    assert alive_names == {"me", "n0", "n1", "n2"}
    assert compacted.lines[-3].startswith("clock: ")
    assert compacted.lines[-2:] == ("event-clock: 0", "query-clock: 0")
