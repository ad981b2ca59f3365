"""TransmitLimitedQueue: ordering, packing, retransmit limit and invalidation (Go queue.go)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from serf_proto.broadcast import Broadcast, TransmitLimitedQueue, retransmit_limit
from serf_proto.config import MemberlistConfig
from serf_proto.memberlist import Memberlist, NullDelegate


class Tagged(Broadcast):
    """A plain broadcast that invalidates queued ones with the same tag."""

    def __init__(self, tag: str, message: bytes) -> None:
        super().__init__(message)
        self.tag = tag

    def invalidates(self, other: Broadcast) -> bool:
        return isinstance(other, Tagged) and other.tag == self.tag


def queue(n: int = 1, mult: int = 1) -> TransmitLimitedQueue:
    return TransmitLimitedQueue(mult, lambda: n)


def test_the_largest_message_that_fits_goes_first() -> None:
    q = queue(n=10, mult=3)
    for size in (10, 30, 20):
        q.queue_broadcast(Broadcast(b"x" * size, unique=True))
    assert [len(m) for m in q.get_broadcasts(2, 100)] == [30, 20, 10]


def test_messages_that_do_not_fit_stay_queued() -> None:
    q = queue(n=10, mult=3)
    q.queue_broadcast(Broadcast(b"a" * 60, unique=True))
    q.queue_broadcast(Broadcast(b"b" * 50, unique=True))
    first = q.get_broadcasts(2, 70)
    assert first == [b"a" * 60]
    assert len(q) == 2


def test_fresh_messages_go_before_ones_sent_more_often() -> None:
    q = queue(n=10, mult=3)
    q.queue_broadcast(Broadcast(b"old", unique=True))
    assert q.get_broadcasts(2, 100) == [b"old"]
    q.queue_broadcast(Broadcast(b"new", unique=True))
    assert q.get_broadcasts(2, 7) == [b"new"]


def test_a_message_is_dropped_after_the_retransmit_limit_and_finished_once() -> None:
    finished: list[str] = []
    q = queue(n=9, mult=4)  # limit = 4 * ceil(log10(10)) = 4
    q.queue_broadcast(Broadcast(b"m", name="n1", on_finished=lambda: finished.append("m")))
    sent = 0
    for _ in range(10):
        sent += len(q.get_broadcasts(2, 1400))
    assert sent == 4
    assert finished == ["m"]
    assert len(q) == 0


def test_a_message_never_appears_twice_in_one_packet() -> None:
    q = queue(n=100, mult=4)
    q.queue_broadcast(Broadcast(b"only", unique=True))
    assert q.get_broadcasts(2, 1400) == [b"only"]


def test_a_named_broadcast_replaces_the_queued_one_with_the_same_name() -> None:
    finished: list[str] = []
    q = queue(n=10, mult=3)
    q.queue_broadcast(Broadcast(b"suspect-a", name="a", on_finished=lambda: finished.append("s")))
    q.queue_broadcast(Broadcast(b"alive-b", name="b"))
    q.queue_broadcast(Broadcast(b"alive-a", name="a"))
    assert finished == ["s"]
    assert sorted(q.get_broadcasts(2, 1400)) == [b"alive-a", b"alive-b"]


def test_a_plain_broadcast_invalidates_what_it_says_and_nothing_else() -> None:
    q = queue(n=10, mult=3)
    q.queue_broadcast(Tagged("x", b"x1"))
    q.queue_broadcast(Tagged("y", b"y1"))
    q.queue_broadcast(Broadcast(b"named", name="x"))
    q.queue_broadcast(Tagged("x", b"x2"))
    assert sorted(q.get_broadcasts(2, 1400)) == [b"named", b"x2", b"y1"]


def test_prune_drops_the_most_sent_messages_first() -> None:
    q = queue(n=100, mult=4)
    q.queue_broadcast(Broadcast(b"aa", unique=True))
    q.get_broadcasts(2, 1400)
    q.queue_broadcast(Broadcast(b"bb", unique=True))
    q.prune(1)
    assert q.get_broadcasts(2, 1400) == [b"bb"]


def test_the_limit_follows_the_cluster_size() -> None:
    size = [1]
    q = TransmitLimitedQueue(2, lambda: size[0])
    q.queue_broadcast(Broadcast(b"m", unique=True))
    size[0] = 50  # limit becomes 2 * ceil(log10(51)) = 4
    assert sum(len(q.get_broadcasts(2, 100)) for _ in range(10)) == 4


class Reference:
    """Go's selection rule written the slow, obvious way."""

    def __init__(self, mult: int, n: int) -> None:
        self.limit = retransmit_limit(mult, n)
        self.items: list[list[int]] = []  # [transmits, size, id]
        self.ids = 0

    def queue(self, size: int) -> None:
        self.ids += 1
        self.items.append([0, size, self.ids])

    def get(self, overhead: int, limit: int) -> list[int]:
        used = 0
        picked: list[list[int]] = []
        pool = sorted(self.items, key=lambda it: (it[0], -it[1], -it[2]))
        while True:
            free = limit - used - overhead
            fits = [it for it in pool if it not in picked and it[1] <= free]
            if free <= 0 or not fits:
                break
            best = min(fits, key=lambda it: (it[0], -it[1], -it[2]))
            picked.append(best)
            used += overhead + best[1]
        for it in picked:
            it[0] += 1
            if it[0] >= self.limit:
                self.items.remove(it)
        return [it[2] for it in picked]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("queue"), st.integers(1, 300)),
            st.tuples(st.just("get"), st.integers(0, 900)),
        ),
        max_size=60,
    )
)
def test_the_queue_picks_exactly_what_gos_rule_picks(ops: list[tuple[str, int]]) -> None:
    q = TransmitLimitedQueue(2, lambda: 20)
    ref = Reference(2, 20)
    ids: dict[bytes, int] = {}
    for op, arg in ops:
        if op == "queue":
            msg = (len(ids) + 1).to_bytes(4, "big") + b"x" * (arg - 1 if arg > 4 else 0)
            msg = msg[: max(arg, 4)]
            ids[msg] = len(ids) + 1
            q.queue_broadcast(Broadcast(msg, unique=True))
            ref.queue(len(msg))
        else:
            got = [ids[m] for m in q.get_broadcasts(2, arg)]
            assert got == ref.get(2, arg)
            assert len(q) == len(ref.items)


def test_a_memberlist_can_drop_its_pending_broadcasts_for_a_converged_start() -> None:
    ml = Memberlist(
        MemberlistConfig.lan("a", bind_addr="127.0.0.1", bind_port=7946),
        NullDelegate(),
        now=0.0,
        rng=random.Random(1),
        entropy=random.Random(2).randbytes,
    )
    ml.update_node(0.0)
    queued = ml.queue_depth()
    assert queued >= 1
    assert ml.shared_start().drop_pending_broadcasts() == queued
    assert ml.queue_depth() == 0
