"""Failure detection: the probe round, indirect and TCP fallback probes, relays (Go ``probe``,
``probeNode``, ``handlePing``, ``handleIndirectPing``, ``handleAck``, ``handleNack``).

Every ``probe_interval`` the next node of a random walk over the table (see
:meth:`NodeTable.next_in_round`; the end of a round reaps long-dead nodes) gets a ping. A node
that is not alive gets ``[ping, suspect]`` so it can refute (the buddy system). The probe is one
:class:`Probe` record that moves through three phases, each ended by a deadline:

1. **direct**: wait ``probe_timeout`` (:class:`ProbeTimeout`) for the ack;
2. **indirect**: ask ``indirect_checks`` random alive peers to ping the target for us (peers
   with protocol ≥ 4 promise a nack if they get no ack, so silence from them is evidence
   against *us*), and open a TCP ping in parallel (protocol ≥ 3); wait for the end of the
   awareness-scaled interval (:class:`ProbeEnd`);
3. **wait for TCP**: at the end, a TCP ping still connecting gets to finish (Go waits for the
   fallback goroutine).

Any ack ends the probe well: the Lifeguard health score improves. No ack makes the target
suspect; the health score worsens by the nacks that did *not* come (or by one). A TCP ping that
got through while UDP failed says the network is misconfigured, not the node dead.

A *lone ping* (:meth:`Prober.ping_address`) is a ping to an address outside the probe round,
for the layer above (self-healing pings failed members with it): its callback learns whether
an ack came within ``probe_timeout`` (:class:`PingExpiry`); it never changes the table.

Each probe tick also asks :func:`~serf_proto.memberlist.rules.unprobed_push_pull` whether
nobody has pinged *us* for long (pyserf): our peers have then lost us, and we push/pull with a
random one to be found again.

A relay (:class:`Relay`) is an indirect ping we run for a peer: we ping the target under a
sequence number of our own and pass its ack back, or a nack when ``probe_timeout`` passes
(:class:`RelayExpiry`). Every deadline carries the sequence number it belongs to; one that falls
due after its probe or relay is over is stale.
"""

from __future__ import annotations

from collections.abc import Callable

from serf_proto.drops import DropReason
from serf_proto.memberlist.awareness import Awareness
from serf_proto.memberlist.context import Context
from serf_proto.memberlist.deadlines import (
    PROBE_TICK,
    PingExpiry,
    ProbeEnd,
    ProbeTimeout,
    RelayExpiry,
    next_tick,
)
from serf_proto.memberlist.gossip import Gossip
from serf_proto.memberlist.membership import Membership
from serf_proto.memberlist.rules import unprobed_push_pull
from serf_proto.memberlist.sessions import Phase, Probe, Relay
from serf_proto.memberlist.state import NodeRecord, ip_bytes, ip_text_or
from serf_proto.memberlist.streams import Streams
from serf_proto.memberlist.table import NodeTable
from serf_proto.types import Address, NodeState
from serf_proto.wire.framing import make_compound
from serf_proto.wire.messages import Ack, IndirectPing, Nack, Ping, Suspect, encode_message

__all__ = ["Prober"]


class Prober:
    """The failure detector of one memberlist: at most one probe in flight, plus relays."""

    __slots__ = (
        "_awareness",
        "_ctx",
        "_gossip",
        "_membership",
        "_pinged_at",
        "_pings",
        "_probe",
        "_relays",
        "_seq_no",
        "_streams",
        "_table",
        "_tick_at",
    )

    def __init__(
        self,
        ctx: Context,
        table: NodeTable,
        gossip: Gossip,
        membership: Membership,
        streams: Streams,
        awareness: Awareness,
    ) -> None:
        self._ctx = ctx
        self._table = table
        self._gossip = gossip
        self._membership = membership
        self._streams = streams
        self._awareness = awareness
        self._probe: Probe | None = None
        self._relays: dict[int, Relay] = {}
        self._pings: dict[int, Callable[[bool, float], None]] = {}
        self._seq_no = 0
        self._tick_at: float | None = None
        #: when a ping for us last arrived (start counts as one; see ``rules``).
        self._pinged_at = 0.0

    # -- the probe round -------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Arm the first probe at a random point of the interval (unless probing is off)."""
        ctx = self._ctx
        interval = ctx.config.probe_interval
        self._pinged_at = now
        if interval > 0:
            self._tick_at = now + ctx.rng.random() * interval
            ctx.timers.schedule(PROBE_TICK, self._tick_at)

    def tick(self, now: float) -> None:
        """Re-arm the ticker on its phase, then probe the next node of the round."""
        ctx = self._ctx
        prev = now if self._tick_at is None else self._tick_at
        self._tick_at = next_tick(prev, now, ctx.config.probe_interval)
        ctx.timers.schedule(PROBE_TICK, self._tick_at)
        self._check_unprobed(now)
        if self._probe is not None:
            return  # the previous probe still runs; Go's ticker drops this tick
        table = self._table
        me = ctx.name
        checked = 0
        while checked < len(table.order):
            rec = table.next_in_round(ctx.rng)
            if rec is None:
                # The round is over: forget nodes dead for long enough, start the next one.
                gone = table.reap(now, ctx.config.gossip_to_the_dead_time)
                self._membership.forget(gone)
                checked += 1
                continue
            if rec.name == me or rec.state >= NodeState.DEAD:
                checked += 1
                continue
            self._probe_node(rec, now)
            return

    def _check_unprobed(self, now: float) -> None:
        """Nobody pinged us for long: our peers may have lost us; push/pull to be found."""
        ctx = self._ctx
        cfg = ctx.config
        since = now - self._pinged_at
        if since < cfg.unprobed_push_pull * cfg.probe_interval:
            return  # the common case, decided without walking the table
        has_peers = self._table.any_alive_peer()
        if not unprobed_push_pull(
            since_pinged=since,
            probe_interval=cfg.probe_interval,
            rounds=cfg.unprobed_push_pull,
            has_peers=has_peers,
        ):
            if not has_peers:
                self._pinged_at = now  # alone: nobody could ping us; count from the first peer
            return
        self._pinged_at = now
        ctx.stats.unprobed_push_pulls += 1
        ctx.log.info("No ping for us in %.1f s: pushing/pulling to be found", since)
        self._streams.push_pull_random(now)

    def _probe_node(self, rec: NodeRecord, now: float) -> None:
        ctx = self._ctx
        cfg = ctx.config
        seq = self._next_seq()
        interval = self._awareness.scale_timeout(cfg.probe_interval)
        self._probe = Probe(rec.snapshot(), seq, now, now + interval)
        ctx.stats.probes_sent += 1
        ping = encode_message(Ping(seq, rec.name, ctx.ip, ctx.port, ctx.name))
        if rec.state == NodeState.ALIVE:
            self._gossip.send(rec.addr, ping, rec, now)
        else:
            suspect = encode_message(Suspect(rec.incarnation, rec.name, ctx.name))
            self._gossip.send_raw(rec.addr, make_compound([ping, suspect]), rec)
        # The end of the probe is armed when the direct ping times out: most probes are acked
        # before that, and then there is one deadline to cancel, not two.
        ctx.timers.schedule(self._probe.timeout, now + cfg.probe_timeout)

    def direct_timeout(self, timer: ProbeTimeout, now: float) -> None:
        """No direct ack in time: go indirect, and try TCP."""
        probe = self._probe
        if probe is None or probe.seq != timer.seq or probe.phase is not Phase.DIRECT:
            self._ctx.stale(timer)
            return
        ctx = self._ctx
        cfg = ctx.config
        seq = probe.seq
        probe.end = ProbeEnd(seq)
        ctx.timers.schedule(probe.end, probe.deadline)
        probe.phase = Phase.INDIRECT
        target = probe.target
        me = ctx.name

        def exclude(rec: NodeRecord) -> bool:
            return rec.name == me or rec.name == target.name or rec.state != NodeState.ALIVE

        for peer in self._table.k_random(cfg.indirect_checks, exclude, ctx.rng):
            nack = peer.vsn[1] >= 4
            if nack:
                probe.expected_nacks += 1
            req = IndirectPing(
                seq,
                ip_bytes(target.addr.host),
                target.addr.port,
                target.name,
                nack,
                ctx.ip,
                ctx.port,
                me,
            )
            ctx.stats.indirect_probes_sent += 1
            self._gossip.send(peer.addr, encode_message(req), peer, now)
        if not cfg.disable_tcp_pings and target.vsn[1] >= 3:
            timeout = max(probe.deadline - now, 0.0)
            probe.tcp_sid = self._streams.open_tcp_ping(
                target.addr, seq, target.name, timeout, now, self._tcp_ping_done
            )
            ctx.stats.tcp_probes_sent += 1

    def probe_end(self, timer: ProbeEnd, now: float) -> None:
        """The probe's interval is over: the target is suspect, unless TCP may still save it."""
        probe = self._probe
        if probe is None or probe.seq != timer.seq:
            self._ctx.stale(timer)
            return
        if probe.tcp_sid is not None and self._streams.is_open(probe.tcp_sid):
            probe.phase = Phase.WAIT_TCP  # Go waits for the fallback goroutine's verdict
            return
        self._failed(probe, now)

    def _tcp_ping_done(self, sid: int, ok: bool, now: float) -> None:
        probe = self._probe
        if probe is None or probe.tcp_sid != sid:
            return
        probe.tcp_ok = ok
        probe.tcp_sid = None
        if probe.phase is Phase.WAIT_TCP:
            self._failed(probe, now)

    def _finish(self, probe: Probe) -> None:
        """The probe is over: forget it and whichever of its deadlines is still pending."""
        self._probe = None
        timers = self._ctx.timers
        if probe.phase is Phase.DIRECT:
            timers.cancel(probe.timeout)
        elif probe.end is not None:
            timers.cancel(probe.end)

    def _succeeded(self, probe: Probe) -> None:
        self._finish(probe)
        self._awareness.apply_delta(-1)

    def _failed(self, probe: Probe, now: float) -> None:
        self._finish(probe)
        ctx = self._ctx
        target = probe.target
        if probe.tcp_ok:
            ctx.log.warning(
                "Was able to connect to %s but other probes failed, network may be misconfigured",
                target.name,
            )
            self._awareness.apply_delta(-1)
            return
        if probe.expected_nacks > 0:
            delta = max(probe.expected_nacks - probe.nacks, 0)
        else:
            delta = 1
        self._awareness.apply_delta(delta)
        ctx.stats.probes_failed += 1
        ctx.log.info("Suspect %s has failed, no acks received", target.name)
        self._membership.suspect(Suspect(target.incarnation, target.name, ctx.name), now)

    # -- pings, acks and nacks from peers --------------------------------------------------

    def on_ping(self, ping: Ping, addr: Address, now: float) -> None:
        """Ack a ping for us, with the delegate's payload, to the address it names."""
        ctx = self._ctx
        if ping.node and ping.node != ctx.name:
            ctx.log.warning("Got ping for unexpected node '%s' from=%s", ping.node, addr)
            ctx.stats.drop(DropReason.PING_WRONG_NODE)
            return
        self._pinged_at = now
        ack = Ack(ping.seq_no, ctx.delegate.ack_payload(now))
        dest = _reply_addr(ping.source_addr, ping.source_port, addr)
        self._gossip.send(dest, encode_message(ack), None, now)

    def on_indirect_ping(self, req: IndirectPing, addr: Address, now: float) -> None:
        """Ping a target for a peer, and relay the outcome back to it."""
        ctx = self._ctx
        cfg = ctx.config
        port = req.port
        if cfg.protocol_version < 2 or port == 0:
            port = cfg.bind_port
        target = Address(ip_text_or(req.target, ""), port)
        if not target.host:
            ctx.stats.drop(DropReason.BAD_INDIRECT_TARGET)
            return
        seq = self._next_seq()
        requester = _reply_addr(req.source_addr, req.source_port, addr)
        self._relays[seq] = Relay(req.seq_no, requester, req.nack)
        ctx.timers.schedule(RelayExpiry(seq), now + cfg.probe_timeout)
        ping = Ping(seq, req.node, ctx.ip, ctx.port, ctx.name)
        self._gossip.send(target, encode_message(ping), None, now)

    def on_ack(self, ack: Ack, now: float) -> None:
        """An ack for our probe (the delegate learns the RTT of a direct one) or a relay."""
        ctx = self._ctx
        seq = ack.seq_no
        probe = self._probe
        if probe is not None and probe.seq == seq:
            ctx.stats.acks_received += 1
            if probe.phase is Phase.DIRECT and ctx.hooks.ping:
                rec = self._table.get(probe.target.name)
                node = rec.snapshot() if rec is not None else probe.target
                ctx.delegate.notify_ping_complete(node, now - probe.sent, ack.payload, now)
            self._succeeded(probe)
            return
        relay = self._relays.pop(seq, None)
        if relay is not None:
            ctx.stats.acks_received += 1
            ctx.timers.cancel(RelayExpiry(seq))
            self._gossip.send(relay.requester, encode_message(Ack(relay.orig_seq)), None, now)
            return
        done = self._pings.pop(seq, None)
        if done is not None:
            ctx.stats.heal_pings_answered += 1
            ctx.timers.cancel(PingExpiry(seq))
            done(True, now)
            return
        ctx.stats.drop(DropReason.UNKNOWN_ACK)

    def on_nack(self, nack: Nack) -> None:
        """A helper of our probe got no ack from the target."""
        probe = self._probe
        ctx = self._ctx
        if probe is not None and probe.seq == nack.seq_no:
            ctx.stats.nacks_received += 1
            probe.nacks += 1
        else:
            ctx.stats.drop(DropReason.UNKNOWN_NACK)

    def relay_expired(self, timer: RelayExpiry, now: float) -> None:
        """The target of a relayed ping stayed silent: nack the requester if it asked."""
        relay = self._relays.pop(timer.seq, None)
        if relay is None:
            self._ctx.stale(timer)
            return
        if relay.nack:
            self._gossip.send(relay.requester, encode_message(Nack(relay.orig_seq)), None, now)

    # -- lone pings --------------------------------------------------------------------------

    def ping_address(
        self, addr: Address, name: str, now: float, done: Callable[[bool, float], None]
    ) -> None:
        """Ping ``name`` at ``addr`` once; ``done(acked, now)`` runs on the ack or after
        ``probe_timeout``. A plain Go ping: any node answers it."""
        ctx = self._ctx
        seq = self._next_seq()
        self._pings[seq] = done
        ctx.stats.heal_pings_sent += 1
        ctx.timers.schedule(PingExpiry(seq), now + ctx.config.probe_timeout)
        ping = Ping(seq, name, ctx.ip, ctx.port, ctx.name)
        self._gossip.send_raw(addr, encode_message(ping), None)

    def ping_expired(self, timer: PingExpiry, now: float) -> None:
        """A lone ping got no ack in time."""
        done = self._pings.pop(timer.seq, None)
        if done is None:
            self._ctx.stale(timer)
            return
        done(False, now)

    def shutdown(self) -> None:
        """Forget the probe, relays and lone pings in flight."""
        self._pings.clear()
        self._relays.clear()
        self._probe = None

    def _next_seq(self) -> int:
        self._seq_no = (self._seq_no + 1) & 0xFFFFFFFF
        return self._seq_no


def _reply_addr(source_addr: bytes, source_port: int, fallback: Address) -> Address:
    """Where to answer: the source a message names, else the address it came from."""
    if source_addr and source_port:
        return Address(ip_text_or(source_addr, fallback.host), source_port)
    return fallback
