"""The Serf layer over the membership core: clocks, members, events, queries, keys, snapshots.

The main class is :class:`SerfNode`; see ``docs/library.md`` for how to embed it.
"""

from serf_proto.coordinate import VivaldiClient, VivaldiConfig
from serf_proto.serf.config import SerfConfig, node_name_error
from serf_proto.serf.context import SerfStats
from serf_proto.serf.keymanager import InvalidKeyError, KeyOp, decode_key
from serf_proto.serf.lamport import Clocks, LamportClock
from serf_proto.serf.membership import member_info_error
from serf_proto.serf.node import SerfNode, SerfState
from serf_proto.serf.query import QueryParams, default_query_timeout
from serf_proto.serf.snapshot import (
    PreviousNode,
    RecoveredState,
    Snapshotter,
    compaction_threshold,
    parse_snapshot,
    rejoin_order,
    should_compact,
)

__all__ = [
    "Clocks",
    "InvalidKeyError",
    "KeyOp",
    "LamportClock",
    "PreviousNode",
    "QueryParams",
    "RecoveredState",
    "SerfConfig",
    "SerfNode",
    "SerfState",
    "SerfStats",
    "Snapshotter",
    "VivaldiClient",
    "VivaldiConfig",
    "compaction_threshold",
    "decode_key",
    "default_query_timeout",
    "member_info_error",
    "node_name_error",
    "parse_snapshot",
    "rejoin_order",
    "should_compact",
]
