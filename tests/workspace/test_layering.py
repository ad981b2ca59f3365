"""The layering contracts hold, and they really catch a forbidden import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGES = ["serf-proto", "serf-asyncio", "serf-agent", "serf-cli"]


def _lint_imports(root: Path, src_root: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    paths = ":".join(str(src_root / p / "src") for p in PACKAGES)
    return subprocess.run(
        [str(exe), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": paths, "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_the_layering_contracts_hold_for_the_repository() -> None:
    result = _lint_imports(REPO_ROOT, REPO_ROOT / "packages")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_purity_contract_fails_when_serf_proto_imports_time(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for pkg in PACKAGES:
        shutil.copytree(
            REPO_ROOT / "packages" / pkg / "src",
            tmp_path / "packages" / pkg / "src",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    bad = tmp_path / "packages" / "serf-proto" / "src" / "serf_proto" / "_uses_clock.py"
    bad.write_text("import time\n\nNOW = time.monotonic()\n")
    result = _lint_imports(tmp_path, tmp_path / "packages")
    assert result.returncode != 0
    assert "serf_proto._uses_clock -> time" in result.stdout


def test_the_layering_contract_fails_when_proto_imports_the_agent(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for pkg in PACKAGES:
        shutil.copytree(
            REPO_ROOT / "packages" / pkg / "src",
            tmp_path / "packages" / pkg / "src",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    bad = tmp_path / "packages" / "serf-proto" / "src" / "serf_proto" / "_upward.py"
    bad.write_text("import serf_agent\n")
    result = _lint_imports(tmp_path, tmp_path / "packages")
    assert result.returncode != 0
