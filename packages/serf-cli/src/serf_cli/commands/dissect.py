"""``serf dissect``: print every layer and message of captured gossip.

The decoding and rendering are pure (``serf_proto.wire.render_captures``); this command parses the
flags, reads the capture from a file or stdin and prints the result.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from serf_proto.gocompat import (
    KEY_SIZE_ERROR,
    KEY_SIZES,
    Base64Error,
    FlagError,
    FlagSet,
    HelpRequestedError,
    Ui,
    decode_base64,
)
from serf_proto.wire import render_captures

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


def _parse_args(argv: list[str]) -> tuple[list[bytes], bytes, str, str, str]:
    """Go-style flags (``serf_proto.gocompat.FlagSet``); keys are Go base64 of 16/24/32 bytes."""
    flags = FlagSet()
    flags.repeated("key")
    flags.string("label")
    flags.string("format", "text")
    flags.string("kind", "auto")
    rest = flags.parse(argv)
    if len(rest) > 1:
        raise ValueError("only one capture file may be given")
    keys: list[bytes] = []
    for text in flags.get_list("key"):
        try:
            key = decode_base64(text)
        except Base64Error as exc:
            raise ValueError(f"invalid -key (not base64): {exc}") from exc
        if len(key) not in KEY_SIZES:
            raise ValueError(KEY_SIZE_ERROR)
        keys.append(key)
    fmt = flags.get_str("format")
    if fmt not in ("text", "json"):
        raise ValueError(f"invalid -format: {fmt}")
    kind = flags.get_str("kind")
    if kind not in ("auto", "packet", "stream"):
        raise ValueError(f"invalid -kind: {kind}")
    return keys, flags.get_str("label").encode(), fmt, kind, rest[0] if rest else "-"


def run(args: list[str], ui: Ui, stdin: BinaryIO | None = None) -> int:
    """Dissect the capture; 0 when everything decoded, 1 if a layer had an error, 2 on bad
    usage or an unreadable file."""
    try:
        keys, label, fmt, kind, path = _parse_args(args)
    except HelpRequestedError:
        ui.write_bytes(USAGE.encode())
        return 0
    except (FlagError, ValueError) as exc:
        ui.stderr(f"dissect: {exc}")
        ui.stderr(USAGE)
        return 2
    try:
        if path == "-":
            raw = (stdin or sys.stdin.buffer).read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except OSError as exc:
        ui.stderr(f"dissect: {exc}")
        return 2
    text, failed = render_captures(raw, keys, label, kind, fmt)
    ui.write_bytes(text.encode("utf-8", "surrogateescape"))
    return 1 if failed else 0
