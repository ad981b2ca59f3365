"""Pure pieces of the Serf layer: clocks, rings, filters, coalescers, member table, keys."""

from __future__ import annotations

import base64

import pytest
from serf_proto.errors import DecodeError
from serf_proto.events import MemberEvent, MemberEventType, UserEvent
from serf_proto.goregex import GoRegexError
from serf_proto.serf.coalesce import MemberEventCoalescer, UserEventCoalescer
from serf_proto.serf.keymanager import (
    InvalidKeyError,
    KeyOp,
    KeyOpAggregate,
    decode_key,
    encode_key_request,
    fit_key_list,
    handle_key_request,
)
from serf_proto.serf.lamport import LamportClock
from serf_proto.serf.members import MemberTable
from serf_proto.serf.query import (
    QueryBuffer,
    QueryCollector,
    QueryParams,
    QueryVerdict,
    default_query_timeout,
    filters_match,
)
from serf_proto.serf.user_events import EventBuffer, EventVerdict
from serf_proto.types import Address, Member, MemberStatus
from serf_proto.wire import (
    MessageKeyResponse,
    NodeFilter,
    TagFilter,
    encode_filter,
    encode_serf_message,
)

ADDR = Address("10.0.0.1", 7946)
VSN = (1, 5, 2)
DVSN = (2, 5, 4)

# -- Lamport clocks --------------------------------------------------------------------------


def test_a_clock_witnessing_a_later_time_jumps_past_it_and_never_goes_back() -> None:
    c = LamportClock()
    assert c.increment() == 1
    c.witness(8)
    assert c.time() == 9
    c.witness(3)
    assert c.time() == 9
    c.witness(9)
    assert c.time() == 10


# -- event ring ------------------------------------------------------------------------------


def test_the_event_ring_delivers_once_and_tells_duplicates_by_name_and_payload() -> None:
    ring = EventBuffer(4)
    assert ring.admit(1, "deploy", b"v1", 2) is EventVerdict.NEW
    assert ring.admit(1, "deploy", b"v1", 2) is EventVerdict.DUPLICATE
    assert ring.admit(1, "deploy", b"v2", 2) is EventVerdict.NEW
    assert ring.admit(1, "other", b"v1", 2) is EventVerdict.NEW
    slots = ring.snapshot()
    assert len(slots) == 4
    slot = slots[1]
    assert slot is not None and slot.ltime == 1 and len(slot.events) == 3


def test_the_event_ring_refuses_events_older_than_the_ring_or_the_minimum_time() -> None:
    ring = EventBuffer(4, min_time=3)
    assert ring.admit(2, "x", b"", 3) is EventVerdict.BEFORE_MIN_TIME
    assert ring.admit(4, "x", b"", 10) is EventVerdict.TOO_OLD
    assert ring.admit(6, "x", b"", 10) is EventVerdict.NEW


def test_a_new_time_in_a_reused_slot_replaces_the_old_events() -> None:
    ring = EventBuffer(4)
    ring.admit(1, "x", b"", 2)
    assert ring.admit(5, "x", b"", 6) is EventVerdict.NEW
    slot = ring.snapshot()[1]
    assert slot is not None and slot.ltime == 5 and len(slot.events) == 1


# -- queries ---------------------------------------------------------------------------------


def test_the_query_ring_tells_queries_apart_by_id_at_the_same_time() -> None:
    ring = QueryBuffer(8)
    assert ring.admit(3, 100, 4) is QueryVerdict.NEW
    assert ring.admit(3, 100, 4) is QueryVerdict.DUPLICATE
    assert ring.admit(3, 101, 4) is QueryVerdict.NEW
    assert QueryBuffer(8, min_time=5).admit(4, 1, 5) is QueryVerdict.BEFORE_MIN_TIME
    assert ring.admit(1, 7, 20) is QueryVerdict.TOO_OLD


def test_the_default_query_timeout_scales_with_log10_of_the_cluster_size() -> None:
    assert default_query_timeout(0.2, 16, 3) == pytest.approx(3.2)
    assert default_query_timeout(0.2, 16, 9) == pytest.approx(3.2)
    assert default_query_timeout(0.2, 16, 10) == pytest.approx(6.4)
    assert default_query_timeout(0.5, 16, 1) == pytest.approx(8.0)


def test_query_params_put_the_node_filter_first() -> None:
    params = QueryParams(filter_nodes=("b", "c"), filter_tags={"role": "w.b"})
    assert params.filters() == [NodeFilter(("b", "c")), TagFilter("role", "w.b")]
    with pytest.raises(ValueError):
        QueryParams(relay_factor=300)


def test_filters_are_anded_and_tag_expressions_match_anywhere_in_the_value() -> None:
    node = encode_filter(NodeFilter(("b", "c")))
    tag = encode_filter(TagFilter("role", "w.b"))
    assert filters_match((node, tag), "c", {"role": "web"})
    assert not filters_match((node, tag), "a", {"role": "web"})
    assert not filters_match((node, tag), "b", {"role": "db"})
    assert filters_match((encode_filter(TagFilter("role", "e")),), "x", {"role": "web"})
    assert filters_match((encode_filter(TagFilter("dc", "^$")),), "x", {})


def test_a_tag_expression_go_would_not_compile_is_an_error_for_the_caller_to_count() -> None:
    bad = encode_filter(TagFilter("role", "("))
    with pytest.raises(GoRegexError, match=r"^error parsing regexp: missing closing \): `\(`$"):
        filters_match((bad,), "x", {"role": "("})
    # Checked in order, as Go does: a node filter that excludes us comes first.
    assert not filters_match((encode_filter(NodeFilter(("b",))), bad), "x", {"role": "("})


def test_tag_expressions_are_gos_regexp() -> None:
    def match(expr: str, value: str) -> bool:
        return filters_match((encode_filter(TagFilter("role", expr)),), "x", {"role": value})

    assert match("^[[:alpha:]]+$", "web")
    assert match(r"^\pL+$", "wéb") and not match(r"^\w+$", "wéb")
    assert not match("web$", "web\n")
    with pytest.raises(GoRegexError):
        match("(?=w)", "web")


def test_an_undecodable_filter_raises_decode_error_so_the_query_is_counted() -> None:
    for raw in (b"", b"\x07\x90", b"\x00\xc1"):
        with pytest.raises(DecodeError):
            filters_match((raw,), "x", {})


def test_a_collector_counts_each_node_once_and_stops_at_its_budget() -> None:
    c = QueryCollector(op=1, name="q", ltime=1, wire_id=5, deadline=3.0, max_responses=2)
    assert c.add_ack("a") and not c.add_ack("a")
    assert c.add_response("a", b"1") and not c.add_response("a", b"2")
    assert c.add_response("b", b"1")
    assert not c.add_response("c", b"1")
    c.closed = True
    assert not c.add_ack("z")


# -- coalescers ------------------------------------------------------------------------------


def _m(name: str) -> Member:
    return Member(name, ADDR)


def test_member_coalescing_keeps_the_latest_type_per_member_and_flushes_on_quiescence() -> None:
    c = MemberEventCoalescer(coalesce_period=3.0, quiescent_period=1.0)
    c.add(MemberEvent(MemberEventType.JOIN, (_m("a"), _m("b"))), now=0.0)
    c.add(MemberEvent(MemberEventType.FAILED, (_m("a"),)), now=0.5)
    assert c.deadline() == 1.5
    assert c.flush_due(1.4) == []
    out = c.flush_due(1.5)
    assert out == [
        MemberEvent(MemberEventType.JOIN, (_m("b"),)),
        MemberEvent(MemberEventType.FAILED, (_m("a"),)),
    ]
    assert c.deadline() is None


def test_member_coalescing_flushes_at_the_coalesce_period_during_a_long_burst() -> None:
    c = MemberEventCoalescer(coalesce_period=3.0, quiescent_period=1.0)
    for i in range(6):
        c.add(MemberEvent(MemberEventType.JOIN, (_m(f"n{i}"),)), now=i * 0.6)
    assert c.deadline() == 3.0


def test_a_repeated_member_event_type_is_suppressed_but_updates_always_pass() -> None:
    c = MemberEventCoalescer(1.0, 1.0)
    c.add(MemberEvent(MemberEventType.JOIN, (_m("a"),)), 0.0)
    c.add(MemberEvent(MemberEventType.UPDATE, (_m("b"),)), 0.0)
    assert len(c.flush()) == 2
    c.add(MemberEvent(MemberEventType.JOIN, (_m("a"),)), 2.0)
    c.add(MemberEvent(MemberEventType.UPDATE, (_m("b"),)), 2.0)
    assert c.flush() == [MemberEvent(MemberEventType.UPDATE, (_m("b"),))]


def test_user_coalescing_keeps_only_the_newest_time_per_event_name() -> None:
    c = UserEventCoalescer(3.0, 1.0)
    assert not c.handles(UserEvent(1, "x", b"", False))
    for lt, payload in ((1, b"a"), (3, b"b"), (3, b"c"), (2, b"d")):
        c.add(UserEvent(lt, "deploy", payload, True), 0.0)
    c.add(UserEvent(1, "other", b"", True), 0.0)
    assert [(e.name, e.payload) for e in c.flush()] == [
        ("deploy", b"b"),
        ("deploy", b"c"),
        ("other", b""),
    ]


# -- member table ----------------------------------------------------------------------------


def test_an_intent_before_the_alive_message_is_buffered_and_applied_on_join() -> None:
    t = MemberTable("self")
    assert t.apply_leave_intent("b", 5, False, now=0.0, local_alive=True).rebroadcast
    assert not t.apply_join_intent("b", 4, now=0.0)
    member, _ = t.node_joined("b", ADDR, {}, VSN, DVSN, now=1.0, flap_timeout=60.0)
    assert member.status == MemberStatus.LEAVING and member.status_ltime == 5


def test_a_leaving_member_becomes_left_and_an_alive_one_failed_when_memberlist_drops_it() -> None:
    t = MemberTable("self")
    t.node_joined("a", ADDR, {}, VSN, DVSN, 0.0, 60.0)
    t.node_joined("b", ADDR, {}, VSN, DVSN, 0.0, 60.0)
    assert t.apply_leave_intent("a", 2, False, 1.0, local_alive=True).rebroadcast
    gone_a = t.node_gone("a", 2.0)
    gone_b = t.node_gone("b", 2.0)
    assert gone_a is not None and gone_a.status == MemberStatus.LEFT
    assert gone_b is not None and gone_b.status == MemberStatus.FAILED
    assert [m.name for m in t.left] == ["a"] and [m.name for m in t.failed] == ["b"]


def test_a_leave_intent_for_a_failed_member_moves_it_to_left() -> None:
    t = MemberTable("self")
    t.node_joined("b", ADDR, {}, VSN, DVSN, 0.0, 60.0)
    t.node_gone("b", 1.0)
    res = t.apply_leave_intent("b", 3, True, 2.0, local_alive=True)
    assert res.rebroadcast and res.left is not None and res.prune is not None
    assert t.failed == [] and [m.name for m in t.left] == ["b"]


def test_stale_intents_are_ignored_and_intents_about_ourselves_are_refuted() -> None:
    t = MemberTable("self")
    t.node_joined("self", ADDR, {}, VSN, DVSN, 0.0, 60.0)
    assert t.apply_join_intent("self", 3, 0.0)
    assert not t.apply_join_intent("self", 3, 0.0)
    assert t.apply_leave_intent("self", 2, False, 0.0, local_alive=True).rebroadcast is False
    assert t.apply_leave_intent("self", 4, False, 0.0, local_alive=True).refute
    assert t.apply_leave_intent("self", 4, False, 0.0, local_alive=False).rebroadcast


def test_a_failed_member_returning_quickly_is_a_flap() -> None:
    t = MemberTable("self")
    t.node_joined("b", ADDR, {}, VSN, DVSN, 0.0, 60.0)
    t.node_gone("b", 10.0)
    _, flapped = t.node_joined("b", ADDR, {}, VSN, DVSN, 20.0, 60.0)
    assert flapped and t.failed == []


def test_the_reaper_picks_failed_and_left_members_past_their_timeouts() -> None:
    t = MemberTable("self")
    for n in ("a", "b"):
        t.node_joined(n, ADDR, {}, VSN, DVSN, 0.0, 60.0)
    t.apply_leave_intent("a", 1, False, 0.0, local_alive=True)
    t.node_gone("a", 0.0)
    t.node_gone("b", 50.0)
    assert t.reap(101.0, reconnect_timeout=100.0, tombstone_timeout=100.0) == ["a"]
    assert t.erase("a") is not None and t.left == []
    t.apply_join_intent("ghost", 1, 0.0)
    assert t.reap_intents(400.0, 300.0) == 1


# -- keys ------------------------------------------------------------------------------------


class FakeKeyring:
    def __init__(self, keys: list[bytes]) -> None:
        self.ring = list(keys)

    @property
    def keys(self) -> tuple[bytes, ...]:
        return tuple(self.ring)

    @property
    def primary_key(self) -> bytes | None:
        return self.ring[0] if self.ring else None

    def add_key(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ValueError("key size must be 16, 24 or 32 bytes")
        if key not in self.ring:
            self.ring.append(key)

    def use_key(self, key: bytes) -> None:
        if key not in self.ring:
            raise ValueError("Requested key is not in the keyring")
        self.ring.remove(key)
        self.ring.insert(0, key)

    def remove_key(self, key: bytes) -> None:
        if key == self.ring[0]:
            raise ValueError("Removing the primary key is not allowed")
        if key in self.ring:
            self.ring.remove(key)


K1, K2 = b"1" * 16, b"2" * 32


def test_key_requests_change_the_keyring_and_report_go_errors() -> None:
    ring = FakeKeyring([K1])
    resp, changed = handle_key_request(KeyOp.INSTALL, encode_key_request(K2), ring)
    assert resp.result and changed and ring.ring == [K1, K2]
    resp, _ = handle_key_request(KeyOp.REMOVE, encode_key_request(K1), ring)
    assert resp == MessageKeyResponse(False, "Removing the primary key is not allowed")
    resp, _ = handle_key_request(KeyOp.USE, encode_key_request(K2), ring)
    assert resp.result and ring.ring[0] == K2
    resp, changed = handle_key_request(KeyOp.LIST, encode_key_request(b""), ring)
    assert resp.keys == (base64.b64encode(K2).decode(), base64.b64encode(K1).decode())
    assert resp.primary_key == base64.b64encode(K2).decode() and not changed


def test_without_a_keyring_key_requests_answer_with_gos_messages() -> None:
    resp, _ = handle_key_request(KeyOp.LIST, b"", None)
    assert resp.message == "Keyring is empty (encryption not enabled)"
    resp, _ = handle_key_request(KeyOp.INSTALL, encode_key_request(K1), None)
    assert resp.message == "No keyring to modify (encryption not enabled)"
    resp, _ = handle_key_request(KeyOp.INSTALL, b"\x07\xc1", FakeKeyring([K1]))
    assert not resp.result and resp.message.startswith("Failed to decode key request")


def test_a_long_key_list_is_truncated_to_fit() -> None:
    keys = tuple(base64.b64encode(bytes([i]) * 16).decode() for i in range(60))
    full = MessageKeyResponse(True, "", keys, keys[0])
    fitted = fit_key_list(full, lambda r: len(encode_serf_message(r)) <= 1024, 1024)
    assert fitted is not None and fitted.keys is not None
    assert len(encode_serf_message(fitted)) <= 1024
    assert 0 < len(fitted.keys) < 60
    assert fitted.message.startswith("truncated key list response, showing first")
    assert fit_key_list(full, lambda r: False, 1024) is None


def test_keys_must_be_base64_of_a_valid_aes_length() -> None:
    assert decode_key(base64.b64encode(K1).decode()) == K1
    with pytest.raises(InvalidKeyError):
        decode_key("not base64!")
    with pytest.raises(InvalidKeyError):
        decode_key(base64.b64encode(b"short").decode())


def test_the_key_tally_counts_keys_errors_and_fails_without_every_answer() -> None:
    agg = KeyOpAggregate(op=1, kind=KeyOp.LIST, num_nodes=3)
    ok = encode_serf_message(MessageKeyResponse(True, "", ("A", "B"), "A"))
    agg.add("a", ok)
    agg.add("b", encode_serf_message(MessageKeyResponse(False, "boom")))
    assert agg.keys == {"A": 1, "B": 1} and agg.primary_keys == {"A": 1}
    assert agg.messages == {"b": "boom"} and not agg.complete()
    assert agg.error() == "1/3 nodes reported failure"
    agg.add("c", b"\x05junk")
    assert agg.complete() and agg.num_err == 2
    clean = KeyOpAggregate(op=2, kind=KeyOp.INSTALL, num_nodes=2)
    clean.add("a", encode_serf_message(MessageKeyResponse(True)))
    assert clean.error() == "1/2 nodes reported success"
