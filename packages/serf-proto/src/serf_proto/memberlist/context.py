"""What every sub-machine of one memberlist shares: configuration, clockless services, outbox.

``Memberlist`` is a thin orchestrator over a few sub-machines (node table, gossip, membership
news, probing, streams); they all read the same configuration, draw from the same random
source, count into the same stats, schedule into the same timer queue and append to the same
ordered outbox. :class:`Context` holds exactly those, so a sub-machine's constructor says what
else it depends on (other sub-machines) and nothing reaches for a global.

Logging goes through :attr:`Context.log`, a ``LoggerAdapter`` over the
``serf_proto.memberlist`` logger that puts the node's name on every record as the ``node``
attribute (``extra``), leaving the message text as Go prints it; in a simulation of a thousand
nodes, a formatter can then say which node spoke.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from serf_proto.config import PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN, MemberlistConfig
from serf_proto.events import JoinCompleted, LeaveCompleted
from serf_proto.memberlist.deadlines import Deadline
from serf_proto.memberlist.delegate import MemberlistDelegate, NullDelegate
from serf_proto.memberlist.state import ip_bytes
from serf_proto.memberlist.stats import MemberlistStats
from serf_proto.memberlist.versions import Vsn
from serf_proto.memberlist.wireio import WireIO
from serf_proto.outputs import CloseStream, OpenStream, SendPacket, SendStream
from serf_proto.timers import TimerQueue
from serf_proto.wire.keyring import Keyring

__all__ = ["Context", "DelegateHooks", "NodeLogger", "Output"]

Output = SendPacket | OpenStream | SendStream | CloseStream | JoinCompleted | LeaveCompleted

_log = logging.getLogger("serf_proto.memberlist")


#: The memberlist logger with ``record.node`` set to the node's name (``extra={"node": ...}``).
NodeLogger = logging.LoggerAdapter[logging.Logger]


class DelegateHooks:
    """Which optional hooks the delegate really has (it may keep :class:`NullDelegate`'s).

    A hook kept from ``NullDelegate`` does nothing, so memberlist does not build what it would
    receive (``merge``, ``alive``, ``ping``). ``broadcasts``: the delegate has broadcasts of its
    own; ``quiet``: gossip may park while memberlist's queue is empty, because either the
    delegate has no broadcasts or it can count them (``pending_broadcasts``).
    """

    __slots__ = ("alive", "broadcasts", "merge", "ping", "quiet")

    def __init__(self, delegate: MemberlistDelegate) -> None:
        kind = type(delegate)
        self.merge = kind.notify_merge is not NullDelegate.notify_merge
        self.ping = kind.notify_ping_complete is not NullDelegate.notify_ping_complete
        self.alive = kind.notify_alive is not NullDelegate.notify_alive
        self.broadcasts = kind.get_broadcasts is not NullDelegate.get_broadcasts
        counts = kind.pending_broadcasts is not NullDelegate.pending_broadcasts
        self.quiet = not self.broadcasts or counts


class Context:
    """The shared services of one memberlist (see the module docstring).

    ``out`` is the outbox; ``Memberlist.take_outputs`` empties it in place, so holders of the
    list keep appending to the live one. ``shutdown`` turns true once and stays so.
    """

    __slots__ = (
        "config",
        "delegate",
        "hooks",
        "ip",
        "log",
        "name",
        "out",
        "port",
        "rng",
        "shutdown",
        "stats",
        "timers",
        "vsn",
        "vsn_bytes",
        "wire",
    )

    def __init__(
        self,
        config: MemberlistConfig,
        delegate: MemberlistDelegate,
        rng: random.Random,
        entropy: Callable[[int], bytes],
        keyring: Keyring | None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.delegate = delegate
        self.hooks = DelegateHooks(delegate)
        self.rng = rng
        self.stats = MemberlistStats()
        self.wire = WireIO(config, entropy, keyring, self.stats)
        self.timers: TimerQueue[Deadline] = TimerQueue()
        self.out: list[Output] = []
        self.shutdown = False
        self.log = NodeLogger(_log, {"node": config.name})
        adv = config.advertise
        #: Our advertised address as it travels in messages.
        self.ip = ip_bytes(adv.host)
        self.port = adv.port
        #: Our versions ``(pmin, pmax, pcur, dmin, dmax, dcur)`` and their wire form.
        self.vsn: Vsn = (
            PROTOCOL_VERSION_MIN,
            PROTOCOL_VERSION_MAX,
            config.protocol_version,
            config.delegate_protocol_min,
            config.delegate_protocol_max,
            config.delegate_protocol_version,
        )
        self.vsn_bytes = bytes(self.vsn)

    def stale(self, what: object) -> None:
        """Count a deadline that fell due after what it guarded had moved on."""
        self.stats.stale_timers += 1
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("stale deadline %r ignored", what)
