#!/usr/bin/env python3
"""Bootstrap and task runner for pyserf; needs only Python >= 3.11 and pip.

    python3 dev.py agent [serf agent flags...]   # set up .venv, then run `serf agent`
    python3 dev.py test  [pytest args...]        # set up .venv, then run every check and test
    python3 dev.py sync                          # only set up .venv
    python3 dev.py build [-o DIR]                # the five wheels and sdists (default dist/)
    python3 dev.py onefile [-o FILE]             # one executable file: dist/serf.pyz

Setting up means: find `uv` on PATH, or install it into a private bootstrap venv
(`.bootstrap/`), then `uv sync --locked` the whole workspace into `.venv/` at the repo
root with this Python. After any command, `.venv/bin/serf` exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".bootstrap"
VENV = ROOT / ".venv"


def log(msg: str) -> None:
    print(f"==> {msg}", file=sys.stderr, flush=True)


def find_uv() -> str:
    """Return a path to a uv executable, installing one into .bootstrap/ when none is on PATH."""
    found = shutil.which("uv")
    if found:
        return found
    uv = BOOTSTRAP / "bin" / "uv"
    if uv.exists():
        return str(uv)
    log("uv not found on PATH; installing it into .bootstrap/ (private venv)")
    venv.EnvBuilder(with_pip=True, clear=True).create(BOOTSTRAP)
    pip = BOOTSTRAP / "bin" / "pip"
    subprocess.run(
        [str(pip), "install", "--quiet", "--disable-pip-version-check", "uv"], check=True
    )
    return str(uv)


def sync() -> None:
    """Install the workspace (all four packages and the dev group) into .venv from uv.lock."""
    uv = find_uv()
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(VENV), UV_PYTHON_DOWNLOADS="never")
    cmd = [uv, "sync", "--all-packages", "--python", sys.executable, "--quiet"]
    cmd.append("--locked" if (ROOT / "uv.lock").exists() else "--no-install-project")
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def run(cmd: list[str]) -> int:
    """Run one step from the repo root inside .venv; return its exit code."""
    log(" ".join(cmd))
    env = dict(os.environ, PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("VIRTUAL_ENV", None)
    env["PYSERF_UV"] = find_uv()
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def test(extra: list[str]) -> int:
    """Static checks (ruff, ruff format, mypy --strict, import-linter, mkdocs) then pytest."""
    bin_ = VENV / "bin"
    steps = [
        [str(bin_ / "ruff"), "check", "."],
        [str(bin_ / "ruff"), "format", "--check", "."],
        [
            str(bin_ / "mypy"),
            *[d for d in ("packages", "examples", "benchmarks") if any((ROOT / d).rglob("*.py"))],
        ],
        [str(bin_ / "lint-imports")],
        [str(bin_ / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", str(ROOT / "site")],
    ]
    failed = [" ".join(Path(s[0]).name for s in [step]) for step in steps if run(step) != 0]
    code = run([str(bin_ / "python"), "-m", "pytest", *extra])
    if code == 5:
        log("pytest ran no tests: treating that as a failure")
    if code != 0:
        failed.append("pytest")
    if failed:
        log(f"FAILED: {', '.join(failed)}")
        return 1
    log("all checks and tests passed")
    return 0


def build(out_dir: Path) -> None:
    """Build every distribution (wheel and sdist) of the workspace into ``out_dir``."""
    log(f"building the wheels into {out_dir}")
    subprocess.run(
        [find_uv(), "build", "--all-packages", "--quiet", "--out-dir", str(out_dir)],
        cwd=ROOT,
        check=True,
        env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"),
    )


def onefile(out: Path) -> int:
    """Build ``out``: the `serf` command and agent as one self-contained executable (shiv).

    The file is a zipapp holding pyserf's wheels and their dependencies, C extensions included,
    built for this Python version and platform; on first run it unpacks them into
    ``~/.shiv`` (or ``$SHIV_ROOT``) and runs from there.
    """
    wheels = ROOT / "build" / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    build(wheels)
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"packing {out} with shiv")
    cmd = [
        str(VENV / "bin" / "shiv"),
        "--quiet",
        "--compressed",
        "--reproducible",
        "--find-links",
        str(wheels),
        "--python",
        "/usr/bin/env python3",
        "--console-script",
        "serf",
        "--output-file",
        str(out),
        "pyserf",
    ]
    code = subprocess.run(cmd, cwd=ROOT, check=False).returncode
    if code == 0:
        log(f"built {out} ({out.stat().st_size / 1e6:.1f} MB): copy it to a host and run it")
    return code


def _out_arg(rest: list[str], default: Path) -> Path:
    if rest[:1] in (["-o"], ["--out"]) and len(rest) == 2:
        return Path(rest[1]).resolve()
    if rest:
        raise SystemExit(f"usage: dev.py build|onefile [-o PATH] (got {' '.join(rest)})")
    return default


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0 if argv else 1
    task, rest = argv[0], argv[1:]
    sync()
    if task == "sync":
        return 0
    if task == "agent":
        serf = VENV / "bin" / "serf"
        os.execv(str(serf), [str(serf), "agent", *rest])
    if task == "test":
        return test(rest)
    if task == "build":
        build(_out_arg(rest, ROOT / "dist"))
        return 0
    if task == "onefile":
        return onefile(_out_arg(rest, ROOT / "dist" / "serf.pyz"))
    print(f"unknown task {task!r}; try: agent, test, sync, build, onefile", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
