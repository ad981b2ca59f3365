"""``python -m serf_agent [flags]``: the same as ``serf agent [flags]``."""

from __future__ import annotations

import sys

from serf_agent.command import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
