"""SWIM + Lifeguard membership (Go hashicorp/memberlist) as a pure state machine."""

from serf_proto.memberlist.awareness import Awareness
from serf_proto.memberlist.core import Memberlist, Output
from serf_proto.memberlist.delegate import MemberlistDelegate, NullDelegate
from serf_proto.memberlist.formulas import (
    push_pull_scale,
    remaining_suspicion_time,
    retransmit_limit,
    suspicion_timeout,
)
from serf_proto.memberlist.state import Node
from serf_proto.memberlist.stats import MemberlistStats
from serf_proto.memberlist.suspicion import Suspicion

__all__ = [
    "Awareness",
    "Memberlist",
    "MemberlistDelegate",
    "MemberlistStats",
    "Node",
    "NullDelegate",
    "Output",
    "Suspicion",
    "push_pull_scale",
    "remaining_suspicion_time",
    "retransmit_limit",
    "suspicion_timeout",
]
