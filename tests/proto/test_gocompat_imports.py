"""``serf_proto.gocompat`` is light: the agent's and the CLI's edges import it alone."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pydantic", "asyncio", "msgpack", "cryptography", "serf_proto.serf", "serf_proto.wire")


def test_importing_gocompat_loads_no_heavy_module() -> None:
    probe = (
        "import json, sys\n"
        "import serf_proto.gocompat\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
    # The probe does see modules it loads (so an empty answer means something).
    control = probe.replace("import serf_proto.gocompat\n", "import serf_proto.gocompat, msgpack\n")
    out = subprocess.run(
        [sys.executable, "-c", control], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == ["msgpack"]
