"""The runnable library examples (examples/, docs/asyncio.md) work as documented."""

from __future__ import annotations

import os
import re
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


def test_the_first_example_of_the_asyncio_page_runs_as_written_and_prints_its_output() -> None:
    section = (ROOT / "docs" / "asyncio.md").read_text().split("## A complete example", 1)[1]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    code = next(body for lang, body in blocks if lang == "python")
    expected = next(body for lang, body in blocks if lang == "text")
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_the_threaded_example_without_arguments_prints_its_usage() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "threaded_node.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("usage: threaded_node.py NAME IP:PORT [JOIN_IP:PORT]")


def test_the_persisting_state_example_of_the_asyncio_page_runs_and_prints_its_output() -> None:
    section = (ROOT / "docs" / "asyncio.md").read_text().split("## Persisting state", 1)[1]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    code = next(body for lang, body in blocks if lang == "python")
    expected = next(body for lang, body in blocks if lang == "text")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
