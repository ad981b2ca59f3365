"""The agent's msgpack RPC (IPC) server, compatible with Go Serf's agent and clients.

``session`` is the sans-IO protocol state of one connection; ``server`` binds it to asyncio.
"""

from __future__ import annotations

from serf_agent.rpc.server import RpcServer, start_rpc_server
from serf_agent.rpc.session import RpcSession

__all__ = ["RpcServer", "RpcSession", "start_rpc_server"]
