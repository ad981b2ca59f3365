"""``serf keygen``: print a new random 32-byte encryption key, base64-encoded."""

from __future__ import annotations

import base64
import os

from serf_proto.gocompat import Ui

HELP = """\
Usage: serf keygen

  Generates a new encryption key that can be used to configure the
  agent to encrypt traffic. The output of this command is already
  in the proper format that the agent expects."""


def run(args: list[str], ui: Ui) -> int:
    """Print the key; arguments are ignored, as in Go."""
    del args
    ui.output(base64.b64encode(os.urandom(32)).decode("ascii"))
    return 0
