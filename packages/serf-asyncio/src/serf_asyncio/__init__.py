"""serf_asyncio: binds the serf-proto core to asyncio sockets and timers.

``async with SerfNode(node_config("a", bind="127.0.0.1:7946")) as node:`` runs one cluster
member; ``Transport`` drives any core with the driving API; ``run`` picks uvloop when present.
"""

from serf_proto import __version__
from serf_proto.driving import Core

from serf_asyncio.addresses import (
    DEFAULT_PORT,
    AddressError,
    advertise_address,
    resolve,
    split_host_port,
)
from serf_asyncio.config import decode_key, node_config
from serf_asyncio.node import (
    JoinError,
    LeaveError,
    NodeEvent,
    NodeStopped,
    QueryHandle,
    SerfNode,
    Subscription,
    start_node,
)
from serf_asyncio.runner import new_event_loop, run, uvloop_available
from serf_asyncio.transport import BoundSockets, Transport, TransportStats, bind_sockets

__all__ = [
    "DEFAULT_PORT",
    "AddressError",
    "BoundSockets",
    "Core",
    "JoinError",
    "LeaveError",
    "NodeEvent",
    "NodeStopped",
    "QueryHandle",
    "SerfNode",
    "Subscription",
    "Transport",
    "TransportStats",
    "__version__",
    "advertise_address",
    "bind_sockets",
    "decode_key",
    "new_event_loop",
    "node_config",
    "resolve",
    "run",
    "split_host_port",
    "start_node",
    "uvloop_available",
]
