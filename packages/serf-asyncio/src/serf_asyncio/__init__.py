"""serf_asyncio: binds the serf-proto core to asyncio sockets and timers.

``async with SerfNode(node_config("a", bind="127.0.0.1:7946")) as node:`` runs one cluster
member; ``Transport`` drives any core with the driving API; ``run`` picks uvloop when present.
The events, results and value types a node hands out are re-exported here, so one import
serves: ``from serf_asyncio import SerfNode, MemberEvent, UserEvent, Query, MemberStatus``.
"""

from serf_proto import (
    Address,
    Core,
    Event,
    JoinCompleted,
    KeyOpCompleted,
    KeyringChanged,
    LeaveCompleted,
    Member,
    MemberEvent,
    MemberEventType,
    MemberStatus,
    NodeShutdown,
    Query,
    QueryAck,
    QueryDone,
    QueryResponse,
    SnapshotAppend,
    UserEvent,
    __version__,
)
from serf_proto.serf import RecoveredState, SerfConfig, SerfState, parse_snapshot

from serf_asyncio.addresses import (
    DEFAULT_PORT,
    AddressError,
    advertise_address,
    interface_addresses,
    resolve,
    split_host_port,
)
from serf_asyncio.config import decode_key, node_config
from serf_asyncio.node import (
    JoinError,
    LeaveError,
    NodeCounters,
    NodeEvent,
    NodeStopped,
    OutputListener,
    QueryHandle,
    SerfNode,
    Subscription,
    start_node,
)
from serf_asyncio.runner import new_event_loop, run, uvloop_available
from serf_asyncio.transport import BoundSockets, Transport, TransportStats, bind_sockets

__all__ = [
    "DEFAULT_PORT",
    "Address",
    "AddressError",
    "BoundSockets",
    "Core",
    "Event",
    "JoinCompleted",
    "JoinError",
    "KeyOpCompleted",
    "KeyringChanged",
    "LeaveCompleted",
    "LeaveError",
    "Member",
    "MemberEvent",
    "MemberEventType",
    "MemberStatus",
    "NodeCounters",
    "NodeEvent",
    "NodeShutdown",
    "NodeStopped",
    "OutputListener",
    "Query",
    "QueryAck",
    "QueryDone",
    "QueryHandle",
    "QueryResponse",
    "RecoveredState",
    "SerfConfig",
    "SerfNode",
    "SerfState",
    "SnapshotAppend",
    "Subscription",
    "Transport",
    "TransportStats",
    "UserEvent",
    "__version__",
    "advertise_address",
    "bind_sockets",
    "decode_key",
    "interface_addresses",
    "new_event_loop",
    "node_config",
    "parse_snapshot",
    "resolve",
    "run",
    "split_host_port",
    "start_node",
    "uvloop_available",
]
