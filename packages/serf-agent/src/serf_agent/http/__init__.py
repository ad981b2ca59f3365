"""The agent's optional HTTP endpoint (h11 on asyncio): members, health, coordinates, metrics.

``routes`` maps a request to a response from the ``AgentBackend`` (pure, no I/O); ``server``
binds h11's sans-IO connection to asyncio sockets.
"""

from __future__ import annotations

from serf_agent.http.server import HttpServer, start_http_server

__all__ = ["HttpServer", "start_http_server"]
