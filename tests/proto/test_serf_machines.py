"""The Serf sub-machines as SerfNode runs them: the query book's owners, timers as data
(stale ones are counted no-ops), the leave phases, and the per-node logger."""

from __future__ import annotations

import logging
import random

import pytest
from serf_proto.config import MemberlistConfig
from serf_proto.events import (
    KeyOpCompleted,
    LeaveCompleted,
    MemberEvent,
    MemberEventType,
    QueryDone,
    QueryResponse,
)
from serf_proto.serf import QueryParams, SerfConfig, SerfNode
from serf_proto.serf.leave import LeaveOp, LeavePhase, timer_applies
from serf_proto.serf.querybook import (
    Answerable,
    QueryBook,
    ResponseVerdict,
    response_verdict,
)
from serf_proto.serf.timers import LeaveBroadcastDone, LeaveDone, LeaveTimeout, QueryDeadline
from serf_proto.types import Address, MemberStatus
from serf_proto.wire import (
    Alive,
    Dead,
    MessageKeyResponse,
    MessageLeave,
    MessageQuery,
    MessageQueryResponse,
    decode_serf_message,
    encode_message,
    encode_serf_message,
)

HERE = Address("127.0.0.1", 18947)
PEER = Address("127.0.0.1", 18946)
LOCALHOST = b"\x7f\x00\x00\x01"
VSN = bytes([1, 5, 2, 2, 5, 4])


def _node(name: str = "b") -> SerfNode:
    ml = MemberlistConfig.lan(name, bind_addr=HERE.host, bind_port=HERE.port)
    node = SerfNode(
        SerfConfig(memberlist=ml), now=0.0, rng=random.Random(4), entropy=random.Random(5).randbytes
    )
    node.take_outputs()
    return node


def _serf(node: SerfNode, msg: bytes, now: float) -> list[object]:
    node.receive_packet(PEER, b"\x08" + msg, now)
    return list(node.take_outputs())


def _open_query(node: SerfNode) -> MessageQuery:
    """The query the node just queued for gossip."""
    for raw in node.memberlist.delegate.get_broadcasts(2, 65536, 0.0):
        msg = decode_serf_message(raw)
        if isinstance(msg, MessageQuery):
            return msg
    raise AssertionError("no query queued")


def _run_until(node: SerfNode, until: float) -> list[object]:
    out: list[object] = []
    now = 0.0
    while True:
        nxt = node.next_timer()
        if nxt is None or nxt > until:
            return out
        now = max(now, nxt)
        node.handle_timer(now)
        out += node.take_outputs()


def test_answers_to_a_user_query_reach_the_application_and_its_deadline_closes_it() -> None:
    node = _node()
    op = node.query("deploy", b"", QueryParams(timeout=2.0), 1.0)
    q = _open_query(node)
    answer = MessageQueryResponse(q.ltime, q.id, "c", 0, b"ok")
    assert QueryResponse(op, "c", b"ok") in _serf(node, encode_serf_message(answer), 1.1)
    assert QueryDone(op) in _run_until(node, 3.5)
    assert node.counts.stale_timers == 0


def test_answers_to_a_key_operation_feed_its_tally_not_the_application() -> None:
    node = _node()
    op = node.list_keys(1.0)
    q = _open_query(node)
    body = encode_serf_message(MessageKeyResponse(True, "", ("k1",), "k1"))
    out = _serf(node, encode_serf_message(MessageQueryResponse(q.ltime, q.id, "c", 0, body)), 1.1)
    assert not [o for o in out if isinstance(o, QueryResponse)]
    done = [o for o in out if isinstance(o, KeyOpCompleted)]  # one member: complete at once
    assert len(done) == 1 and done[0].op == op and done[0].num_resp == 1
    assert done[0].keys == {"k1": 1}
    assert not [o for o in _run_until(node, 30.0) if isinstance(o, QueryDone)]


def test_a_reply_naming_the_right_time_but_another_id_is_dropped() -> None:
    node = _node()
    node.query("deploy", b"", QueryParams(timeout=2.0), 1.0)
    q = _open_query(node)
    _serf(node, encode_serf_message(MessageQueryResponse(q.ltime, q.id + 1, "c", 0)), 1.1)
    assert node.dropped == {"reply_id_mismatch": 1}


def test_a_prune_timer_for_a_member_already_erased_is_a_counted_no_op() -> None:
    node = _node()
    node.receive_packet(PEER, encode_message(Alive(1, "c", LOCALHOST, 18946, b"", VSN)), 1.0)
    node.take_outputs()
    _serf(node, encode_serf_message(MessageLeave(5, "c")), 1.1)  # c is leaving
    node.force_leave("c", True, 1.2)  # prune once the leave has propagated: a timer
    node.receive_packet(PEER, encode_message(Dead(1, "c", "c")), 1.3)  # c left
    node.force_leave("c", True, 1.4)  # left now: erased at once
    reaps = [
        o
        for o in node.take_outputs()
        if isinstance(o, MemberEvent) and o.type is MemberEventType.REAP
    ]
    assert [m.name for e in reaps for m in e.members] == ["c"]
    assert node.counts.stale_timers == 0
    _run_until(node, 30.0)
    assert node.counts.stale_timers == 1
    assert [m.name for m in node.members() if m.status != MemberStatus.ALIVE] == []


def test_a_lone_leave_skips_the_broadcast_phase_and_completes_once() -> None:
    node = _node()
    op = node.leave(1.0)  # nobody to tell: straight to memberlist's leave
    assert [o for o in _run_until(node, 30.0) if isinstance(o, LeaveCompleted)] == [
        LeaveCompleted(op, None)
    ]
    assert node.counts.stale_timers == 0
    assert timer_applies(None, LeaveDone(op)) is False


def test_the_leave_verdict_follows_op_and_phase() -> None:
    broadcasting = LeaveOp(3, LeavePhase.BROADCAST)
    propagating = LeaveOp(3, LeavePhase.PROPAGATE)
    assert timer_applies(broadcasting, LeaveTimeout(3))
    assert timer_applies(broadcasting, LeaveBroadcastDone(3))
    assert not timer_applies(broadcasting, LeaveTimeout(2))
    assert not timer_applies(propagating, LeaveTimeout(3))
    assert timer_applies(propagating, LeaveDone(3))


def test_timers_are_values_equal_timers_replace_each_other() -> None:
    assert QueryDeadline(4) == QueryDeadline(4) and hash(QueryDeadline(4)) == hash(QueryDeadline(4))
    assert QueryDeadline(4) != QueryDeadline(5)
    with pytest.raises(AttributeError):
        QueryDeadline(4).op = 5  # type: ignore[misc]


def test_the_book_bounds_answerable_queries_and_sweeps_expired_ones() -> None:
    book = QueryBook()
    assert not book.add_answerable(1, 10, Answerable(5.0, PEER, "a", 0), bound=2)
    assert not book.add_answerable(2, 11, Answerable(9.0, PEER, "a", 0), bound=2)
    assert book.add_answerable(3, 12, Answerable(9.0, PEER, "a", 0), bound=2)  # evicts (1, 10)
    assert book.answerable(1, 10) is None and book.answerable(2, 11) is not None
    book.expire(9.5)
    assert book.answerable(2, 11) is None and book.answerable(3, 12) is None
    assert response_verdict(None, 1) is ResponseVerdict.UNKNOWN_QUERY


def test_every_serf_log_record_names_its_node(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="serf_proto.serf"):
        node = _node("a")
        _serf(node, b"\x03\xc1", 1.0)
    serf = [r for r in caplog.records if r.name == "serf_proto.serf"]
    assert serf and all(getattr(r, "node", None) == "a" for r in serf)
    texts = [r.getMessage() for r in serf]
    assert "EventMemberJoin: a 127.0.0.1" in texts  # Go's text, unchanged
    assert any(t.startswith("Error decoding message type 3") for t in texts)
