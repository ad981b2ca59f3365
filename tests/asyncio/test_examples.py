"""The runnable library example in examples/ works as documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_embedding_demo_runs_a_two_node_cluster_end_to_end() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "embed_asyncio.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "db joined through 1 node(s)" in out
    assert "web got user event 'deploy' payload b'v42'" in out
    assert "web got QueryResponse from db" in out
    assert "member db 127.0.0.1:" in out and "alive {'role': 'db'}" in out
    assert out.rstrip().endswith("both nodes left and shut down")
