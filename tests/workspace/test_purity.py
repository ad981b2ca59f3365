"""serf_proto stays pure: no I/O modules, no clock, no global randomness (AST check)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PROTO = REPO_ROOT / "packages" / "serf-proto" / "src" / "serf_proto"
BANNED_IMPORTS = {
    "asyncio",
    "socket",
    "selectors",
    "threading",
    "subprocess",
    "time",
    "uvloop",
    "pydantic",
    "h11",
}
BANNED_CALLS = {
    "random.random",
    "random.choice",
    "random.shuffle",
    "random.sample",
    "random.randint",
    "random.getrandbits",
    "random.randbytes",
    "random.uniform",
    "os.urandom",
    "random.SystemRandom",
    "time.time",
    "time.monotonic",
}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in BANNED_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in BANNED_IMPORTS:
                found.append(node.module)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if isinstance(node.func.value, ast.Name):
                dotted = f"{node.func.value.id}.{node.func.attr}"
                if dotted in BANNED_CALLS:
                    found.append(f"call {dotted}")
    return [f"{path.name}: {v}" for v in found]


def test_serf_proto_outside_the_simulator_imports_no_io_and_calls_no_global_randomness() -> None:
    files = [p for p in PROTO.rglob("*.py") if "sim" not in p.relative_to(PROTO).parts]
    assert files
    problems = [v for p in files for v in _violations(p)]
    assert problems == []


def test_the_purity_check_catches_a_clock_read(tmp_path: Path) -> None:
    bad = tmp_path / "uses_clock.py"
    bad.write_text("import time\nx = time.monotonic()\n")
    assert _violations(bad) == ["uses_clock.py: time", "uses_clock.py: call time.monotonic"]
