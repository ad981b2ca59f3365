"""HTTP routes of the agent: a request line in, a status, content type and body out.

| route | answer |
|---|---|
| ``GET /v1/members`` | JSON shaped exactly like ``serf members -format=json`` |
| ``GET /v1/health`` | 200 while the local member is alive, 503 otherwise; JSON details |
| ``GET /v1/coordinate/NODE`` | the node's Vivaldi coordinate (Go's field names) or 404 |
| ``GET /metrics`` | the agent's metrics in the Prometheus text format |
| ``GET /``, ``/ui/...``, ``/v1/coordinates``, ``/v1/ui/status`` | the cluster page (``ui``) |
| ``GET /v1/events`` | the server-sent event stream (``events``; streamed by ``server``) |

Only ``GET`` and ``HEAD`` are allowed (405 otherwise); unknown paths get 404. Nothing here
touches a socket, so the routes are tested directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from serf_proto import Member, MemberStatus

from serf_agent.backend import AgentBackend
from serf_agent.http import ui
from serf_agent.http.events import EventHub

JSON = "application/json"
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What to send back: status code, ``Content-Type`` and body bytes."""

    status: int
    content_type: str
    body: bytes
    allow: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


def handle(
    backend: AgentBackend, method: str, target: str, hub: EventHub | None = None
) -> HttpResponse:
    """Answer one request (``target`` is the raw request target, e.g. ``/v1/members``)."""
    path = unquote(urlsplit(target).path)
    if method not in ("GET", "HEAD"):
        return HttpResponse(405, TEXT, b"method not allowed\n", allow="GET, HEAD")
    if path == "/v1/events":  # a GET is streamed by the server before it gets here
        return HttpResponse(405, TEXT, b"the event stream takes GET only\n", allow="GET")
    static = ui.static_name(path)
    if static is not None:
        content_type, cache_control = ui.STATIC_FILES[static]
        headers = (("Cache-Control", cache_control), *ui.SECURITY_HEADERS)
        return HttpResponse(200, content_type, ui.static_body(static), headers=headers)
    if path == "/v1/coordinates":
        return _json(200, ui.coordinates_document(backend))
    if path == "/v1/ui/status":
        return _json(200, ui.status_document(backend, hub))
    if path == "/v1/members":
        return _json(200, members_document(backend.members()))
    if path == "/v1/health":
        return health(backend)
    if path.startswith("/v1/coordinate/") and len(path) > len("/v1/coordinate/"):
        return coordinate(backend, path[len("/v1/coordinate/") :])
    if path == "/metrics":
        update_cluster_gauges(backend)
        return HttpResponse(200, PROMETHEUS, backend.metrics.render().encode())
    return HttpResponse(404, TEXT, b"not found\n")


def members_document(members: list[Member]) -> dict[str, Any]:
    """The document ``serf members -format=json`` prints (Go's key order and names)."""
    return {
        "members": [
            {
                "name": m.name,
                "addr": str(m.addr),
                "port": m.addr.port,
                "tags": dict(sorted(m.tags.items())),
                "status": str(m.status),
                "protocol": {"max": m.delegate[1], "min": m.delegate[0], "version": m.delegate[2]},
            }
            for m in members
        ]
    }


def health(backend: AgentBackend) -> HttpResponse:
    """200 with ``"status": "alive"`` while the local member is alive, else 503."""
    local = backend.local_member()
    serf_stats = backend.stats().get("serf", {})
    doc = {
        "name": local.name,
        "status": str(local.status),
        "health_score": int(serf_stats.get("health_score", "0")),
        "members": len(backend.members()),
    }
    return _json(200 if local.status is MemberStatus.ALIVE else 503, doc)


def coordinate(backend: AgentBackend, node: str) -> HttpResponse:
    """The cached coordinate of ``node`` (404 when unknown)."""
    coord = backend.get_coordinate(node)
    if coord is None:
        return _json(404, {"error": f"no coordinate for node {node!r}"})
    return _json(
        200,
        {
            "Node": node,
            "Coord": {
                "Vec": [float(v) for v in coord.vec],
                "Error": float(coord.error),
                "Adjustment": float(coord.adjustment),
                "Height": float(coord.height),
            },
        },
    )


def update_cluster_gauges(backend: AgentBackend) -> None:
    """Refresh the gauges derived from members and ``stats()`` right before a scrape."""
    metrics = backend.metrics
    counts = dict.fromkeys(("alive", "leaving", "left", "failed"), 0)
    for member in backend.members():
        name = str(member.status)
        counts[name] = counts.get(name, 0) + 1
    for status, count in counts.items():
        metrics.set("serf_members", count, status=status)
    serf_stats = backend.stats().get("serf", {})
    for queue in ("intent", "event", "query"):
        value = serf_stats.get(f"{queue}_queue")
        if value is not None and value.isdigit():
            metrics.set("serf_broadcast_queue_depth", int(value), queue=queue)
    score = serf_stats.get("health_score")
    if score is not None and score.isdigit():
        metrics.set("serf_health_score", int(score))


def _json(status: int, doc: object) -> HttpResponse:
    return HttpResponse(status, JSON, (json.dumps(doc, indent=2) + "\n").encode())
