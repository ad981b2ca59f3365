"""pyserf's self-healing rules in memberlist, one exchange at a time against scripted peers:
a stale alive about an accused node is answered with the accusation, a lone ping reports its
outcome, and a node nobody pings pushes/pulls to be found again."""

from __future__ import annotations

from typing import Any

from serf_proto.outputs import OpenStream
from serf_proto.sim.script import sent_messages
from serf_proto.types import Address, NodeState
from serf_proto.wire.messages import Ack, Dead, Ping, Suspect

from tests.proto.test_memberlist_exchanges import Harness, setup


def _keep_alive(h: Harness, until: float, peers: list[Any], ping: bool = False) -> list[Any]:
    """Advance second by second; the peers refute every suspicion (and ping us with ``ping``)."""
    out: list[Any] = []
    inc = 1
    while h.now < until:
        out += h.advance(h.now + 1.0)
        inc += 1
        for p in peers:
            h.deliver(p, p.alive(inc))
        if ping:
            h.deliver(peers[0], peers[0].ping(inc, "me"))
    return out


def _ours(out: list[Any], kind: type[Dead] | type[Suspect]) -> list[tuple[Address, object]]:
    """Accusations this node made itself (piggybacked gossip of others' news left out)."""
    found = [(s.addr, s.msg) for s in sent_messages(out, kind)]
    return [(a, m) for a, m in found if isinstance(m, (Dead, Suspect)) and m.from_node == "me"]


def test_a_stale_alive_about_a_dead_node_sends_it_the_accusation_once_per_probe_interval() -> None:
    h, (p1, p2) = setup(2)
    h.deliver(p2, p2.dead("p1", 5))
    assert h.ml.node_state("p1") is NodeState.DEAD
    out = h.deliver(p1, p1.alive(1))  # p1 restarted at incarnation 1 and never heard of it
    assert _ours(out, Dead) == [(p1.addr, Dead(5, "p1", "me"))]
    assert h.ml.node_state("p1") is NodeState.DEAD  # monotone: the stale alive changed nothing
    assert _ours(h.deliver(p1, p1.alive(1)), Dead) == []  # gossip's copies cost nothing
    h.now += 1.0
    assert len(_ours(h.deliver(p1, p1.alive(1)), Dead)) == 1
    assert h.ml.stats.accusations_resent == 2
    # the refutation at a higher incarnation wins
    h.deliver(p1, p1.alive(6))
    assert h.ml.node_state("p1") is NodeState.ALIVE


def test_a_stale_alive_about_a_suspect_node_sends_it_the_suspicion() -> None:
    h, (p1, p2) = setup(2)
    h.deliver(p2, p2.suspect("p1", 1))
    assert h.ml.node_state("p1") is NodeState.SUSPECT
    assert _ours(h.deliver(p1, p1.alive(1)), Suspect) == [(p1.addr, Suspect(1, "p1", "me"))]


def test_go_rules_ignore_a_stale_alive() -> None:
    h, (p1, p2) = setup(2, resend_accusations=False)
    h.deliver(p2, p2.dead("p1", 5))
    assert _ours(h.deliver(p1, p1.alive(1)), Dead) == []
    assert h.ml.stats.accusations_resent == 0


def test_a_lone_ping_reports_its_ack_or_its_timeout() -> None:
    h, (p1,) = setup(1)
    results: list[tuple[bool, float]] = []
    h.ml.ping_address(p1.addr, "p1", h.now, lambda ok, at: results.append((ok, at)))
    (ping,) = sent_messages(h.drain(), Ping)
    assert ping.addr == p1.addr
    assert isinstance(ping.msg, Ping) and ping.msg.node == "p1"
    h.deliver(p1, Ack(ping.msg.seq_no, b""))
    assert results == [(True, h.now)]
    h.ml.ping_address(p1.addr, "p1", h.now, lambda ok, at: results.append((ok, at)))
    h.drain()
    h.advance(h.now + 1.0)
    assert results[1][0] is False
    assert h.ml.stats.heal_pings_sent == 2 and h.ml.stats.heal_pings_answered == 1
    assert h.ml.node_state("p1") is NodeState.ALIVE  # a lone ping never changes the table


def _push_pulls(out: list[object]) -> int:
    return sum(1 for o in out if isinstance(o, OpenStream))


def test_a_node_nobody_pings_pushes_and_pulls_to_be_found() -> None:
    h, ps = setup(3, push_pull_interval=0.0, disable_tcp_pings=True)
    _keep_alive(h, 7.0, ps)
    assert h.ml.stats.unprobed_push_pulls == 0
    out = _keep_alive(h, 10.0, ps)
    assert _push_pulls(out) == 1
    assert h.ml.stats.unprobed_push_pulls == 1


def test_a_node_that_is_pinged_never_pushes_and_pulls_for_it() -> None:
    h, ps = setup(3, push_pull_interval=0.0, disable_tcp_pings=True)
    out = _keep_alive(h, 20.0, ps, ping=True)
    assert _push_pulls(out) == 0
    assert h.ml.stats.unprobed_push_pulls == 0


def test_go_rules_never_push_and_pull_for_silence() -> None:
    h, _ = setup(3, push_pull_interval=0.0, unprobed_push_pull=0)
    h.advance(30.0)
    assert h.ml.stats.unprobed_push_pulls == 0


def test_a_node_resumed_from_a_snapshot_counts_up_from_its_initial_incarnation() -> None:
    h, (p1,) = setup(1, initial_incarnation=1000)
    assert h.ml.local_node.incarnation == 1001
    # the dead news about its previous instance (incarnation 5) is old news: nothing to refute
    out = h.deliver(p1, p1.dead("me", 5))
    assert h.ml.local_node.incarnation == 1001
    assert _ours(out, Dead) == []
