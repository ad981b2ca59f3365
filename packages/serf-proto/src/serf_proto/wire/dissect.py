"""Rendering of dissected gossip: every layer and message of a packet or stream, as text or JSON.

The layers come from ``serf_proto.wire.layers`` (which asks the node's own pipeline for a trace
of what it peeled); this module renders them. It is pure: the ``serf dissect`` command
(``serf_cli.commands.dissect``) parses the flags, reads the file or stdin and prints.

Input is raw bytes or hex text (one capture per non-empty line). ``kind="auto"`` treats input
that starts with a stream-only type (encrypted stream, push/pull) as a stream and anything else
as a UDP packet, falling back to a stream when the packet reading fails.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Any

from serf_proto.wire.layers import Layer, dissect, dissect_packet, dissect_stream, has_error

__all__ = [
    "dissect",
    "dissect_packet",
    "dissect_stream",
    "has_error",
    "read_captures",
    "render_captures",
    "render_text",
]

#: Fields that hold an IP address (shown as text in the text rendering).
ADDR_FIELDS = frozenset({"Addr", "SourceAddr", "Target", "IP"})


def _short(value: Any, key: str = "") -> str:
    if key in ADDR_FIELDS and isinstance(value, str) and value.startswith("0x"):
        raw = bytes.fromhex(value[2:])
        if len(raw) in (4, 16):
            return str(ipaddress.ip_address(raw))
    if key == "Payload" and isinstance(value, str) and value.startswith("0x"):
        raw = bytes.fromhex(value[2:])
        if raw and all(32 <= b < 127 or b in (9, 10, 13) for b in raw):
            value = json.dumps(raw.decode())  # readable text payloads are shown quoted
    if isinstance(value, dict):
        value = {k: _short(v, k) if k in ADDR_FIELDS else v for k, v in value.items()}
        if isinstance(value.get("DestAddr"), dict):
            dest = value["DestAddr"]
            value["DestAddr"] = f"{_short(dest.get('IP'), 'IP')}:{dest.get('Port')}"
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= 200 else text[:197] + "..."


def _serf_text(serf: Any, indent: str) -> list[str]:
    if not isinstance(serf, dict):
        return []
    lines = [f"{indent}serf {serf.get('name', '?')}"]
    body = serf.get("body")
    if isinstance(body, dict):
        for k, v in body.items():
            if k == "Events" and isinstance(v, list):
                used = [e for e in v if e is not None]
                lines.append(f"{indent}  Events: {len(v)} slots, {len(used)} used {_short(used)}")
            else:
                lines.append(f"{indent}  {k}: {_short(v, k)}")
    elif body is not None:
        lines.append(f"{indent}  {_short(body)}")
    for key in ("header", "filters"):
        if key in serf:
            lines.append(f"{indent}  {key}: {_short(serf[key], key)}")
    if "inner" in serf:
        lines += _serf_text(serf["inner"], indent + "  ")
    if "payloadDecoded" in serf:
        lines += _serf_text(serf["payloadDecoded"], indent + "  ")
    if "error" in serf:
        lines.append(f"{indent}  ERROR: {serf['error']}")
    return lines


def render_text(kind: str, layers: list[Layer]) -> str:
    """Human-readable rendering: one block per layer, indented by depth."""
    lines = [kind]
    for layer in layers:
        indent = "  " * (layer.get("depth", 0) + 1)
        extras = {
            k: v
            for k, v in layer.items()
            if k not in ("type", "depth", "fields", "serf", "header", "error", "payloadDecoded")
        }
        head = layer["type"] + "".join(f" {k}={_short(v)}" for k, v in extras.items())
        lines.append(indent + head)
        for field_map in (layer.get("header"), layer.get("fields")):
            if isinstance(field_map, dict):
                for k, v in field_map.items():
                    lines.append(f"{indent}  {k}: {_short(v, k)}")
        if "payloadDecoded" in layer:
            lines.append(f"{indent}  coordinate: {_short(layer['payloadDecoded']['coordinate'])}")
        lines += _serf_text(layer.get("serf"), indent + "  ")
        if "error" in layer:
            lines.append(f"{indent}  ERROR: {layer['error']}")
    return "\n".join(lines)


def read_captures(raw: bytes) -> list[bytes]:
    """Split input into captures: hex text (one per non-empty line) or one raw blob."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return [raw]
    lines = [ln.strip().replace(" ", "") for ln in text.splitlines() if ln.strip()]
    try:
        captures = [bytes.fromhex(ln.removeprefix("0x")) for ln in lines]
    except ValueError:
        return [raw]
    return captures if captures else [raw]


def render_captures(
    raw: bytes,
    keys: Sequence[bytes] = (),
    label: bytes = b"",
    kind: str = "auto",
    fmt: str = "text",
) -> tuple[str, bool]:
    """Dissect every capture in ``raw`` (see ``read_captures``) and render them as ``fmt``
    (``text`` or ``json``); returns the output and whether any layer had an error."""
    failed = False
    results: list[tuple[str, int, list[Layer]]] = []
    for capture in read_captures(raw):
        got_kind, layers = dissect(capture, keys, label, kind)
        failed = failed or has_error(layers)
        results.append((got_kind, len(capture), layers))
    if fmt == "json":
        docs = [{"kind": k, "len": n, "layers": ls} for k, n, ls in results]
        return json.dumps(docs if len(docs) != 1 else docs[0], indent=2) + "\n", failed
    return "".join(render_text(f"{k} ({n} bytes)", ls) + "\n" for k, n, ls in results), failed
