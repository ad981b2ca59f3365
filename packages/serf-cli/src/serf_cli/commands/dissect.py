"""``serf dissect``: print every layer and message of captured gossip.

The decoding and rendering are pure (``serf_proto.wire.render_captures``); this command parses the
flags, reads the capture from a file or stdin and prints the result.
"""

from __future__ import annotations

import base64
import binascii
import sys
from typing import BinaryIO

from serf_proto.wire import render_captures

from serf_cli.ui import Ui

#: This command prints its own usage for ``-h`` (on stdout, exit status 0).
HELP = None

USAGE = """Usage: serf dissect [options] [FILE|-]

  Decodes captured memberlist/Serf gossip (raw bytes, or hex text with one capture per line)
  and prints every layer and message.

Options:

  -key=BASE64      Encryption key to try (repeatable).
  -label=LABEL     Label the traffic was sent with (memberlist >= 0.3).
  -format=FORMAT   text (default) or json.
  -kind=KIND       auto (default), packet or stream.
"""


class _HelpRequested(Exception):  # noqa: N818 - a signal, not an error
    """``-h``/``-help`` was given."""


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


def run(args: list[str], ui: Ui, stdin: BinaryIO | None = None) -> int:
    """Dissect the capture; 0 when everything decoded, 1 if a layer had an error, 2 on bad
    usage or an unreadable file."""
    try:
        keys, label, fmt, kind, path = _parse_args(args)
    except _HelpRequested:
        ui.write_bytes(USAGE.encode())
        return 0
    except ValueError as exc:
        ui.err(f"dissect: {exc}")
        ui.err(USAGE)
        return 2
    try:
        if path == "-":
            raw = (stdin or sys.stdin.buffer).read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except OSError as exc:
        ui.err(f"dissect: {exc}")
        return 2
    text, failed = render_captures(raw, keys, label, kind, fmt)
    ui.write_bytes(text.encode("utf-8", "surrogateescape"))
    return 1 if failed else 0
