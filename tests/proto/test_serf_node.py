"""A single SerfNode driven by hand: Go's messages in, the documented reactions out."""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path
from typing import Any

import pytest
from serf_proto.config import MemberlistConfig
from serf_proto.drops import DropReason
from serf_proto.errors import InvalidState, PayloadTooLarge, UnknownQuery
from serf_proto.events import LeaveCompleted, MemberEventType, Query, UserEvent
from serf_proto.outputs import SendPacket
from serf_proto.serf import QueryParams, RecoveredState, SerfConfig, SerfNode, SerfState
from serf_proto.types import Address, MemberStatus
from serf_proto.wire import (
    MessageJoin,
    MessageLeave,
    MessagePushPull,
    MessageQuery,
    MessageQueryResponse,
    MessageUserEvent,
    TagFilter,
    decode_serf_message,
    encode_filter,
    encode_serf_message,
)

VECTORS = Path(__file__).parent / "vectors" / "serf"
HERE = Address("127.0.0.1", 18947)
PEER = Address("127.0.0.1", 18946)


def _vector(name: str) -> bytes:
    return bytes.fromhex((VECTORS / name).read_text().strip())


def _node(name: str = "b", **overrides: Any) -> SerfNode:
    ml = MemberlistConfig.lan(name, bind_addr=HERE.host, bind_port=HERE.port)
    config = SerfConfig(memberlist=ml, **overrides)
    node = SerfNode(config, now=0.0, rng=random.Random(4), entropy=random.Random(5).randbytes)
    node.take_outputs()
    return node


def _gossip(node: SerfNode, serf_msg: bytes, now: float = 1.0) -> list[object]:
    """Deliver one Serf message the way memberlist does (a user message datagram)."""
    node.receive_packet(PEER, b"\x08" + serf_msg, now)
    return list(node.take_outputs())


def _queued(node: SerfNode) -> list[bytes]:
    return node.memberlist.delegate.get_broadcasts(2, 65536, 0.0)


def test_a_fresh_node_starts_its_clocks_at_one_and_a_snapshot_resumes_past_it() -> None:
    fresh = _node()
    c = fresh.clocks()
    assert (c.member, c.event, c.query) == (1, 1, 1)
    ml = MemberlistConfig.lan("b", bind_addr=HERE.host, bind_port=HERE.port)
    restored = SerfNode(
        SerfConfig(memberlist=ml),
        now=0.0,
        rng=random.Random(1),
        recovered=RecoveredState(clock=8, event_clock=1, query_clock=2),
    )
    c = restored.clocks()
    assert (c.member, c.event, c.query) == (9, 2, 3)


def test_a_node_announces_itself_as_an_alive_member() -> None:
    ml = MemberlistConfig.lan("b", bind_addr=HERE.host, bind_port=HERE.port)
    node = SerfNode(SerfConfig(memberlist=ml, tags={"role": "db"}), now=0.0, rng=random.Random(1))
    outs = node.take_outputs()
    joins = [o for o in outs if getattr(o, "type", None) is MemberEventType.JOIN]
    assert len(joins) == 1
    me = node.local_member()
    assert me.name == "b" and me.status is MemberStatus.ALIVE and me.tags == {"role": "db"}
    assert me.delegate == (2, 5, 4) and me.protocol[2] == 2
    stats = node.stats()
    assert stats["members"] == "1" and stats["encrypted"] == "false"
    assert all(isinstance(v, str) for v in stats.values())


def test_oversized_user_events_are_refused_before_any_state_change() -> None:
    node = _node()
    with pytest.raises(PayloadTooLarge):
        node.user_event("big", b"x" * 510, True, 0.5)
    with pytest.raises(PayloadTooLarge):
        node.user_event("e", b"x" * 500, True, 0.5)  # fits before encoding, not after
    assert node.clocks().event == 1 and _queued(node) == []


def test_a_user_event_is_delivered_locally_and_gossiped_with_the_event_clock() -> None:
    node = _node()
    node.user_event("deploy", b"v1", True, 0.5)
    events = [o for o in node.take_outputs() if isinstance(o, UserEvent)]
    assert events == [UserEvent(1, "deploy", b"v1", True)]
    (queued,) = [decode_serf_message(q) for q in _queued(node)]
    assert queued == MessageUserEvent(1, "deploy", b"v1", True)
    assert node.clocks().event == 2


def test_a_go_user_event_is_delivered_once_and_rebroadcast_once() -> None:
    node = _node()
    raw = _vector("user_event.hex")
    first = [o for o in _gossip(node, raw) if isinstance(o, UserEvent)]
    again = [o for o in _gossip(node, raw) if isinstance(o, UserEvent)]
    assert first == [UserEvent(1, "deploy", b"v1-payload", True)] and again == []
    assert _queued(node) == [raw]


def test_garbage_serf_messages_are_dropped_and_counted() -> None:
    node = _node()
    _gossip(node, b"\x03\xc1")
    _gossip(node, b"\x2a\x80")
    _gossip(node, encode_serf_message(MessageQueryResponse(5, 1, "x", 0)))
    assert node.dropped == {
        "malformed": 1,
        "unknown_message_type": 1,
        "reply_for_unknown_query": 1,
    }
    assert node.counts.dropped[DropReason.REPLY_FOR_UNKNOWN_QUERY] == 1
    assert node.state is SerfState.ALIVE


def test_a_query_with_an_empty_filter_is_dropped_counted_and_never_gossiped_on() -> None:
    node = _node()
    wire = decode_serf_message(_vector("query.hex"))
    assert isinstance(wire, MessageQuery)
    bad = encode_serf_message(dataclasses.replace(wire, ltime=wire.ltime + 1, filters=(b"",)))
    outs = _gossip(node, bad)
    assert [o for o in outs if isinstance(o, (Query, SendPacket))] == []
    assert node.dropped == {"bad_query_filter": 1}
    assert _queued(node) == []  # Go Serf 0.9.4 panics on it: never passed on


def test_a_query_whose_tag_expression_go_refuses_is_dropped_counted_and_never_gossiped_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = _node(tags={"role": "web"})
    wire = decode_serf_message(_vector("query.hex"))
    assert isinstance(wire, MessageQuery)
    for ltime, expr in ((1, r"\C"), (2, "(?<r>web)"), (3, "(?=web)")):
        query = dataclasses.replace(
            wire,
            ltime=wire.ltime + ltime,
            id=ltime,
            filters=(encode_filter(TagFilter("role", expr)),),
        )
        raw = encode_serf_message(query)
        outs = _gossip(node, raw)
        assert [o for o in outs if isinstance(o, (Query, SendPacket))] == []
        assert raw not in _queued(node)
    assert node.dropped == {"bad_query_filter": 3}
    assert "error parsing regexp: invalid escape sequence: `\\C`" in caplog.text


def test_a_hostile_tag_expression_is_matched_in_linear_time() -> None:
    node = _node(tags={"role": "a" * 400 + "b"})  # near the 512-byte tag limit
    wire = decode_serf_message(_vector("query.hex"))
    assert isinstance(wire, MessageQuery)
    hostile = (encode_filter(TagFilter("role", "(a+)+$")),)
    query = dataclasses.replace(wire, ltime=wire.ltime + 1, filters=hostile)
    started = time.perf_counter()
    outs = _gossip(node, encode_serf_message(query))
    assert time.perf_counter() - started < 0.5  # Python's backtracking re: longer than a lifetime
    assert [o for o in outs if isinstance(o, Query)] == []
    answered = dataclasses.replace(
        query, ltime=wire.ltime + 2, id=9, filters=(encode_filter(TagFilter("role", "(a+)+b$")),)
    )
    assert [o for o in _gossip(node, encode_serf_message(answered)) if isinstance(o, Query)]


def test_old_events_are_refused_and_counted() -> None:
    node = _node(event_buffer=4)
    for ltime in range(1, 12):
        _gossip(node, encode_serf_message(MessageUserEvent(ltime, f"e{ltime}", b"", False)))
    outs = _gossip(node, encode_serf_message(MessageUserEvent(2, "late", b"", False)))
    assert [o for o in outs if isinstance(o, UserEvent)] == []
    assert node.dropped == {"old_event": 1}


def test_a_go_query_is_acked_and_answered_once_before_its_deadline() -> None:
    node = _node()
    raw = _vector("query.hex")
    wire = decode_serf_message(raw)
    assert isinstance(wire, MessageQuery)
    outs = _gossip(node, raw, now=1.0)
    acks = [o for o in outs if isinstance(o, SendPacket)]
    assert len(acks) == 1 and acks[0].addr == PEER
    ack = decode_serf_message(acks[0].data[1:])
    assert isinstance(ack, MessageQueryResponse) and ack.flags == 1 and ack.from_node == "b"
    (query,) = [o for o in outs if isinstance(o, Query)]
    assert query.deadline == pytest.approx(1.0 + wire.timeout / 1e9)
    node.respond(query, b"up 3 days", 1.5)
    (resp,) = [o for o in node.take_outputs() if isinstance(o, SendPacket)]
    body = decode_serf_message(resp.data[1:])
    assert isinstance(body, MessageQueryResponse) and body.payload == b"up 3 days"
    with pytest.raises(UnknownQuery):
        node.respond(query, b"again", 1.6)


def test_answers_past_the_deadline_or_over_the_size_limit_are_refused() -> None:
    node = _node()
    (query,) = [o for o in _gossip(node, _vector("query.hex")) if isinstance(o, Query)]
    with pytest.raises(PayloadTooLarge):
        node.respond(query, b"x" * 1100, 1.5)
    with pytest.raises(InvalidState):
        node.respond(query, b"late", query.deadline + 0.1)


def test_queries_need_protocol_4_and_must_fit_the_size_limit() -> None:
    with pytest.raises(InvalidState):
        _node(protocol_version=3).query("q", b"", QueryParams(), 0.5)
    node = _node()
    with pytest.raises(PayloadTooLarge):
        node.query("q", b"x" * 1100, QueryParams(), 0.5)
    assert node.clocks().query == 1


def test_a_query_uses_the_default_timeout_and_is_answered_by_its_sender_too() -> None:
    node = _node()
    node.query("uptime", b"", QueryParams(request_ack=True), 0.5)
    outs = node.take_outputs()
    (msg,) = [decode_serf_message(q) for q in _queued(node)]
    assert isinstance(msg, MessageQuery)
    assert msg.timeout == 3_200_000_000 and msg.flags == 1 and msg.source_node == "b"
    assert any(isinstance(o, Query) for o in outs)
    assert any(isinstance(o, SendPacket) and o.addr == HERE for o in outs)  # self-ack


def test_tags_over_the_meta_limit_are_refused() -> None:
    node = _node()
    with pytest.raises(PayloadTooLarge):
        node.set_tags({"k": "v" * 600}, 0.5)
    assert node.tags == {}


def test_an_old_leave_intent_about_ourselves_is_refuted_with_a_join_intent() -> None:
    node = _node()
    _gossip(node, encode_serf_message(MessageLeave(10, "b")))
    assert node.state is SerfState.ALIVE
    assert node.local_member().status is MemberStatus.ALIVE
    (refute,) = [decode_serf_message(q) for q in _queued(node)]
    assert isinstance(refute, MessageJoin) and refute.node == "b" and refute.ltime >= 11


def test_intents_for_unknown_nodes_are_buffered_and_gossiped_once() -> None:
    node = _node()
    raw = encode_serf_message(MessageJoin(3, "zed"))
    _gossip(node, raw)
    _gossip(node, raw)
    assert _queued(node) == [raw]
    assert node.clocks().member == 4


def test_go_push_pull_state_delivers_its_events_and_witnesses_its_clocks() -> None:
    node = _node()
    node.memberlist.delegate.merge_remote_state(
        _vector("pushpull_state_events_left.hex"), False, 0.0
    )
    events = [o for o in node.take_outputs() if isinstance(o, UserEvent)]
    assert len(events) == 3
    c = node.clocks()
    assert c.event >= 3 and c.member > 1


def test_our_push_pull_state_has_go_shape() -> None:
    node = _node()
    state = node.memberlist.delegate.local_state(False, 0.0)
    msg = decode_serf_message(state)
    assert isinstance(msg, MessagePushPull)
    assert len(msg.events) == 512 and msg.left_members == ()
    assert len(state) == len(_vector("pushpull_state_initial.hex"))


def test_the_ack_payload_is_our_coordinate_at_the_origin() -> None:
    node = _node()
    assert node.memberlist.delegate.ack_payload(0.0) == _vector(
        "ack_payload_initial_coordinate.hex"
    )
    assert _node(disable_coordinates=True).memberlist.delegate.ack_payload(0.0) == b""


def test_leaving_alone_completes_after_the_propagation_delay() -> None:
    node = _node()
    op = node.leave(1.0)
    with pytest.raises(InvalidState):
        node.leave(1.1)
    done: list[object] = []
    now = 1.0
    while not done and now < 20.0:
        nxt = node.next_timer()
        assert nxt is not None
        now = max(now, nxt)
        node.handle_timer(now)
        done = [o for o in node.take_outputs() if isinstance(o, LeaveCompleted)]
    assert done == [LeaveCompleted(op, None)]
    assert node.state is SerfState.LEFT
    assert node.leave(now) == op + 1
    assert LeaveCompleted(op + 1) in node.take_outputs()


def test_commands_after_shutdown_are_refused() -> None:
    node = _node()
    node.shutdown(1.0)
    assert node.state is SerfState.SHUTDOWN
    with pytest.raises(InvalidState):
        node.user_event("e", b"", False, 1.1)
    with pytest.raises(InvalidState):
        node.query("q", b"", QueryParams(), 1.1)
    with pytest.raises(InvalidState):
        node.set_tags({"a": "b"}, 1.1)
    with pytest.raises(InvalidState):
        node.join([PEER], 1.1)
    with pytest.raises(InvalidState):
        node.leave(1.1)
    assert node.next_timer() is None


def test_member_events_are_logged_with_gos_texts(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="serf_proto.serf"):
        _node("a")
    assert "EventMemberJoin: a 127.0.0.1" in [r.getMessage() for r in caplog.records]
