"""Membership: the member table driven by memberlist's node events, by gossiped intents and by
push/pull anti-entropy.

The transition rules live in :mod:`serf_proto.serf.members` (pure: they return what happened);
this machine carries them out:

* memberlist's join / leave / update of a node become member events, Go's log lines and
  metric counters (``member.join``, ``member.flap``, ...);
* join and leave **intents** (``messageJoin``/``messageLeave``) witness the member clock and are
  applied to the table; a leave intent about us while we are alive is refuted with a fresh join
  intent, a forced leave emits ``member-leave``, a pruning one erases the member (after
  ``broadcast_timeout + leave_propagate_delay`` when it is still leaving, a ``PruneMember``
  timer);
* the **reaper** erases members failed or left for too long (``member-reap``) and expires
  buffered intents;
* **push/pull** carries our clocks, every member's status time, the left members and the user
  event ring; merging a peer's replays them as intents and user events;
* every node memberlist would add (join, push/pull merge, alive news) passes Go ≥ 0.9.5's checks
  (:func:`member_info_error`) and then the user's ``merge_hook`` (:meth:`Membership.veto`).
"""

from __future__ import annotations

from collections.abc import Callable

from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError
from serf_proto.events import MemberEvent, MemberEventType
from serf_proto.memberlist.state import Node, ip_bytes
from serf_proto.serf.broadcasts import Broadcasts, Lane
from serf_proto.serf.config import node_name_error
from serf_proto.serf.context import NodeContext, SerfState
from serf_proto.serf.coordinates import Coordinates
from serf_proto.serf.members import MemberTable
from serf_proto.serf.pipeline import EventPipeline
from serf_proto.serf.timers import PruneMember, Reap
from serf_proto.serf.user_events import UserEvents
from serf_proto.types import Member, MemberStatus, NodeState
from serf_proto.wire import (
    MessageJoin,
    MessageLeave,
    MessagePushPull,
    MessageUserEvent,
    SerfMessageType,
    decode_serf_message,
    decode_tags,
    encode_serf_message,
)
from serf_proto.wire.limits import META_MAX_SIZE

__all__ = ["Membership", "member_info_error"]


def member_info_error(node: Node, *, validate_names: bool) -> str | None:
    """Go ≥ 0.9.5 ``validateMemberInfo`` for a joining node: why it is refused, or ``None``.

    The name (only with ``validate_names``), an address of 4 or 16 bytes, tags within the
    meta limit; the texts are Go's.
    """
    if validate_names and (error := node_name_error(node.name)):
        return error
    ip = ip_bytes(node.addr.host)
    if len(ip) not in (4, 16):
        return f"IP byte length is invalid: {len(ip)} bytes is not either 4 or 16"
    if len(node.meta) > META_MAX_SIZE:
        return f"Encoded length of tags exceeds limit of {META_MAX_SIZE} bytes"
    return None


class Membership:
    """One node's member table and the inputs that change it; see the module docstring.

    ``ignoring_old()`` says whether an ``ignore_old`` join runs (the push/pull merge then
    raises the user events' floor to the peer's event clock).
    """

    __slots__ = (
        "_broadcasts",
        "_coords",
        "_ctx",
        "_ignoring_old",
        "_pipeline",
        "_user_events",
        "table",
    )

    def __init__(
        self,
        ctx: NodeContext,
        *,
        pipeline: EventPipeline,
        broadcasts: Broadcasts,
        coords: Coordinates,
        user_events: UserEvents,
        ignoring_old: Callable[[], bool],
    ) -> None:
        self._ctx = ctx
        self._pipeline = pipeline
        self._broadcasts = broadcasts
        self._coords = coords
        self._user_events = user_events
        self._ignoring_old = ignoring_old
        self.table = MemberTable(ctx.name)

    def has_alive_peers(self) -> bool:
        """Whether any other member is alive (anyone to gossip an intent to)."""
        name = self._ctx.name
        return any(
            m.status == MemberStatus.ALIVE and m.name != name for m in self.table.members.values()
        )

    # ------------------------------------------------------------------------------------------
    # memberlist's node events

    def veto(self, nodes: list[Node]) -> str | None:
        """Why memberlist must not add ``nodes`` (Go's merge delegate), or ``None``."""
        config = self._ctx.config
        for node in nodes:
            error = member_info_error(node, validate_names=config.validate_node_names)
            if error is not None:
                return error
        if config.merge_hook is None:
            return None
        members = []
        for node in nodes:
            tags, proto, dele = self._fields(node)
            status = MemberStatus.LEFT if node.state is NodeState.LEFT else MemberStatus.NONE
            members.append(Member(node.name, node.addr, tags, status, proto, dele))
        return config.merge_hook(members)

    def _fields(
        self, node: Node
    ) -> tuple[dict[str, str], tuple[int, int, int], tuple[int, int, int]]:
        try:
            tags = decode_tags(node.meta)
        except DecodeError:
            self._ctx.stats.drop(DropReason.BAD_META)
            tags = {}
        v = node.vsn
        return tags, (v[0], v[1], v[2]), (v[3], v[4], v[5])

    def node_joined(self, node: Node, now: float) -> None:
        """Memberlist reports ``node`` alive."""
        ctx = self._ctx
        tags, proto, dele = self._fields(node)
        member, flapped = self.table.node_joined(
            node.name, node.addr, tags, proto, dele, now, ctx.config.flap_timeout
        )
        if flapped:
            ctx.stats.count("member.flap")
        ctx.stats.count("member.join")
        ctx.log.info("EventMemberJoin: %s %s", member.name, member.addr.host)
        self._pipeline.member_event(MemberEventType.JOIN, member, now)

    def node_gone(self, node: Node, now: float) -> None:
        """Memberlist reports ``node`` dead or left."""
        ctx = self._ctx
        member = self.table.node_gone(node.name, now)
        if member is None:
            existing = self.table.get(node.name)
            if existing is not None:
                ctx.log.warning("Bad state when leave: %d", existing.status.code)
            return
        if member.status == MemberStatus.LEFT:
            ctx.stats.count("member.left")
            ctx.log.info("EventMemberLeave: %s %s", member.name, member.addr.host)
            self._pipeline.member_event(MemberEventType.LEAVE, member, now)
        else:
            ctx.stats.count("member.failed")
            ctx.log.info("EventMemberFailed: %s %s", member.name, member.addr.host)
            self._pipeline.member_event(MemberEventType.FAILED, member, now)

    def node_updated(self, node: Node, now: float) -> None:
        """Memberlist reports new meta for ``node``."""
        ctx = self._ctx
        tags, proto, dele = self._fields(node)
        member = self.table.node_updated(node.name, node.addr, tags, proto, dele)
        if member is None:
            return
        ctx.stats.count("member.update")
        ctx.log.info("EventMemberUpdate: %s", member.name)
        self._pipeline.member_event(MemberEventType.UPDATE, member, now)

    # ------------------------------------------------------------------------------------------
    # intents

    def join_intent(self, name: str, ltime: int, now: float) -> bool:
        """Apply a join intent; returns whether to gossip it on."""
        self._ctx.clock.witness(ltime)
        return self.table.apply_join_intent(name, ltime, now)

    def leave_intent(self, msg: MessageLeave, now: float) -> bool:
        """Apply a leave intent; returns whether to gossip it on."""
        ctx = self._ctx
        ctx.clock.witness(msg.ltime)
        res = self.table.apply_leave_intent(
            msg.node, msg.ltime, msg.prune, now, local_alive=ctx.state is SerfState.ALIVE
        )
        if res.refute:
            ctx.log.debug("Refuting an older leave intent")
            self.broadcast_join(now)
            return False
        if res.left is not None:
            ctx.log.info("EventMemberLeave (forced): %s %s", res.left.name, res.left.addr.host)
            self._pipeline.emit(MemberEvent(MemberEventType.LEAVE, (res.left,)), now)
        if res.prune is not None:
            if res.prune.status == MemberStatus.LEAVING:
                delay = ctx.config.broadcast_timeout + ctx.config.leave_propagate_delay
                ctx.timers.schedule(PruneMember(res.prune.name), now + delay)
            else:
                self.prune(res.prune.name, now)
        return res.rebroadcast

    def broadcast_join(self, now: float) -> None:
        """Gossip a join intent for us at the current member time."""
        ctx = self._ctx
        ltime = ctx.clock.time()
        msg = MessageJoin(ltime, ctx.name)
        ctx.clock.witness(ltime)
        self.join_intent(msg.node, msg.ltime, now)
        self._broadcasts.queue(Lane.INTENT, encode_serf_message(msg), now)

    def leave_intent_for(
        self,
        name: str,
        prune: bool,
        now: float,
        on_sent: Callable[[float], None] | None = None,
    ) -> bool:
        """Declare ``name`` leaving (us, for a graceful leave; anyone, for ``force_leave``) and
        gossip it when anyone is alive to hear it (``on_sent`` runs once it went out); returns
        whether it was gossiped."""
        ctx = self._ctx
        msg = MessageLeave(ctx.clock.time(), name, prune)
        ctx.clock.increment()
        self.leave_intent(msg, now)
        if not self.has_alive_peers():
            return False
        self._broadcasts.queue(Lane.INTENT, encode_serf_message(msg), now, on_sent)
        return True

    # ------------------------------------------------------------------------------------------
    # erasing members

    def prune(self, name: str, now: float) -> None:
        """Erase ``name`` now (a pruning force-leave)."""
        member = self.table.erase(name)
        if member is None:
            return
        self._ctx.log.info("EventMemberReap (forced): %s %s", member.name, member.addr.host)
        self._coords.forget(name)
        self._pipeline.member_event(MemberEventType.REAP, member, now)

    def on_prune(self, timer: PruneMember, now: float) -> bool:
        """``PruneMember`` fired; False when the member was gone already (stale)."""
        if self.table.get(timer.name) is None:
            return False
        self.prune(timer.name, now)
        return True

    def on_reap(self, now: float) -> None:
        """``Reap`` fired: erase expired members and intents, schedule the next reap."""
        ctx = self._ctx
        config = ctx.config
        due = self.table.reap(
            now,
            config.reconnect_timeout,
            config.tombstone_timeout,
            config.reconnect_timeout_override,
        )
        for name in due:
            member = self.table.erase(name)
            if member is None:
                continue
            self._coords.forget(name)
            self._pipeline.forget(name)
            ctx.log.info("EventMemberReap: %s", name)
            self._pipeline.member_event(MemberEventType.REAP, member, now)
        self.table.reap_intents(now, config.recent_intent_timeout)

    def schedule_reap(self, now: float) -> None:
        """Schedule the next ``Reap``."""
        self._ctx.timers.schedule(Reap(), now + self._ctx.config.reap_interval)

    # ------------------------------------------------------------------------------------------
    # push/pull

    def local_state(self) -> bytes:
        """Our ``messagePushPull``."""
        ctx = self._ctx
        table = self.table
        msg = MessagePushPull(
            ltime=ctx.clock.time(),
            status_ltimes={n: m.status_ltime for n, m in table.members.items()},
            left_members=tuple(m.name for m in table.left),
            event_ltime=ctx.event_clock.time(),
            events=self._user_events.buffer.snapshot(),
            query_ltime=ctx.query_clock.time(),
        )
        return encode_serf_message(msg)

    def merge_remote_state(self, buf: bytes, join: bool, now: float) -> None:
        """Merge a peer's ``messagePushPull``."""
        ctx = self._ctx
        if not buf or buf[0] != SerfMessageType.PUSH_PULL:
            ctx.log.error("Remote state is zero bytes or has a bad type")
            ctx.stats.drop(DropReason.BAD_REMOTE_STATE)
            return
        try:
            pp = decode_serf_message(buf)
        except DecodeError as exc:
            ctx.log.error("Failed to decode remote state: %s", exc)
            ctx.stats.drop(DropReason.BAD_REMOTE_STATE)
            return
        assert isinstance(pp, MessagePushPull)
        if pp.ltime > 0:
            ctx.clock.witness(pp.ltime - 1)
        if pp.event_ltime > 0:
            ctx.event_clock.witness(pp.event_ltime - 1)
        if pp.query_ltime > 0:
            ctx.query_clock.witness(pp.query_ltime - 1)
        left = set(pp.left_members)
        for name in pp.left_members:
            ltime = pp.status_ltimes.get(name, 0)
            self.leave_intent(MessageLeave(ltime + 1, name), now)
        for name, ltime in pp.status_ltimes.items():
            if name not in left:
                self.join_intent(name, ltime, now)
        buffer = self._user_events.buffer
        if join and self._ignoring_old():
            buffer.min_time = max(buffer.min_time, pp.event_ltime)
        for slot in pp.events:
            if slot is None:
                continue
            for e in slot.events:
                self._user_events.receive(
                    MessageUserEvent(slot.ltime, e.name, e.payload, False), now
                )
