"""The pure SWIM/Lifeguard formulas reproduce Go memberlist's values (util_test.go etc.)."""

from __future__ import annotations

import pytest
from serf_proto.memberlist import (
    Awareness,
    Suspicion,
    push_pull_scale,
    remaining_suspicion_time,
    retransmit_limit,
    suspicion_timeout,
)


@pytest.mark.parametrize(
    ("n", "expected"),
    [(5, 1.0), (10, 1.0), (50, 1.698), (100, 2.0), (500, 2.698), (1000, 3.0)],
)
def test_suspicion_timeout_matches_go_table(n: int, expected: float) -> None:
    assert suspicion_timeout(3, n, 1.0) / 3 == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("n", "lan_timeout"),
    [(1, 4.0), (3, 4.0), (10, 4.0), (100, 8.0)],
)
def test_lan_suspicion_minimum_follows_the_node_count(n: int, lan_timeout: float) -> None:
    assert suspicion_timeout(4, n, 1.0) == pytest.approx(lan_timeout)


@pytest.mark.parametrize(
    ("mult", "n", "expected"),
    [
        (3, 0, 0),
        (3, 1, 3),
        (3, 99, 6),
        (4, 9, 4),
        (4, 10, 8),
        (4, 99, 8),
        (4, 100, 12),
        (4, 999, 12),
    ],
)
def test_retransmit_limit_matches_go(mult: int, n: int, expected: int) -> None:
    assert retransmit_limit(mult, n) == expected


@pytest.mark.parametrize(
    ("low", "high", "factor"),
    [(0, 32, 1), (33, 64, 2), (65, 128, 3), (129, 256, 4)],
)
def test_push_pull_interval_scales_above_32_nodes(low: int, high: int, factor: int) -> None:
    for n in range(low, high + 1):
        assert push_pull_scale(1.0, n) == factor * 1.0


@pytest.mark.parametrize(
    ("n", "k", "elapsed", "expected"),
    [
        (0, 3, 0.0, 30.0),
        (1, 3, 2.0, 14.0),
        (2, 3, 3.0, 4.81),
        (3, 3, 4.0, -2.0),
        (4, 3, 5.0, -3.0),
        (5, 3, 10.0, -8.0),
    ],
)
def test_remaining_suspicion_time_matches_go_table(
    n: int, k: int, elapsed: float, expected: float
) -> None:
    assert remaining_suspicion_time(n, k, elapsed, 2.0, 30.0) == pytest.approx(expected)


def test_awareness_moves_within_its_bounds_and_scales_timeouts_like_go() -> None:
    steps = [
        (0, 0, 1.0),
        (-1, 0, 1.0),
        (-10, 0, 1.0),
        (1, 1, 2.0),
        (-1, 0, 1.0),
        (10, 7, 8.0),
        (-1, 6, 7.0),
        (-1, 5, 6.0),
        (-1, 4, 5.0),
        (-1, 3, 4.0),
        (-1, 2, 3.0),
        (-1, 1, 2.0),
        (-1, 0, 1.0),
        (-1, 0, 1.0),
    ]
    awareness = Awareness(8)
    for delta, score, timeout in steps:
        awareness.apply_delta(delta)
        assert awareness.score == score
        assert awareness.scale_timeout(1.0) == timeout


def test_a_suspicion_without_expected_confirmations_runs_for_the_minimum() -> None:
    s = Suspicion("me", 0, 0.5, 2.0, start=10.0)
    assert s.deadline == 10.5
    assert not s.confirm("foo", 10.1)


@pytest.mark.parametrize(
    ("accusers", "fresh", "timeout"),
    [
        ([], [], 2.0),
        (["me", "foo"], [False, True], 1.25),
        (["me", "foo", "foo", "foo"], [False, True, False, False], 1.25),
        (["me", "foo", "bar"], [False, True, True], 0.811),
        (["me", "foo", "bar", "baz"], [False, True, True, True], 0.5),
        (["me", "foo", "bar", "baz", "zoo"], [False, True, True, True, False], 0.5),
    ],
)
def test_each_new_accuser_shortens_the_suspicion_timeout(
    accusers: list[str], fresh: list[bool], timeout: float
) -> None:
    s = Suspicion("me", 3, 0.5, 2.0, start=0.0)
    for accuser, expected in zip(accusers, fresh, strict=True):
        assert s.confirm(accuser, 0.0) is expected
    assert s.deadline == pytest.approx(timeout)


def test_a_late_confirmation_makes_the_suspicion_overdue() -> None:
    s = Suspicion("me", 3, 0.5, 2.0, start=0.0)
    assert s.confirm("foo", 1.5)
    assert s.deadline == pytest.approx(1.25)
