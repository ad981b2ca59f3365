"""Single exchanges of the membership core against scripted peers (no network, virtual time)."""

from __future__ import annotations

import logging
import random
from typing import Any

import pytest
from serf_proto.config import MemberlistConfig
from serf_proto.drops import DropReason
from serf_proto.events import JoinCompleted, LeaveCompleted
from serf_proto.memberlist import Memberlist, Node, NullDelegate
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.sim.script import ScriptedPeer, sent_messages, stream_messages
from serf_proto.types import Address, NodeState
from serf_proto.wire.messages import (
    Ack,
    Alive,
    Dead,
    IndirectPing,
    Nack,
    Ping,
    PushNodeState,
    PushPull,
    Suspect,
    UserMsg,
    encode_message,
)

ME = Address("10.0.0.1", 7946)


class Recorder(NullDelegate):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, NodeState]] = []
        self.pings: list[tuple[str, float, bytes]] = []
        self.conflicts: list[tuple[Node, Node]] = []

    def ack_payload(self, now: float) -> bytes:
        return b"coord"

    def notify_join(self, node: Node, now: float) -> None:
        self.events.append(("join", node.name, node.state))

    def notify_leave(self, node: Node, now: float) -> None:
        self.events.append(("leave", node.name, node.state))

    def notify_ping_complete(self, node: Node, rtt: float, payload: bytes, now: float) -> None:
        self.pings.append((node.name, rtt, payload))

    def notify_conflict(self, existing: Node, other: Node, now: float) -> None:
        self.conflicts.append((existing, other))


class Harness:
    """One node under test plus a clock."""

    def __init__(self, delegate: Recorder | None = None, **overrides: Any) -> None:
        self.delegate = delegate if delegate is not None else Recorder()
        serf_versions = {
            "delegate_protocol_min": 2,
            "delegate_protocol_max": 5,
            "delegate_protocol_version": 5,
        }
        config = MemberlistConfig.lan("me", bind_addr=ME.host, **serf_versions, **overrides)
        rng = random.Random(7)
        self.ml = Memberlist(config, self.delegate, now=0.0, rng=rng, entropy=rng.randbytes)
        self.now = 0.0
        self.outputs: list[Any] = []
        self.peers_by_addr: dict[Address, ScriptedPeer] = {}

    def drain(self) -> list[Any]:
        out = self.ml.take_outputs()
        self.outputs.extend(out)
        return out

    def deliver(self, peer: ScriptedPeer, *msgs: Any) -> list[Any]:
        self.ml.receive_packet(peer.addr, peer.packet(*msgs), self.now)
        return self.drain()

    def advance(self, to: float) -> list[Any]:
        """Run every timer up to ``to`` and return the outputs."""
        out: list[Any] = []
        while True:
            t = self.ml.next_timer()
            if t is None or t > to:
                break
            self.now = t
            self.ml.handle_timer(t)
            out.extend(self.drain())
        self.now = to
        return out

    def add_peers(self, *peers: ScriptedPeer) -> None:
        for p in peers:
            self.deliver(p, p.alive())

    def run_until_probe(self, limit: float = 30.0) -> tuple[ScriptedPeer | None, int]:
        """Advance timer by timer until the node pings someone; returns (address, seq)."""
        while self.now < limit:
            t = self.ml.next_timer()
            assert t is not None
            self.now = t
            self.ml.handle_timer(t)
            for sent in sent_messages(self.drain(), Ping):
                assert isinstance(sent.msg, Ping)
                return self.peers_by_addr.get(sent.addr), sent.msg.seq_no
        raise AssertionError("no probe was sent")


def peers(n: int) -> list[ScriptedPeer]:
    return [ScriptedPeer(f"p{i}", Address(f"10.0.1.{i}", 7946)) for i in range(1, n + 1)]


def setup(n: int, **overrides: Any) -> tuple[Harness, list[ScriptedPeer]]:
    h = Harness(**overrides)
    ps = peers(n)
    h.peers_by_addr = {p.addr: p for p in ps}
    h.add_peers(*ps)
    return h, ps


def test_a_ping_for_us_is_acked_to_its_source_address_with_the_delegate_payload() -> None:
    h, (p1,) = setup(1)
    out = h.deliver(p1, p1.ping(42, "me"))
    acks = sent_messages(out, Ack)
    assert [(s.addr, s.msg) for s in acks] == [(p1.addr, Ack(42, b"coord"))]


def test_a_ping_meant_for_another_node_is_not_acked() -> None:
    h, (p1,) = setup(1)
    out = h.deliver(p1, p1.ping(42, "someone-else"))
    assert sent_messages(out, Ack) == []
    assert h.ml.stats.dropped["ping_wrong_node"] == 1


def test_a_new_node_from_an_alive_message_joins_and_is_gossiped_on() -> None:
    h, (_p1,) = setup(1)
    assert ("join", "p1", NodeState.ALIVE) in h.delegate.events
    assert h.ml.num_members() == 2
    gossip = sent_messages(h.advance(2.0), Alive)
    assert any(isinstance(s.msg, Alive) and s.msg.node == "p1" for s in gossip)


def test_an_acked_probe_reports_the_round_trip_time() -> None:
    h, _ = setup(3)
    target, seq = h.run_until_probe()
    assert target is not None
    sent_at = h.now
    h.now += 0.05
    h.deliver(target, target.ack(seq, b"pong"))
    ((name, rtt, payload),) = h.delegate.pings
    assert (name, payload) == (target.name, b"pong")
    assert rtt == pytest.approx(0.05)
    assert h.ml.stats.acks_received == 1
    h.advance(sent_at + 1.0)
    assert sent_messages(h.outputs, IndirectPing) == []
    assert h.ml.health_score() == 0


def test_a_probe_without_ack_asks_helpers_then_suspects_the_target() -> None:
    h, ps = setup(3)
    target, seq = h.run_until_probe()
    assert target is not None
    start = h.now
    out = h.advance(start + 0.5)
    requests = sent_messages(out, IndirectPing)
    helpers = {s.addr for s in requests}
    assert helpers == {p.addr for p in ps if p is not target}
    assert all(isinstance(s.msg, IndirectPing) and s.msg.nack for s in requests)
    assert all(isinstance(s.msg, IndirectPing) and s.msg.seq_no == seq for s in requests)
    opens = [o for o in out if isinstance(o, OpenStream)]
    assert [o.addr for o in opens] == [target.addr]  # the TCP fallback ping
    h.ml.stream_failed(opens[0].sid, "connection refused", h.now)
    h.advance(start + 1.0)
    assert h.ml.node_state(target.name) is NodeState.SUSPECT
    assert h.ml.stats.probes_failed == 1
    assert h.ml.health_score() == 2  # two helpers promised nacks and sent none


def test_a_relayed_ack_saves_the_probe() -> None:
    h, ps = setup(3)
    target, seq = h.run_until_probe()
    assert target is not None
    start = h.now
    h.advance(start + 0.6)
    helper = next(p for p in ps if p is not target)
    h.deliver(helper, helper.ack(seq))
    h.advance(start + 2.0)
    assert h.ml.node_state(target.name) is NodeState.ALIVE
    assert h.delegate.pings == []  # only direct acks carry an RTT


def test_nacks_from_every_helper_keep_the_health_score_unchanged() -> None:
    h, ps = setup(3, disable_tcp_pings=True)
    target, seq = h.run_until_probe()
    assert target is not None
    start = h.now
    h.advance(start + 0.6)
    for helper in (p for p in ps if p is not target):
        h.deliver(helper, helper.nack(seq))
    h.advance(start + 1.0)
    assert h.ml.node_state(target.name) is NodeState.SUSPECT
    assert h.ml.stats.nacks_received == 2
    assert h.ml.health_score() == 0


def test_a_successful_tcp_fallback_ping_avoids_suspicion() -> None:
    h, _ = setup(3)
    target, seq = h.run_until_probe()
    assert target is not None
    start = h.now
    out = h.advance(start + 0.5)
    (open_,) = [o for o in out if isinstance(o, OpenStream)]
    h.ml.stream_connected(open_.sid, h.now)
    (ping,) = stream_messages(h.drain(), open_.sid)
    assert isinstance(ping, Ping) and ping.seq_no == seq and ping.node == target.name
    h.ml.receive_stream_data(open_.sid, encode_message(Ack(seq)), h.now)
    assert CloseStream(open_.sid) in h.drain()
    h.advance(start + 1.0)
    assert h.ml.node_state(target.name) is NodeState.ALIVE


def test_an_indirect_ping_request_pings_the_target_and_relays_its_ack() -> None:
    h, (p1, p2) = setup(2)
    out = h.deliver(p1, p1.indirect_ping(77, p2))
    (ping,) = sent_messages(out, Ping)
    assert ping.addr == p2.addr
    assert isinstance(ping.msg, Ping) and ping.msg.node == "p2"
    out = h.deliver(p2, p2.ack(ping.msg.seq_no))
    relayed = sent_messages(out, Ack)
    assert [(s.addr, s.msg) for s in relayed] == [(p1.addr, Ack(77))]
    assert sent_messages(h.advance(h.now + 1.0), Nack) == []


def test_an_unanswered_indirect_ping_is_nacked_after_the_probe_timeout() -> None:
    h, (p1, p2) = setup(2)
    h.deliver(p1, p1.indirect_ping(77, p2))
    start = h.now
    assert sent_messages(h.advance(start + 0.49), Nack) == []
    nacks = sent_messages(h.advance(start + 0.5), Nack)
    assert [(s.addr, s.msg) for s in nacks] == [(p1.addr, Nack(77))]


def test_a_tcp_ping_is_acked_on_the_stream_and_the_stream_closed() -> None:
    h, (p1,) = setup(1)
    sid = h.ml.accept_stream(p1.addr, h.now)
    h.ml.receive_stream_data(sid, encode_message(p1.ping(5, "me")), h.now)
    out = h.drain()
    assert stream_messages(out, sid) == [Ack(5)]
    assert out[-1] == CloseStream(sid)


def test_a_join_pushes_our_state_and_merges_the_reply() -> None:
    h = Harness()
    seed, other = peers(2)
    op = h.ml.join([seed.addr], h.now)
    (open_,) = [o for o in h.drain() if isinstance(o, OpenStream)]
    assert open_.addr == seed.addr
    h.ml.stream_connected(open_.sid, h.now)
    (request,) = stream_messages(h.drain(), open_.sid)
    assert isinstance(request, PushPull) and request.join
    assert [s.name for s in request.states] == ["me"]
    other_state = PushNodeState("p2", other.ip, 7946, b"", 3, 0, other.vsn)
    reply = encode_message(seed.push_pull(True, [other_state]))
    h.ml.receive_stream_data(open_.sid, reply[:10], h.now)  # partial: nothing happens yet
    assert h.drain() == []
    h.ml.receive_stream_data(open_.sid, reply[10:], h.now)
    out = h.drain()
    assert JoinCompleted(op, 1, ()) in out
    assert {n.name for n in h.ml.members()} == {"me", "p1", "p2"}
    assert h.ml.node("p2") is not None and h.ml.node("p2").incarnation == 3  # type: ignore[union-attr]


def test_a_join_to_an_unreachable_address_reports_the_error() -> None:
    h = Harness()
    op = h.ml.join([Address("10.9.9.9", 7946)], h.now)
    (open_,) = [o for o in h.drain() if isinstance(o, OpenStream)]
    h.ml.stream_failed(open_.sid, "connection refused", h.now)
    (done,) = [o for o in h.drain() if isinstance(o, JoinCompleted)]
    assert done.op == op and done.joined == 0
    assert "connection refused" in done.errors[0]


def test_a_join_times_out_after_the_tcp_timeout() -> None:
    h = Harness()
    op = h.ml.join([Address("10.9.9.9", 7946)], h.now)
    h.drain()
    out = h.advance(10.0)
    (done,) = [o for o in out if isinstance(o, JoinCompleted)]
    assert done.op == op and done.joined == 0 and "timeout" in done.errors[0]


def test_an_inbound_push_pull_is_answered_with_our_state_and_then_merged() -> None:
    h = Harness()
    p1, p2 = peers(2)
    sid = h.ml.accept_stream(p1.addr, h.now)
    state2 = PushNodeState("p2", p2.ip, 7946, b"", 1, 0, p2.vsn)
    h.ml.receive_stream_data(sid, encode_message(p1.push_pull(False, [state2])), h.now)
    out = h.drain()
    (reply,) = stream_messages(out, sid)
    assert isinstance(reply, PushPull) and not reply.join
    assert [s.name for s in reply.states] == ["me"]  # answered before the merge
    assert out[-1] == CloseStream(sid)
    assert {n.name for n in h.ml.members()} == {"me", "p1", "p2"}


def test_a_push_pull_from_an_incompatible_node_is_refused() -> None:
    h = Harness()
    (p1,) = peers(1)
    h.ml.join([p1.addr], h.now)
    (open_,) = [o for o in h.drain() if isinstance(o, OpenStream)]
    h.ml.stream_connected(open_.sid, h.now)
    h.drain()
    bad = PushNodeState("old", p1.ip, 7000, b"", 1, 0, bytes((1, 5, 9, 0, 0, 0)))
    h.ml.receive_stream_data(open_.sid, encode_message(p1.push_pull(True, [bad])), h.now)
    (done,) = [o for o in h.drain() if isinstance(o, JoinCompleted)]
    assert done.joined == 0 and "incompatible" in done.errors[0]
    assert h.ml.num_members() == 1


def test_a_suspicion_about_us_is_refuted_with_a_higher_incarnation() -> None:
    h, (p1,) = setup(1)
    h.deliver(p1, p1.suspect("me", 1))
    assert h.ml.local_node.incarnation == 2
    assert h.ml.stats.refutations == 1
    assert h.ml.health_score() == 1
    alives = [s.msg for s in sent_messages(h.advance(1.0), Alive)]
    assert any(isinstance(a, Alive) and a.node == "me" and a.incarnation == 2 for a in alives)


def test_a_dead_message_about_us_is_refuted_above_the_accused_incarnation() -> None:
    h, (p1,) = setup(1)
    h.deliver(p1, p1.dead("me", 5))
    assert h.ml.local_node.incarnation == 6
    assert h.ml.local_node.state is NodeState.ALIVE


def test_a_node_that_announces_its_own_death_is_recorded_as_left() -> None:
    h, (p1,) = setup(1)
    h.deliver(p1, p1.dead("p1", 1))
    assert h.delegate.events[-1] == ("leave", "p1", NodeState.LEFT)


def test_a_node_declared_dead_by_another_is_recorded_as_dead() -> None:
    h, (_p1, p2) = setup(2)
    h.deliver(p2, p2.dead("p1", 1))
    assert h.delegate.events[-1] == ("leave", "p1", NodeState.DEAD)


def test_a_suspected_node_that_refutes_stays_alive() -> None:
    h, (p1, p2) = setup(2)
    h.deliver(p2, p2.suspect("p1", 1))
    assert h.ml.node_state("p1") is NodeState.SUSPECT
    h.deliver(p1, p1.alive(incarnation=2))
    assert h.ml.node_state("p1") is NodeState.ALIVE
    h.advance(4.5)  # past the 4 s suspicion timeout, which the refutation cancelled
    assert h.ml.node_state("p1") is not NodeState.DEAD
    assert not any(e[0] == "leave" for e in h.delegate.events)


def test_an_unrefuted_suspicion_becomes_dead_after_the_timeout() -> None:
    h, (_p1, p2) = setup(2)
    h.deliver(p2, p2.suspect("p1", 1))
    # n = 3 nodes: k = 0, so the timeout is the minimum, 4 s (observed with Go).
    h.advance(3.99)
    assert h.ml.node_state("p1") is NodeState.SUSPECT
    h.advance(4.0)
    assert h.ml.node_state("p1") is NodeState.DEAD
    assert h.ml.stats.dead_declared == 1


def test_a_different_address_for_a_known_name_is_a_conflict() -> None:
    h, (p1,) = setup(1)
    impostor = ScriptedPeer("p1", Address("10.0.2.1", 7946))
    h.deliver(impostor, impostor.alive(incarnation=9))
    assert h.ml.node("p1").addr == p1.addr  # type: ignore[union-attr]
    ((existing, other),) = h.delegate.conflicts
    assert existing.addr == p1.addr and other.addr == impostor.addr


def test_an_alive_with_invalid_versions_is_ignored() -> None:
    h = Harness()
    bad = ScriptedPeer("bad", Address("10.0.3.1", 7946), vsn=bytes((3, 2, 2, 0, 0, 0)))
    h.deliver(bad, bad.alive())
    assert h.ml.node("bad") is None
    assert h.ml.stats.dropped["bad_vsn"] == 1


def test_garbage_packets_are_dropped_and_counted() -> None:
    h, _ = setup(1)
    for junk in (b"", b"\x00\xff\xff", b"\x07\x05", b"\xee", b"\x0c\x00\x00\x00\x00x"):
        h.ml.receive_packet(Address("10.0.9.9", 1), junk, h.now)
    assert sum(h.ml.stats.dropped.values()) == 5
    assert h.drain() == []
    # Every reason is a DropReason, whose value is the snake_case metric label.
    assert all(isinstance(r, DropReason) for r in h.ml.stats.dropped)
    assert h.ml.stats.dropped[DropReason.TRUNCATED] >= 1


def test_every_log_record_names_its_node_without_changing_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h, (p1,) = setup(1)
    with caplog.at_level(logging.WARNING, logger="serf_proto.memberlist"):
        h.deliver(p1, p1.ping(42, "someone-else"))
    (record,) = caplog.records
    assert record.node == "me"  # type: ignore[attr-defined]
    assert record.getMessage() == f"Got ping for unexpected node 'someone-else' from={p1.addr}"


def test_broadcasts_stop_after_the_retransmit_limit() -> None:
    h, _ = setup(3)  # 4 nodes: each broadcast is sent 4 * ceil(log10(5)) = 4 times
    h.advance(30.0)
    assert h.ml.queue_depth() == 0
    h.ml.update_node(h.now)
    out = h.advance(h.now + 60.0)
    mine = [s for s in sent_messages(out, Alive) if isinstance(s.msg, Alive) and s.msg.node == "me"]
    assert len(mine) == 4
    assert h.ml.queue_depth() == 0


def test_leave_completes_once_the_dead_message_was_gossiped() -> None:
    h, _ = setup(2)
    op = h.ml.leave(5.0, h.now)
    assert h.ml.has_left
    out = h.advance(5.0)
    assert LeaveCompleted(op) in out
    deaths = [s.msg for s in sent_messages(out, Dead) if isinstance(s.msg, Dead)]
    assert deaths and all(d.node == "me" and d.from_node == "me" for d in deaths)


def test_leave_without_peers_completes_at_once() -> None:
    h = Harness()
    op = h.ml.leave(5.0, h.now)
    assert LeaveCompleted(op) in h.drain()


def test_shutdown_closes_streams_and_stops_every_timer() -> None:
    h, (p1,) = setup(1)
    sid = h.ml.accept_stream(p1.addr, h.now)
    h.ml.shutdown(h.now)
    assert CloseStream(sid) in h.drain()
    assert h.ml.next_timer() is None
    h.ml.receive_packet(p1.addr, p1.packet(p1.ping(1, "me")), h.now)
    assert h.drain() == []


def test_a_reliable_user_message_is_written_then_the_stream_closed() -> None:
    h, (p1,) = setup(1)
    sid = h.ml.send_reliable(p1.addr, b"\x03hello", h.now)
    h.drain()
    h.ml.stream_connected(sid, h.now)
    out = h.drain()
    assert isinstance(out[0], SendStream) and isinstance(out[-1], CloseStream)


def test_a_suspect_compound_rides_along_when_probing_a_suspect_node() -> None:
    h, ps = setup(1)
    (p1,) = ps
    h.deliver(p1, Suspect(1, "p1", "someone"))
    target, _ = h.run_until_probe()
    assert target is p1
    kinds = {type(s.msg) for s in sent_messages(h.outputs[-3:])}
    assert Suspect in kinds


def test_inbound_streams_beyond_the_bound_are_closed_at_once() -> None:
    h, (p1,) = setup(1)
    sids = [h.ml.accept_stream(p1.addr, h.now) for _ in range(129)]
    out = h.drain()
    assert out == [CloseStream(sids[-1])]
    assert h.ml.stats.dropped["too_many_streams"] == 1
    h.ml.receive_stream_data(sids[0], encode_message(p1.ping(5, "me")), h.now)
    h.drain()
    h.ml.accept_stream(p1.addr, h.now)
    assert h.drain() == []  # a slot was free again


def test_a_stream_that_is_not_a_message_is_closed_and_counted() -> None:
    h, (p1,) = setup(1)
    sid = h.ml.accept_stream(p1.addr, h.now)
    h.ml.receive_stream_data(sid, b"\x06\xc1garbage", h.now)
    assert h.drain() == [CloseStream(sid)]
    assert sum(h.ml.stats.dropped.values()) == 1


def test_an_idle_gossip_ticker_sleeps_and_wakes_on_its_old_phase() -> None:
    h, (p1,) = setup(1, probe_interval=1000.0, push_pull_interval=0.0)
    sends: list[float] = []
    while h.now < 30.0:
        t = h.ml.next_timer()
        if t is None or t > 30.0:
            break
        h.now = t
        h.ml.handle_timer(t)
        if any(isinstance(o, SendPacket) for o in h.drain()):
            sends.append(t)
    assert sends, "the news about p1 is gossiped"
    assert h.ml.queue_depth() == 0
    t = h.ml.next_timer()
    assert t is None or t > 100.0  # nothing ticks while there is nothing to gossip
    h.now = 31.03
    h.deliver(p1, p1.alive(incarnation=2))  # new news wakes the ticker
    tick = h.ml.next_timer()
    assert tick is not None and 31.03 < tick <= 31.03 + 0.2
    periods = (tick - sends[0]) / 0.2
    assert abs(periods - round(periods)) < 1e-6  # on the same phase as before


class Outbox(Recorder):
    """A delegate with broadcasts of its own that it queues without telling memberlist."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[bytes] = []
        self.asked: list[float] = []

    def get_broadcasts(self, overhead: int, limit: int, now: float) -> list[bytes]:
        out, self.queue = self.queue, []
        return out

    def pending_broadcasts(self, now: float) -> int:
        self.asked.append(now)
        return len(self.queue)


def test_a_parked_gossip_ticker_wakes_when_the_delegate_queues_without_telling_it() -> None:
    outbox = Outbox()
    h = Harness(outbox, probe_interval=1000.0, push_pull_interval=0.0)
    (p1,) = peers(1)
    h.add_peers(p1)
    h.advance(30.0)
    assert h.ml.queue_depth() == 0 and outbox.asked, "parked only after asking the delegate"
    t = h.ml.next_timer()
    assert t is None or t > 100.0
    outbox.queue.append(b"news")  # e.g. from the layer's own timer or command at 31.03
    due = h.ml.next_timer()
    assert due is not None and due <= 31.03  # re-planning noticed it: a wake-up is due now
    h.now = 31.03
    h.ml.handle_timer(h.now)
    tick = h.ml.next_timer()
    assert tick is not None and 31.03 < tick <= 31.03 + 0.2  # the next tick, on its phase
    out = h.advance(tick)
    assert [s.msg for s in sent_messages(out, UserMsg)] == [UserMsg(b"news")]


def test_a_dead_name_can_move_to_a_new_address_after_the_reclaim_time() -> None:
    h, (p1, p2) = setup(2, dead_node_reclaim_time=10.0)
    h.deliver(p2, p2.dead("p1", 1))
    moved = ScriptedPeer("p1", Address("10.0.2.1", 7946))
    h.now = 5.0
    h.deliver(moved, moved.alive(incarnation=1))
    assert h.ml.node("p1").addr == p1.addr  # type: ignore[union-attr]
    assert len(h.delegate.conflicts) == 1  # too early: still a conflict
    h.now = 11.0
    h.deliver(moved, moved.alive(incarnation=1))
    assert h.ml.node("p1").addr == moved.addr  # type: ignore[union-attr]
    assert h.ml.node_state("p1") is NodeState.ALIVE


def test_dead_nodes_are_reaped_after_gossip_to_the_dead_time() -> None:
    h, (_p1, p2) = setup(2)
    h.deliver(p2, p2.dead("p1", 1))
    assert h.ml.node_state("p1") is NodeState.DEAD
    h.advance(25.0)
    assert h.ml.node("p1") is not None  # still listed (and gossiped to)
    h.advance(40.0)
    assert h.ml.node("p1") is None
    assert {n.name for n in h.ml.all_nodes()} <= {"me", "p2"}


def test_the_push_pull_state_we_send_follows_every_kind_of_change() -> None:
    h, (p1, p2) = setup(2)

    def sent_states() -> dict[str, tuple[int, int, bytes]]:
        sid = h.ml.accept_stream(p1.addr, h.now)
        h.ml.receive_stream_data(sid, encode_message(p1.push_pull(False)), h.now)
        (reply,) = stream_messages(h.drain(), sid)
        assert isinstance(reply, PushPull)
        return {s.name: (s.state, s.incarnation, s.meta) for s in reply.states}

    assert sent_states()["p2"] == (0, 1, b"")
    h.deliver(p2, p2.alive(incarnation=2, meta=b"m"))
    assert sent_states()["p2"] == (0, 2, b"m")
    h.deliver(p1, p1.suspect("p2", 2))
    assert sent_states()["p2"] == (1, 2, b"m")
    h.deliver(p1, p1.dead("p2", 3))
    assert sent_states()["p2"] == (2, 3, b"m")
    h.deliver(p1, p1.suspect("me", 1))  # we refute
    assert sent_states()["me"][1] == 2


def test_a_push_pull_past_60_percent_of_the_limit_logs_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from serf_proto.memberlist.streams import remote_state_near_limit

    assert not remote_state_near_limit(12_582_912) and remote_state_near_limit(12_582_913)
    h = Harness()
    (p1,) = peers(1)
    sid = h.ml.accept_stream(p1.addr, h.now)
    with caplog.at_level(logging.WARNING, logger="serf_proto.memberlist"):
        big = encode_message(p1.push_pull(False, user=b"x" * 13_000_000))
        h.ml.receive_stream_data(sid, big, h.now)
    assert f"Remote node state size is ({len(big)}) limit is (20971520)" in caplog.text
    assert {n.name for n in h.ml.members()} == {"me", "p1"}
