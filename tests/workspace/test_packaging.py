"""What we ship works outside the repository, and serf-proto drags in nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def _uv() -> str:
    uv = os.environ.get("PYSERF_UV") or shutil.which("uv")
    bootstrap = REPO_ROOT / ".bootstrap" / "bin" / "uv"
    if not uv and bootstrap.exists():
        uv = str(bootstrap)
    if not uv:
        pytest.skip("uv is not available (run the tests through `python3 dev.py test`)")
    return uv


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.timeout(600)
def test_serf_proto_installs_alone_and_imports_nothing_higher(tmp_path: Path) -> None:
    uv = _uv()
    reqs = tmp_path / "requirements.txt"
    _run(
        [
            uv,
            "export",
            "--package",
            "serf-proto",
            "--frozen",
            "--no-dev",
            "--no-hashes",
            "--no-emit-workspace",
            "--output-file",
            str(reqs),
        ],
        REPO_ROOT,
    )
    env_dir = tmp_path / "venv"
    _run([uv, "venv", "--python", "python3", str(env_dir)], tmp_path)
    py = str(env_dir / "bin" / "python")
    _run(
        [
            uv,
            "pip",
            "install",
            "--python",
            py,
            "-r",
            str(reqs),
            str(REPO_ROOT / "packages" / "serf-proto"),
        ],
        tmp_path,
    )
    listed = _run([uv, "pip", "list", "--python", py, "--format", "freeze"], tmp_path).stdout
    names = {line.split("==")[0].lower() for line in listed.split()}
    assert "serf-proto" in names
    assert not names & {"serf-asyncio", "serf-agent", "serf-cli", "uvloop", "pydantic", "h11"}
    probe = (
        "import sys, serf_proto\n"
        "bad = {'asyncio', 'uvloop', 'pydantic', 'h11', 'serf_asyncio', 'serf_agent'} & set(sys.modules)\n"
        "assert not bad, bad\n"
        "print(serf_proto.__version__)\n"
    )
    out = _run([py, "-c", probe], tmp_path).stdout
    assert out.strip() == "0.1.0"


@pytest.mark.timeout(600)
def test_the_four_wheels_install_into_a_clean_venv_and_serf_version_runs(tmp_path: Path) -> None:
    uv = _uv()
    dist = tmp_path / "dist"
    _run([uv, "build", "--all-packages", "--wheel", "--out-dir", str(dist)], REPO_ROOT)
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    assert len(wheels) == 4, wheels
    env_dir = tmp_path / "venv"
    _run([uv, "venv", "--python", "python3", str(env_dir)], tmp_path)
    _run([uv, "pip", "install", "--python", str(env_dir / "bin" / "python"), *wheels], tmp_path)
    out = _run([str(env_dir / "bin" / "serf"), "version"], tmp_path).stdout
    assert out.splitlines()[0] == "0.8.2-dev"
    assert out.splitlines()[1] == "Agent Protocol: 5 (Understands back to: 2)"
