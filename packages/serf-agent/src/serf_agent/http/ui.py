"""The cluster page's routes: its static files and the two documents only it needs.

| route | answer |
|---|---|
| ``GET /`` and ``GET /ui/`` | the page (``static/index.html``) |
| ``GET /ui/app.js``, ``/ui/app.css`` | its script and style sheet (cached for an hour) |
| ``GET /v1/coordinates`` | every member's coordinate and the pairwise RTT estimates |
| ``GET /v1/ui/status`` | this node's health: score, queue depths, encryption, protocol
  versions, dropped input per reason, event stream clients |

The files are package data of ``serf_agent`` (read once, no build step, no CDN). Every page
response carries a ``Content-Security-Policy`` that allows scripts, styles and connections only
from this origin (no inline script), ``X-Content-Type-Options: nosniff`` and
``X-Frame-Options: DENY``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from serf_proto import Coordinate, CoordinateError, distance

from serf_agent.backend import AgentBackend, CoordinateView
from serf_agent.http.events import EventHub

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)
#: Served file name -> (Content-Type, Cache-Control).
STATIC_FILES: dict[str, tuple[str, str]] = {
    "index.html": ("text/html; charset=utf-8", "no-cache"),
    "app.js": ("text/javascript; charset=utf-8", "public, max-age=3600"),
    "app.css": ("text/css; charset=utf-8", "public, max-age=3600"),
}
PAGE_PATHS = ("/", "/ui", "/ui/", "/ui/index.html")


def static_name(path: str) -> str | None:
    """The static file a request path names, or None when it names none."""
    if path in PAGE_PATHS:
        return "index.html"
    if path.startswith("/ui/") and path[len("/ui/") :] in STATIC_FILES:
        return path[len("/ui/") :]
    return None


@cache
def static_body(name: str) -> bytes:
    """The bytes of a shipped static file (read once)."""
    return files("serf_agent.http").joinpath("static", name).read_bytes()


def coordinates_document(backend: AgentBackend) -> dict[str, Any]:
    """Every member's coordinate (Go's field names) and ``rtt``: the estimated round-trip
    time in seconds between each pair, in ``nodes`` order (None where dimensions differ)."""
    local = backend.local_member().name
    nodes: list[dict[str, Any]] = []
    coords: list[Coordinate] = []
    for member in sorted(backend.members(), key=lambda m: m.name):
        view = backend.get_coordinate(member.name)
        if view is None:
            continue
        coord = _as_coordinate(view)
        coords.append(coord)
        nodes.append(
            {
                "Node": member.name,
                "Status": str(member.status),
                "Coord": {
                    "Vec": list(coord.vec),
                    "Error": coord.error,
                    "Adjustment": coord.adjustment,
                    "Height": coord.height,
                },
            }
        )
    rtt = [[0.0 if a is b else _distance(a, b) for b in coords] for a in coords]
    return {"local": local, "nodes": nodes, "rtt": rtt}


def status_document(backend: AgentBackend, hub: EventHub | None) -> dict[str, Any]:
    """This node's health as the page shows it (every number from ``stats()`` and metrics)."""
    local = backend.local_member()
    serf = backend.stats().get("serf", {})
    dropped = {
        labels.get("reason", ""): int(value)
        for labels, value in backend.metrics.samples("serf_packets_dropped_total")
        if value
    }
    return {
        "name": local.name,
        "addr": str(local.addr),
        "status": str(local.status),
        "health_score": _int(serf.get("health_score")),
        "queues": {q: _int(serf.get(f"{q}_queue")) for q in ("intent", "event", "query")},
        "encrypted": serf.get("encrypted") == "true",
        "members": _int(serf.get("members")),
        "protocol": {
            "memberlist": {
                "min": local.protocol[0],
                "max": local.protocol[1],
                "current": local.protocol[2],
            },
            "serf": {
                "min": local.delegate[0],
                "max": local.delegate[1],
                "current": local.delegate[2],
            },
        },
        "dropped": dict(sorted(dropped.items())),
        "event_streams": {
            "clients": hub.clients if hub else 0,
            "dropped_clients": hub.dropped_clients if hub else 0,
        },
    }


def _as_coordinate(view: CoordinateView) -> Coordinate:
    if isinstance(view, Coordinate):
        return view
    return Coordinate(
        tuple(float(v) for v in view.vec),
        float(view.error),
        float(view.adjustment),
        float(view.height),
    )


def _distance(a: Coordinate, b: Coordinate) -> float | None:
    try:
        return distance(a, b)
    except CoordinateError:
        return None


def _int(text: str | None) -> int:
    return int(text) if text is not None and text.isdigit() else 0
