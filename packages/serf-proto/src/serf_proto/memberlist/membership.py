"""Membership news: alive, suspect and dead messages applied to the node table (Go
``aliveNode``, ``suspectNode``, ``deadNode``, ``refute``, ``mergeState``).

Every piece of news, whether it arrived in a packet, came out of a push/pull or was made here
(our own alive at start, a suspicion after a failed probe, a dead when a suspicion runs out),
goes through one of three methods. Each asks :mod:`serf_proto.memberlist.rules` for a verdict
and carries it out:

* **apply**: change the record (:meth:`NodeTable.change`), queue the news for gossip, tell the
  delegate (join, leave, update);
* **refute**: news that accuses us: raise our incarnation above the accusation and gossip an
  alive (the Lifeguard health score gets worse: being accused hints that we are slow);
* **confirm**: another accuser of a node we already suspect shortens its suspicion timer;
* **conflict**: another address claims a known name: tell the delegate;
* **ignore**: old news.

A suspicion is a :class:`~serf_proto.memberlist.suspicion.Suspicion` plus a
:class:`SuspicionExpiry` deadline naming the node and the incarnation it was suspected at;
any alive or dead news about the node ends both. Leaving is a dead message about ourselves
(peers record us as LEFT) whose broadcast, once gossiped often enough, completes the leave.
"""

from __future__ import annotations

from serf_proto.config import META_MAX_SIZE
from serf_proto.drops import DropReason
from serf_proto.errors import InvalidState
from serf_proto.events import LeaveCompleted
from serf_proto.memberlist.awareness import Awareness
from serf_proto.memberlist.context import Context
from serf_proto.memberlist.deadlines import LEAVE_DEADLINE, SuspicionExpiry
from serf_proto.memberlist.formulas import suspicion_timeout
from serf_proto.memberlist.gossip import Gossip
from serf_proto.memberlist.pushpull import merge_news, remote_nodes
from serf_proto.memberlist.rules import (
    Verdict,
    alive_verdict,
    dead_verdict,
    resend_accusation,
    suspect_verdict,
)
from serf_proto.memberlist.state import Node, NodeRecord, ip_text_or
from serf_proto.memberlist.suspicion import Suspicion
from serf_proto.memberlist.table import NodeTable
from serf_proto.memberlist.versions import NO_VSN, valid_alive_vsn, verify_protocol, vsn_tuple
from serf_proto.types import Address, NodeState
from serf_proto.wire.messages import (
    Alive,
    Dead,
    PushNodeState,
    PushPull,
    Suspect,
    encode_message,
)

__all__ = ["Membership"]


class Membership:
    """Applies membership news to the node table; owns our incarnation and the suspicions."""

    __slots__ = (
        "_accused",
        "_awareness",
        "_ctx",
        "_gossip",
        "_leave_op",
        "_suspicions",
        "_table",
        "incarnation",
        "left",
    )

    def __init__(
        self, ctx: Context, table: NodeTable, gossip: Gossip, awareness: Awareness
    ) -> None:
        self._ctx = ctx
        self._table = table
        self._gossip = gossip
        self._awareness = awareness
        self._suspicions: dict[str, Suspicion] = {}
        #: when we last handed each node its accusation back (see ``_stale_alive``).
        self._accused: dict[str, float] = {}
        #: Our own incarnation; only we raise it.
        self.incarnation = ctx.config.initial_incarnation
        #: Whether ``leave`` was called.
        self.left = False
        self._leave_op: int | None = None

    # -- our own news ----------------------------------------------------------------------

    def set_alive(self, now: float) -> None:
        """Read our metadata from the delegate and announce ourselves with a new incarnation."""
        ctx = self._ctx
        meta = ctx.delegate.node_meta(META_MAX_SIZE, now)
        if len(meta) > META_MAX_SIZE:
            raise InvalidState(f"node meta of {len(meta)} bytes exceeds {META_MAX_SIZE}")
        self.incarnation += 1
        alive = Alive(self.incarnation, ctx.name, ctx.ip, ctx.port, meta, ctx.vsn_bytes)
        self.alive(alive, now, bootstrap=True)

    def leave(self, op: int, timeout: float, now: float) -> None:
        """Gossip our own dead message; ``LeaveCompleted(op)`` follows once it went out
        ``retransmit_limit`` times, or with an error after ``timeout`` seconds."""
        ctx = self._ctx
        if self.left:
            ctx.out.append(LeaveCompleted(op))
            return
        self.left = True
        self._leave_op = op
        me = self._table.local
        self.dead(Dead(me.incarnation, me.name, me.name), now)
        if not self._table.any_alive_peer():
            self._finish_leave(None)
        elif self._leave_op is not None:
            ctx.timers.schedule(LEAVE_DEADLINE, now + timeout)

    def leave_timed_out(self) -> None:
        """The :class:`LeaveDeadline` fell due."""
        if self._leave_op is None:
            self._ctx.stale(LEAVE_DEADLINE)
            return
        self._finish_leave("timeout waiting for leave broadcast")

    def _leave_broadcast_done(self) -> None:
        if self.left:
            self._finish_leave(None)

    def _finish_leave(self, error: str | None) -> None:
        op = self._leave_op
        if op is None:
            return
        self._leave_op = None
        self._ctx.timers.cancel(LEAVE_DEADLINE)
        self._ctx.out.append(LeaveCompleted(op, error))

    # -- news ------------------------------------------------------------------------------

    def alive(self, a: Alive, now: float, bootstrap: bool = False) -> None:
        """An alive message (``bootstrap``: our own, at start or after ``update_node``)."""
        ctx = self._ctx
        cfg = ctx.config
        table = self._table
        rec = table.get(a.node)
        port = a.port if (cfg.protocol_version >= 2 and a.port) else cfg.bind_port
        is_local = a.node == ctx.name
        if (
            rec is not None
            and a.incarnation <= rec.incarnation
            and not is_local
            and rec.ip == a.addr
            and rec.addr.port == port
        ):
            # Old news (the common case in gossip); the rules below would ignore it.
            if rec.state is not NodeState.ALIVE and cfg.resend_accusations:
                self._stale_alive(rec, a.incarnation, now)
            return
        if self.left and is_local:
            return
        if not is_local and not cfg.ip_allowed(a.addr):
            ctx.log.warning(
                "Rejected node %s (%s): %s is not allowed",
                a.node,
                ip_text_or(a.addr, "?"),
                ip_text_or(a.addr, "?"),
            )
            ctx.stats.drop(DropReason.CIDR_DENIED)
            return
        vsn = a.vsn
        if not valid_alive_vsn(vsn):
            ctx.log.warning(
                "Ignoring an alive message for '%s' (%s:%d) with invalid protocol versions: %s",
                a.node,
                ip_text_or(a.addr, "?"),
                a.port,
                list(vsn),
            )
            ctx.stats.drop(DropReason.BAD_VSN)
            return
        delegate = ctx.delegate
        if ctx.hooks.alive and (not bootstrap or not is_local):
            err = delegate.notify_alive(_node_from_alive(a, port, rec), now)
            if err is not None:
                ctx.log.warning("ignoring alive message for '%s': %s", a.node, err)
                ctx.stats.drop(DropReason.ALIVE_VETOED)
                return
        address_changed = rec is not None and (rec.ip != a.addr or rec.addr.port != port)
        can_reclaim = (
            rec is not None
            and cfg.dead_node_reclaim_time > 0
            and now - rec.state_change > cfg.dead_node_reclaim_time
        )
        verdict = alive_verdict(
            known_state=None if rec is None else rec.state,
            known_incarnation=0 if rec is None else rec.incarnation,
            incarnation=a.incarnation,
            is_local=is_local,
            address_changed=address_changed,
            can_reclaim=can_reclaim,
            bootstrap=bootstrap,
            identical_to_local=rec is not None and a.meta == rec.meta and vsn == ctx.vsn_bytes,
        )
        if verdict is Verdict.IGNORE:
            return
        if verdict is Verdict.CONFLICT:
            assert rec is not None
            ctx.log.error(
                "Conflicting address for %s. Mine: %s Theirs: %s:%d Old state: %d",
                a.node,
                rec.addr,
                ip_text_or(a.addr, "?"),
                port,
                int(rec.state),
            )
            delegate.notify_conflict(rec.snapshot(), _node_from_alive(a, port, rec), now)
            return
        if rec is None:
            rec = NodeRecord(
                a.node,
                a.addr,
                port,
                a.meta,
                0,
                NodeState.DEAD,
                vsn_tuple(vsn) if vsn else NO_VSN,
                now,
            )
            table.add(rec, ctx.rng)
        elif address_changed:
            ctx.log.info(
                "Updating address for left or failed node %s from %s to %s:%d",
                a.node,
                rec.addr,
                ip_text_or(a.addr, "?"),
                port,
            )
        self._end_suspicion(a.node)
        old_state = rec.state
        old_meta = rec.meta
        if verdict is Verdict.REFUTE:
            rec = self._refute(rec, a.incarnation, now)
            ctx.log.warning(
                "Refuting an alive message for '%s' (%s:%d)",
                a.node,
                ip_text_or(a.addr, "?"),
                port,
            )
        else:
            self._gossip.broadcast(a.node, a, now)
            rec = table.change(
                rec,
                now,
                incarnation=a.incarnation,
                state=NodeState.ALIVE,
                meta=a.meta,
                vsn=vsn_tuple(vsn) if vsn else None,
                address=(a.addr, port),
            )
        if old_state >= NodeState.DEAD:
            delegate.notify_join(rec.snapshot(), now)
        elif old_meta != rec.meta:
            delegate.notify_update(rec.snapshot(), now)

    def suspect(self, s: Suspect, now: float) -> None:
        """A suspect message: start a suspicion, confirm one, or refute it about ourselves."""
        ctx = self._ctx
        rec = self._table.get(s.node)
        susp = self._suspicions.get(s.node)
        verdict = suspect_verdict(
            known_state=None if rec is None else rec.state,
            known_incarnation=0 if rec is None else rec.incarnation,
            incarnation=s.incarnation,
            is_local=s.node == ctx.name,
            suspected=susp is not None,
        )
        if verdict is Verdict.IGNORE:
            return
        assert rec is not None
        if verdict is Verdict.CONFIRM:
            assert susp is not None
            if susp.confirm(s.from_node, now):
                self._gossip.broadcast(s.node, s, now)
                expiry = SuspicionExpiry(s.node, susp.incarnation)
                ctx.timers.schedule(expiry, max(susp.deadline, now))
            return
        if verdict is Verdict.REFUTE:
            self._refute(rec, s.incarnation, now)
            ctx.log.warning("Refuting a suspect message (from: %s)", s.from_node)
            return
        self._gossip.broadcast(s.node, s, now)
        ctx.stats.suspicions += 1
        self._table.change(rec, now, incarnation=s.incarnation, state=NodeState.SUSPECT)
        cfg = ctx.config
        k = cfg.suspicion_mult - 2
        n = len(self._table)
        if n - 2 < k:
            k = 0
        minimum = suspicion_timeout(cfg.suspicion_mult, n, cfg.probe_interval)
        maximum = cfg.suspicion_max_timeout_mult * minimum
        susp = Suspicion(s.from_node, k, minimum, maximum, now, s.incarnation)
        self._suspicions[s.node] = susp
        ctx.timers.schedule(SuspicionExpiry(s.node, s.incarnation), susp.deadline)

    def suspicion_expired(self, expiry: SuspicionExpiry, now: float) -> None:
        """A :class:`SuspicionExpiry` fell due: declare the node dead, unless it moved on."""
        ctx = self._ctx
        name = expiry.name
        susp = self._suspicions.get(name)
        if susp is None or susp.incarnation != expiry.incarnation:
            ctx.stale(expiry)
            return
        del self._suspicions[name]
        rec = self._table.get(name)
        if rec is None or rec.state != NodeState.SUSPECT or rec.state_change != susp.start:
            ctx.stale(expiry)
            return
        ctx.log.info(
            "Marking %s as failed, suspect timeout reached (%d peer confirmations)",
            name,
            susp.n,
        )
        ctx.stats.dead_declared += 1
        self.dead(Dead(rec.incarnation, name, ctx.name), now)

    def dead(self, d: Dead, now: float) -> None:
        """A dead message (a leave when ``from_node == node``)."""
        ctx = self._ctx
        rec = self._table.get(d.node)
        if rec is None or d.incarnation < rec.incarnation:
            return
        self._end_suspicion(d.node)
        is_local = d.node == ctx.name
        verdict = dead_verdict(
            known_state=rec.state,
            known_incarnation=rec.incarnation,
            incarnation=d.incarnation,
            is_local=is_local,
            leaving=self.left,
        )
        if verdict is Verdict.IGNORE:
            return
        if verdict is Verdict.REFUTE:
            self._refute(rec, d.incarnation, now)
            ctx.log.warning("Refuting a dead message (from: %s)", d.from_node)
            return
        if is_local:
            self._gossip.broadcast(d.node, d, now, self._leave_broadcast_done)
        else:
            self._gossip.broadcast(d.node, d, now)
        state = NodeState.LEFT if d.node == d.from_node else NodeState.DEAD
        rec = self._table.change(rec, now, incarnation=d.incarnation, state=state)
        ctx.delegate.notify_leave(rec.snapshot(), now)

    def merge(self, msg: PushPull, now: float) -> str | None:
        """Merge a peer's push/pull; returns why it was refused (None: merged)."""
        ctx = self._ctx
        error = verify_protocol(msg.states, self._table.order)
        if error is not None:
            return error
        if ctx.hooks.merge:
            veto = ctx.delegate.notify_merge(remote_nodes(msg.states), now)
            if veto is not None:
                return veto
        for news in merge_news(msg.states, ctx.name, self._is_old_news):
            match news:
                case Alive():
                    self.alive(news, now)
                case Dead():
                    self.dead(news, now)
                case Suspect():
                    self.suspect(news, now)
        if msg.user_state:
            ctx.delegate.merge_remote_state(msg.user_state, msg.join, now)
        return None

    def forget(self, names: list[str]) -> None:
        """The table reaped ``names``: their suspicions (if any) are over."""
        for name in names:
            self._end_suspicion(name)
            self._accused.pop(name, None)

    # -- helpers ---------------------------------------------------------------------------

    def _stale_alive(self, rec: NodeRecord, incarnation: int, now: float) -> None:
        """A node we hold suspect or dead gossips an alive no newer than the accusation: it
        has not heard it (it restarted, or the news never reached it), so send it the
        accusation; it refutes with a higher incarnation (``rules.resend_accusation``)."""
        ctx = self._ctx
        last = self._accused.get(rec.name)
        if not resend_accusation(
            known_state=rec.state,
            known_incarnation=rec.incarnation,
            incarnation=incarnation,
            is_local=False,
            since_last=None if last is None else now - last,
            min_gap=ctx.config.probe_interval,
        ):
            return
        self._accused[rec.name] = now
        ctx.stats.accusations_resent += 1
        msg: Dead | Suspect
        if rec.state is NodeState.DEAD:
            msg = Dead(rec.incarnation, rec.name, ctx.name)
        else:
            msg = Suspect(rec.incarnation, rec.name, ctx.name)
        self._gossip.send(rec.addr, encode_message(msg), rec, now)

    def _end_suspicion(self, name: str) -> None:
        susp = self._suspicions.pop(name, None)
        if susp is not None:
            self._ctx.timers.cancel(SuspicionExpiry(name, susp.incarnation))

    def _refute(self, me: NodeRecord, accused: int, now: float) -> NodeRecord:
        self.incarnation += 1
        if accused >= self.incarnation:
            self.incarnation = accused + 1
        me = self._table.change(me, now, incarnation=self.incarnation)
        ctx = self._ctx
        ctx.stats.refutations += 1
        self._awareness.apply_delta(1)
        alive = Alive(me.incarnation, me.name, me.ip, me.addr.port, me.meta, ctx.vsn_bytes)
        self._gossip.broadcast(me.name, alive, now)
        return me

    def _is_old_news(self, s: PushNodeState) -> bool:
        """Whether a peer's *alive* entry changes nothing here: a known node, same address,
        no newer incarnation (what :meth:`alive` would return on at once)."""
        ctx = self._ctx
        rec = self._table.get(s.name)
        if rec is None or s.incarnation > rec.incarnation or s.name == ctx.name:
            return False
        cfg = ctx.config
        port = s.port if (cfg.protocol_version >= 2 and s.port) else cfg.bind_port
        return rec.ip == s.addr and rec.addr.port == port


def _node_from_alive(a: Alive, port: int, rec: NodeRecord | None) -> Node:
    vsn = vsn_tuple(a.vsn) if len(a.vsn) == 6 else (rec.vsn if rec else NO_VSN)
    return Node(
        a.node,
        Address(ip_text_or(a.addr, ""), port),
        a.meta,
        NodeState.ALIVE,
        a.incarnation,
        vsn,
    )
