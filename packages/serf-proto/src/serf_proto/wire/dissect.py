"""Dissector for captured gossip: print every layer and message of a packet or stream.

Usage (also ``serf dissect``)::

    python -m serf_proto.wire.dissect [-key=BASE64]... [-label=L] [-format=text|json]
                                      [-kind=auto|packet|stream] [FILE|-]

Input is raw bytes or hex text (one capture per non-empty line). ``-key`` may be repeated; every
key is tried for decryption. ``-kind=auto`` treats input that starts with a stream-only type
(encrypted stream, push/pull) as a stream and anything else as a UDP packet, falling back to a
stream when the packet reading fails.

The layers come from ``serf_proto.wire.layers``; this module renders them as indented text or
JSON and implements the command line.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import sys
from typing import Any, TextIO

from serf_proto.wire.layers import Layer, dissect, dissect_packet, dissect_stream, has_error

__all__ = ["dissect", "dissect_packet", "dissect_stream", "main", "read_captures", "render_text"]

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


class _HelpRequested(Exception):  # noqa: N818 - a signal, not an error
    """``-h``/``-help`` was given."""


USAGE = """Usage: serf dissect [options] [FILE|-]

  Decodes captured memberlist/Serf gossip (raw bytes, or hex text with one capture per line)
  and prints every layer and message.

Options:

  -key=BASE64      Encryption key to try (repeatable).
  -label=LABEL     Label the traffic was sent with (memberlist >= 0.3).
  -format=FORMAT   text (default) or json.
  -kind=KIND       auto (default), packet or stream.
"""


def _parse_args(argv: list[str]) -> tuple[list[bytes], bytes, str, str, str]:
    keys: list[bytes] = []
    label = b""
    fmt = "text"
    kind = "auto"
    path = "-"
    it = iter(argv)
    for arg in it:
        if arg.startswith("-") and arg != "-":
            name, eq, value = arg.lstrip("-").partition("=")
            if name in ("h", "help"):
                raise _HelpRequested
            if not eq:
                value = next(it, "")
            if name == "key":
                try:
                    keys.append(base64.b64decode(value, validate=True))
                except binascii.Error as exc:
                    raise ValueError(f"invalid -key (not base64): {value}") from exc
                if len(keys[-1]) not in (16, 24, 32):
                    raise ValueError("key size must be 16, 24 or 32 bytes")
            elif name == "label":
                label = value.encode()
            elif name == "format":
                if value not in ("text", "json"):
                    raise ValueError(f"invalid -format: {value}")
                fmt = value
            elif name == "kind":
                if value not in ("auto", "packet", "stream"):
                    raise ValueError(f"invalid -kind: {value}")
                kind = value
            else:
                raise ValueError(f"flag provided but not defined: -{name}")
        else:
            path = arg
    return keys, label, fmt, kind, path


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


def main(argv: list[str], stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Run the dissector; returns 0, 1 if any capture had an error, 2 on bad usage."""
    out = stdout or sys.stdout
    try:
        keys, label, fmt, kind, path = _parse_args(argv)
    except _HelpRequested:
        out.write(USAGE)
        return 0
    except ValueError as exc:
        print(f"dissect: {exc}", file=sys.stderr)
        print(USAGE, file=sys.stderr)
        return 2
    try:
        if path == "-":
            source = stdin or sys.stdin
            raw = source.buffer.read() if hasattr(source, "buffer") else source.read().encode()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except OSError as exc:
        print(f"dissect: {exc}", file=sys.stderr)
        return 2
    status = 0
    results: list[tuple[str, int, list[Layer]]] = []
    for capture in read_captures(raw):
        got_kind, layers = dissect(capture, keys, label, kind)
        status = 1 if has_error(layers) else status
        results.append((got_kind, len(capture), layers))
    if fmt == "json":
        docs = [{"kind": k, "len": n, "layers": ls} for k, n, ls in results]
        out.write(json.dumps(docs if len(docs) != 1 else docs[0], indent=2) + "\n")
    else:
        for k, n, ls in results:
            out.write(render_text(f"{k} ({n} bytes)", ls) + "\n")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
