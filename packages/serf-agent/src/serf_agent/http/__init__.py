"""The agent's optional HTTP endpoint (h11 on asyncio): members, health, coordinates, metrics
and the cluster page with its event stream.

``routes`` maps a request to a response from the ``AgentBackend`` (pure, no I/O); ``server``
binds h11's sans-IO connection to asyncio sockets; ``ui`` serves the page's files and
documents; ``events`` keeps the event history and feeds the ``/v1/events`` streams.
"""

from __future__ import annotations

from serf_agent.http.server import HttpServer, start_http_server

__all__ = ["HttpServer", "start_http_server"]
