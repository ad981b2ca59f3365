"""serf_proto stays pure: no I/O modules, no clock, no global randomness, no files, no
printing and no process streams, arguments or exits (AST check)."""

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
#: Built-ins that do I/O: files and printing belong to the agent and the command line.
BANNED_BUILTINS = {"open", "print", "input"}
#: The process's streams, arguments and exit belong to the command line.
BANNED_SYS = {"stdin", "stdout", "stderr", "argv", "exit"}


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in BANNED_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in BANNED_IMPORTS:
                found.append(node.module)
            if node.module == "sys":
                found += [f"sys.{a.name}" for a in node.names if a.name in BANNED_SYS]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if isinstance(node.func.value, ast.Name):
                dotted = f"{node.func.value.id}.{node.func.attr}"
                if dotted in BANNED_CALLS:
                    found.append(f"call {dotted}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in BANNED_BUILTINS:
                found.append(f"call {node.func.id}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "sys" and node.attr in BANNED_SYS:
                found.append(f"sys.{node.attr}")
    return [f"{path.name}: {v}" for v in found]


def test_serf_proto_outside_the_simulator_imports_no_io_and_calls_no_global_randomness() -> None:
    files = [p for p in PROTO.rglob("*.py") if "sim" not in p.relative_to(PROTO).parts]
    assert files
    problems = [v for p in files for v in _violations(p)]
    assert problems == []


def test_no_module_of_serf_proto_opens_files_prints_or_touches_the_process() -> None:
    problems = [v for p in PROTO.rglob("*.py") for v in _violations(p) if _is_process_io(v)]
    assert problems == []


def _is_process_io(violation: str) -> bool:
    what = violation.split(": ", 1)[1]
    return what.startswith("sys.") or what.removeprefix("call ") in BANNED_BUILTINS


def test_the_purity_check_catches_a_clock_read(tmp_path: Path) -> None:
    bad = tmp_path / "uses_clock.py"
    bad.write_text("import time\nx = time.monotonic()\n")
    assert _violations(bad) == ["uses_clock.py: time", "uses_clock.py: call time.monotonic"]


def test_the_purity_check_catches_files_printing_and_process_streams(tmp_path: Path) -> None:
    bad = tmp_path / "does_io.py"
    bad.write_text(
        "import sys\n"
        "from sys import argv\n"
        "with open('x') as f:\n"
        "    print(f.read(), file=sys.stderr)\n"
        "data = sys.stdin.read()\n"
        "sys.exit(len(sys.argv))\n"
    )
    assert sorted(_violations(bad)) == sorted(
        [
            "does_io.py: sys.argv",
            "does_io.py: call open",
            "does_io.py: call print",
            "does_io.py: sys.stderr",
            "does_io.py: sys.stdin",
            "does_io.py: sys.exit",
            "does_io.py: sys.argv",
        ]
    )
    fine = tmp_path / "pure.py"
    fine.write_text("import sys\nname = sys.intern('a')\nself_open = obj._open(1)\n")
    assert _violations(fine) == []
