"""TimerQueue: named deadlines with replacement, cancellation and deterministic order."""

from __future__ import annotations

from serf_proto.timers import TimerQueue


def test_due_keys_come_out_in_deadline_order_with_ties_in_schedule_order() -> None:
    q = TimerQueue()
    q.schedule("c", 3.0)
    q.schedule("a", 1.0)
    q.schedule("b1", 2.0)
    q.schedule("b2", 2.0)
    assert q.next_deadline() == 1.0
    assert q.pop_due(2.0) == ["a", "b1", "b2"]
    assert q.pop_due(2.5) == []
    assert q.pop_due(10.0) == ["c"]
    assert q.next_deadline() is None


def test_rescheduling_a_key_replaces_its_deadline() -> None:
    q = TimerQueue()
    q.schedule("probe", 1.0)
    q.schedule("probe", 5.0)
    assert q.deadline("probe") == 5.0
    assert q.pop_due(4.0) == []
    assert q.pop_due(5.0) == ["probe"]


def test_a_cancelled_key_never_fires() -> None:
    q = TimerQueue()
    q.schedule(("ack", 1), 1.0)
    assert q.cancel(("ack", 1))
    assert not q.cancel(("ack", 1))
    assert q.next_deadline() is None
    assert q.pop_due(100.0) == []
    assert len(q) == 0


def test_many_replacements_keep_the_heap_small() -> None:
    q = TimerQueue()
    for i in range(10_000):
        q.schedule("k", float(i))
    assert len(q) == 1
    assert len(q._heap) < 300
    assert q.pop_due(1e9) == ["k"]


def test_clear_forgets_everything() -> None:
    q = TimerQueue()
    q.schedule("a", 1.0)
    q.clear()
    assert "a" not in q
    assert q.pop_due(2.0) == []
