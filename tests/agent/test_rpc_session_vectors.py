"""Golden tests: the sans-IO RPC session replays transcripts captured from Go's agent.

Every transcript in ``vectors/rpc`` (see its README) is fed frame by frame into an
``RpcSession``; requests that need the agent are answered from the transcript's own data (the
members, stats and coordinates Go reported), and what the session writes must decode to
exactly what Go wrote, with header bytes identical. No sockets, no event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from serf_agent.rpc.session import (
    NEED_DATA,
    CloseConnection,
    CoordinateRequest,
    EventRequest,
    ForceLeaveRequest,
    JoinRequest,
    KeyRequest,
    LeaveRequest,
    MembersRequest,
    QueryRequest,
    Reply,
    RespondRequest,
    RpcSession,
    SessionEvent,
    StartMonitor,
    StatsRequest,
    StopMonitor,
    TagsRequest,
)
from serf_proto.events import KeyOpCompleted, Query, UserEvent
from serf_proto.types import Address, Member, MemberStatus

VECTORS = Path(__file__).parent / "vectors" / "rpc"
CLOSED = b"<closed>"


def load(name: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = json.loads((VECTORS / f"{name}.json").read_text())["frames"]
    return frames


def _unpack(data: bytes) -> list[object]:
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(data)
    return list(unpacker)


def members_from(obj: dict[str, Any]) -> list[Member]:
    """Our Member values for the records Go sent (tags keep Go's key order)."""
    return [
        Member(
            m["Name"],
            Address(".".join(str(b) for b in m["Addr"]), m["Port"]),
            dict(m["Tags"]),
            MemberStatus[m["Status"].upper()],
            (m["ProtocolMin"], m["ProtocolMax"], m["ProtocolCur"]),
            (m["DelegateMin"], m["DelegateMax"], m["DelegateCur"]),
        )
        for m in obj["Members"]
    ]


def cluster_members() -> list[Member]:
    frames = load("01-handshake-members")
    return members_from(_unpack(bytes.fromhex(frames[-1]["hex"]))[0])  # type: ignore[arg-type]


Perform = Callable[[RpcSession, SessionEvent], bytes]


def replay(
    name: str, perform: Perform | None = None, auth_key: str | None = None
) -> tuple[list[bytes], list[bytes]]:
    """Feed the transcript's client frames; return (what Go wrote, what we wrote) per frame."""
    session = RpcSession(auth_key=auth_key)
    expected: list[bytes] = []
    produced = b""
    for frame in load(name):
        if frame["dir"] == "recv":
            expected.append(bytes.fromhex(frame["hex"]))
        elif frame["dir"] == "note" and "closed" in frame["text"]:
            expected.append(CLOSED)
        elif frame["dir"] == "send":
            session.receive_data(bytes.fromhex(frame["hex"]))
            while (event := session.next_event(0.0)) is not NEED_DATA:
                if isinstance(event, Reply):
                    produced += event.data
                elif isinstance(event, CloseConnection):
                    produced += event.data + CLOSED
                    break
                else:
                    assert perform is not None, f"unexpected request {event!r}"
                    produced += perform(session, event)
    return expected, _split(produced)


def _split(data: bytes) -> list[bytes]:
    """Split our output into msgpack objects, keeping the close markers."""
    out: list[bytes] = []
    for part in data.split(CLOSED):
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(part)
        pos = 0
        for _ in unpacker:
            end = unpacker.tell()
            out.append(part[pos:end])
            pos = end
        out.append(CLOSED)
    return out[:-1]


def assert_same(expected: list[bytes], produced: list[bytes]) -> None:
    """Same objects in the same order; headers (and every Go struct) byte-identical."""
    assert [_obj(b) for b in produced] == [_obj(b) for b in expected]
    for ours, gos in zip(produced, expected, strict=True):
        obj = _obj(gos)
        if isinstance(obj, dict) and set(obj) <= {"Error", "Seq", "Num", "Log", "From", "Type"}:
            assert ours == gos


def _obj(data: bytes) -> object:
    return "<closed>" if data == CLOSED else _unpack(data)[0]


@pytest.mark.parametrize(
    "name",
    [
        "02-handshake-errors",
        "03-handshake-required",
        "04-unsupported-command",
        "06-members-filtered-bad-regex",
        "11-force-leave",
    ],
)
def test_protocol_only_transcripts_replay_byte_for_byte(name: str) -> None:
    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        assert isinstance(event, ForceLeaveRequest)
        return session.reply(event.seq)

    expected, produced = replay(name, perform)
    assert produced == expected


def test_auth_transcripts_refuse_before_auth_and_answer_the_unread_body_twice() -> None:
    stats = _unpack(bytes.fromhex(load("12-auth")[-1]["hex"]))[0]

    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        assert isinstance(event, StatsRequest)
        return session.reply_stats(event.seq, stats)  # type: ignore[arg-type]

    expected, produced = replay("12-auth", perform, auth_key="s3cret")
    assert produced == expected
    expected, produced = replay("13-auth-required-with-body", auth_key="s3cret")
    assert produced == expected


def members_perform(members: list[Member]) -> Perform:
    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        if isinstance(event, MembersRequest):
            chosen = members if event.filter is None else event.filter.select(members)
            return session.reply_members(event.seq, chosen)
        if isinstance(event, TagsRequest):
            local = members[0]
            members[0] = Member(
                local.name,
                local.addr,
                event.merged(local.tags),
                local.status,
                local.protocol,
                local.delegate,
            )
            return session.reply(event.seq)
        raise AssertionError(event)

    return perform


@pytest.mark.parametrize("name", ["01-handshake-members", "05-members-filtered", "09-tags"])
def test_member_transcripts_match_go_including_anchored_filters(name: str) -> None:
    expected, produced = replay(name, members_perform(cluster_members()))
    assert_same(expected, produced)


def test_event_transcript_applies_the_size_limit_and_accepts_str_payloads() -> None:
    seen: list[tuple[str, bytes, bool]] = []

    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        assert isinstance(event, EventRequest)
        if len(event.name) + len(event.payload) > 512:
            return session.reply(
                event.seq, "user event exceeds configured limit of 512 bytes before encoding"
            )
        seen.append((event.name, event.payload, event.coalesce))
        return session.reply(event.seq)

    expected, produced = replay("07-event", perform)
    assert produced == expected
    assert seen == [
        ("deploy", b"v1.2.3", False),
        ("strpayload", b"sent-as-str", True),
        ("nopayload", b"", False),
    ]


def test_join_transcript_sends_num_on_success_and_on_failure() -> None:
    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        assert isinstance(event, JoinRequest)
        if event.existing == ["127.0.0.1:19947"] and not event.replay:
            return session.reply_join(event.seq, 1)
        assert event.replay
        return session.reply_join(
            event.seq,
            0,
            "1 error occurred:\n\t* Failed to join 127.0.0.1: dial tcp 127.0.0.1:19999: connect: connection refused\n\n",
        )

    expected, produced = replay("08-join", perform)
    assert produced == expected


class Coord:
    def __init__(self, c: dict[str, Any]) -> None:
        self.vec, self.error = c["Vec"], c["Error"]
        self.adjustment, self.height = c["Adjustment"], c["Height"]


def test_stats_and_coordinate_transcript_encodes_floats_and_nil_vec_like_go() -> None:
    frames = load("10-stats-get-coordinate")
    stats = _unpack(bytes.fromhex(frames[5]["hex"]))[0]
    coord = _unpack(bytes.fromhex(frames[9]["hex"]))[0]

    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        if isinstance(event, StatsRequest):
            return session.reply_stats(event.seq, stats)  # type: ignore[arg-type]
        assert isinstance(event, CoordinateRequest)
        known = Coord(coord["Coord"]) if event.node == "n2" else None  # type: ignore[index]
        return session.reply_coordinate(event.seq, known)

    expected, produced = replay("10-stats-get-coordinate", perform)
    assert produced == expected


def test_query_transcripts_refuse_the_internal_prefix_but_allow_bare_serf_ping() -> None:
    started: list[QueryRequest] = []

    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        assert isinstance(event, QueryRequest)
        started.append(event)
        return session.reply(event.seq) + session.query_done(event.seq)

    _expected, produced = replay("16-query-filters", perform)
    objs = [_obj(b) for b in produced]
    assert objs[1] == {"Error": "Queries cannot contain the '_serf_' prefix", "Seq": 2}
    assert [q.name for q in started] == ["_serf_ping", "q2", "q3"]
    assert started[1].filter_tags == {"role": "w.*"} and started[1].request_ack
    assert started[1].timeout == 1.0
    assert started[2].filter_nodes == ["n2", "n3"] and not started[2].request_ack


def test_query_records_encode_exactly_like_the_originator_transcript() -> None:
    from serf_proto.events import QueryAck, QueryResponse

    session = RpcSession()
    for frame in load("15-query-originator"):
        if frame["dir"] != "recv":
            continue
        obj = _obj(bytes.fromhex(frame["hex"]))
        if isinstance(obj, dict) and "Type" in obj:
            if obj["Type"] == "ack":
                ours = session.query_record(4, QueryAck(0, obj["From"]))
            elif obj["Type"] == "response":
                ours = session.query_record(4, QueryResponse(0, obj["From"], obj["Payload"]))
            else:
                ours = session.query_done(4)
            assert ours[13:] == bytes.fromhex(frame["hex"])


def test_stream_transcript_filters_numbers_queries_and_routes_respond() -> None:
    session = RpcSession(auth_key="s3cret")
    frames = load("14-stream-query-respond-streamer")
    produced: list[object] = []
    answered: list[tuple[int, bytes]] = []

    def feed(upto: int, start: int) -> None:
        for frame in frames[start:upto]:
            if frame["dir"] == "send":
                session.receive_data(bytes.fromhex(frame["hex"]))
                while (event := session.next_event(10.0)) is not NEED_DATA:
                    if isinstance(event, Reply):
                        produced.extend(_unpack(event.data))
                    else:
                        assert isinstance(event, RespondRequest)
                        first = not answered
                        answered.append((event.query.id, event.payload))
                        error = "" if first else "response already sent"
                        produced.extend(_unpack(session.reply_respond(event.seq, error)))

    feed(18, 0)
    deploy = UserEvent(4, "deploy", b"abc123", False)
    other = UserEvent(5, "other", b"zzz", False)
    query = Query(1, 99, "q1", b"hello", "n2", Address("127.0.0.1", 19947), deadline=20.0)
    records = [r for e in (deploy, other, query) for _, r in session.event_records(e, 10.0)]
    for record in records:
        produced.extend(_unpack(record))
    feed(len(frames), 18)
    expected = [_obj(bytes.fromhex(f["hex"])) for f in frames if f["dir"] == "recv"]
    # Records of different streams are not ordered relative to each other: compare per Seq.
    assert sorted(map(repr, produced)) == sorted(map(repr, expected))
    assert answered == [(99, b"n3-answer"), (99, b"second")]


def test_monitor_transcript_filters_levels_and_refuses_a_second_monitor() -> None:
    frames = load("17-monitor")
    lines = [
        _obj(bytes.fromhex(f["hex"]))["Log"]
        for f in frames  # type: ignore[index]
        if f["dir"] == "recv" and "Log" in _obj(bytes.fromhex(f["hex"]))
    ]  # type: ignore[operator]
    backlog = lines[1:]  # what the INFO monitor replayed = the agent's ring buffer

    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        if isinstance(event, StartMonitor):
            return event.data + b"".join(r for line in backlog if (r := session.log_record(line)))
        assert isinstance(event, StopMonitor)
        return event.data

    expected, produced = replay("17-monitor", perform)
    assert produced == expected


def test_keys_transcript_always_sends_the_body_and_derives_failure_summaries() -> None:
    frames = load("18-keys")
    bodies = [_obj(bytes.fromhex(f["hex"])) for f in frames if f["dir"] == "recv"]
    # The bad-base64 reply (all zeros) comes from the session itself, not from the agent.
    results = [b for b in bodies if isinstance(b, dict) and b.get("NumNodes")]
    it = iter(results)

    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        assert isinstance(event, KeyRequest)
        body = next(it)
        assert isinstance(body, dict)
        result = KeyOpCompleted(
            0,
            event.op,
            body["NumNodes"],
            body["NumResp"],
            body["NumErr"],
            body["Messages"],
            body["Keys"] or {},
        )
        return session.reply_keys(event.seq, result)

    expected, produced = replay("18-keys", perform)
    assert_same(expected, produced)


def test_leave_transcript_hands_leave_to_the_binding() -> None:
    def perform(session: RpcSession, event: SessionEvent) -> bytes:
        if isinstance(event, TagsRequest):
            return session.reply(event.seq)
        assert isinstance(event, LeaveRequest)
        return session.reply(event.seq)

    expected, produced = replay("20-leave", perform)
    # The binding, not the session, closes the socket after leave (it shuts the agent down).
    assert expected[-1] == CLOSED
    assert produced == expected[:-1]


def test_requests_buffered_before_eof_are_still_answered() -> None:
    session = RpcSession()
    session.receive_data(
        msgpack.packb({"Command": "handshake", "Seq": 1}) + msgpack.packb({"Version": 1})
    )
    session.receive_data(msgpack.packb({"Command": "stats", "Seq": 2}))
    session.receive_data(b"")
    assert session.next_event(0.0) == Reply(b"\x82\xa5Error\xa0\xa3Seq\x01")
    assert session.next_event(0.0) == StatsRequest(2)
    assert session.next_event(0.0) == CloseConnection(b"", None)


def test_an_oversized_request_closes_the_session_without_buffering_it() -> None:
    session = RpcSession(max_request_bytes=1024)
    session.receive_data(b"\xc6\xff\xff\xff\xff")
    assert session.next_event(0.0) is NEED_DATA
    session.receive_data(b"\x00" * 2048)
    event = session.next_event(0.0)
    assert isinstance(event, CloseConnection) and event.data == b""
    assert event.log_message == "failed to decode request header: request exceeds 1024 bytes"
