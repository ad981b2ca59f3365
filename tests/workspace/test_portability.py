"""serf-proto, serf-asyncio and serf-cli import without Unix-only modules, and run without uvloop.

Each check runs in a fresh interpreter in which the Unix-only standard modules (and uvloop)
cannot be imported, as on Windows: every module of the three packages must still import, and
``serf_asyncio.run`` must fall back to the standard asyncio loop.
"""

from __future__ import annotations

import subprocess
import sys

#: Standard modules that exist only on Unix; none may be imported when a package loads.
UNIX_ONLY = ("fcntl", "termios", "pwd", "grp", "resource", "tty", "pty", "syslog")
PACKAGES = ("serf_proto", "serf_asyncio", "serf_cli")

_BLOCK = f"""
import sys
for name in {(*UNIX_ONLY, "uvloop")!r}:
    sys.modules[name] = None  # ``import name`` now raises ImportError
"""


def _python(body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + body],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_module_imports_without_unix_only_modules() -> None:
    result = _python(
        f"""
import importlib, pkgutil
failed = []
for top in {PACKAGES!r}:
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failed.append(f"{{info.name}}: {{exc}}")
print("\\n".join(failed) or "ok")
"""
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_a_node_runs_on_the_standard_loop_where_uvloop_is_missing() -> None:
    result = _python(
        """
import asyncio
from serf_asyncio import SerfNode, node_config, run, uvloop_available

async def main() -> str:
    async with SerfNode(node_config("solo", bind="127.0.0.1:0")) as node:
        assert [m.name for m in node.members()] == ["solo"]
    return type(asyncio.get_running_loop()).__module__

print(uvloop_available(), run(main()))
"""
    )
    assert result.returncode == 0, result.stderr
    available, loop_module = result.stdout.split()
    assert available == "False"
    assert loop_module.startswith("asyncio.")  # asyncio.unix_events / asyncio.windows_events
