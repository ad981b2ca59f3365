"""What we ship installs and runs outside the repository, from the built wheels.

One session-scoped build (``uv build --all-packages``: sdists, then wheels from the sdists) feeds
every test here. Each install goes into a fresh ``python3 -m venv`` in a temporary directory with
plain ``pip``: our wheels from ``--find-links``, third-party packages from the package index.
"""

from __future__ import annotations

import email
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from serf_proto import __version__

from tests.conftest import REPO_ROOT
from tests.loopback import free_port as _free_port

DISTRIBUTIONS = ("pyserf", "serf-agent", "serf-asyncio", "serf-cli", "serf-proto")
INTERNAL_PINS = {
    "pyserf": {"serf-cli", "serf-agent"},
    "serf-cli": {"serf-agent"},
    "serf-agent": {"serf-asyncio"},
    "serf-asyncio": {"serf-proto"},
    "serf-proto": set(),
}
DEADLINE = 60.0


def _uv() -> str:
    uv = os.environ.get("PYSERF_UV") or shutil.which("uv")
    bootstrap = REPO_ROOT / ".bootstrap" / "bin" / "uv"
    if not uv and bootstrap.exists():
        uv = str(bootstrap)
    if not uv:
        pytest.skip("uv is not available (run the tests through `python3 dev.py test`)")
    return uv


def _env() -> dict[str, str]:
    """The environment minus anything pointing into the workspace's venv."""
    drop = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO_ROOT))
    )
    return env


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env or _env(),
        check=False,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every distribution of the workspace, built once: ``*.tar.gz`` and ``*.whl``."""
    out = tmp_path_factory.mktemp("dist")
    _run([_uv(), "build", "--all-packages", "--quiet", "--out-dir", str(out)], REPO_ROOT)
    return out


def _wheel(dist: Path, name: str) -> Path:
    (found,) = dist.glob(f"{name.replace('-', '_')}-*.whl")
    return found


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (meta,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(meta))


def _fresh_venv(tmp_path: Path, dist: Path, *requirements: str) -> Path:
    """A new venv outside the workspace with ``requirements`` pip-installed; returns its bin/."""
    env_dir = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(env_dir)], tmp_path)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, "--find-links", str(dist), *requirements], tmp_path)
    return env_dir / "bin"


def _installed(bin_dir: Path, tmp_path: Path) -> set[str]:
    listed = _run([str(bin_dir / "python"), "-m", "pip", "list", "--format=freeze"], tmp_path)
    return {line.split("==")[0].lower() for line in listed.stdout.split()}


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _agent_members_event(serf: list[str], tmp_path: Path, env: dict[str, str]) -> str:
    """Start ``serf agent``, check ``serf members``, ``serf event`` and ``GET /metrics``; stop it
    by PID (SIGINT).

    Returns the agent's output.
    """
    bind, rpc, http = _free_port(), _free_port(), _free_port()
    out_path = tmp_path / "agent.out"
    rpc_flag = f"-rpc-addr=127.0.0.1:{rpc}"
    flags = [f"-bind=127.0.0.1:{bind}", rpc_flag, f"-http-addr=127.0.0.1:{http}", "-tag=k=v"]
    with open(out_path, "wb") as out:
        agent = subprocess.Popen(
            [*serf, "agent", "-node=pkg1", *flags],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for(
            lambda: (
                "Log data will now stream in" in out_path.read_text() or agent.poll() is not None
            ),
            "the agent to start",
        )
        assert agent.poll() is None, out_path.read_text()
        members = _run([*serf, "members", rpc_flag], tmp_path, env).stdout
        assert members.split() == ["pkg1", f"127.0.0.1:{bind}", "alive", "k=v"]
        event = _run([*serf, "event", rpc_flag, "deployed", "v1"], tmp_path, env).stdout
        assert event == "Event 'deployed' dispatched! Coalescing enabled: true\n"
        _wait_for(lambda: "user-event: deployed" in out_path.read_text(), "the event")
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=30) as reply:
            metrics = reply.read().decode()
        assert f'pyserf_build_info{{version="{__version__}"}} 1.0' in metrics.splitlines()
        assert (
            "\nprocess_resident_memory_bytes " in metrics
            and "\npython_gc_collections_total{" in metrics
        )
        agent.send_signal(signal.SIGINT)
        assert agent.wait(timeout=DEADLINE) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    return out_path.read_text()


def test_every_distribution_carries_the_one_version_and_pins_its_siblings(dist: Path) -> None:
    assert sorted(p.name for p in dist.glob("*.tar.gz")) == [
        f"{name.replace('-', '_')}-{__version__}.tar.gz" for name in DISTRIBUTIONS
    ]
    for name in DISTRIBUTIONS:
        meta = _metadata(_wheel(dist, name))
        assert meta["Name"] == name and meta["Version"] == __version__
        assert meta["License-Expression"] == "MPL-2.0" and meta["License-File"] == "LICENSE"
        assert meta["Author"] and meta.get_all("Project-URL") and meta.get_all("Classifier")
        requires = meta.get_all("Requires-Dist") or []
        pins = {r.split("==")[0] for r in requires if r.startswith(("serf-", "pyserf"))}
        assert pins == INTERNAL_PINS[name], requires
        for req in requires:
            if req.split("==")[0] in pins:
                assert req.endswith(f"=={__version__}"), req
        with zipfile.ZipFile(_wheel(dist, name)) as archive:
            licence = [n for n in archive.namelist() if n.endswith("licenses/LICENSE")]
            assert archive.read(licence[0]) == (REPO_ROOT / "LICENSE").read_bytes()
            if name == "serf-agent":  # the cluster page ships inside the wheel (package data)
                static = REPO_ROOT / "packages/serf-agent/src/serf_agent/http/static"
                for page_file in ("index.html", "app.js", "app.css"):
                    shipped = archive.read(f"serf_agent/http/static/{page_file}")
                    assert shipped == (static / page_file).read_bytes()


def test_the_version_is_written_once_and_the_build_files_are_copies() -> None:
    written = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "packages").rglob("*")
        if path.suffix in (".py", ".toml")
        and re.search(r"""(^|\s)(__version__|version)\s*=\s*["']\d""", path.read_text(), re.M)
    ]
    assert written == ["packages/serf-proto/src/serf_proto/__init__.py"]
    shared = (REPO_ROOT / "tools" / "hatch_build.py").read_bytes()
    for name in DISTRIBUTIONS:
        package = REPO_ROOT / "packages" / name
        assert (package / "hatch_build.py").read_bytes() == shared, name
        assert (package / "LICENSE").read_bytes() == (REPO_ROOT / "LICENSE").read_bytes(), name
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert f"## [{__version__}]" in changelog


@pytest.mark.timeout(600)
def test_pip_install_pyserf_gives_the_serf_command_with_the_agent(
    dist: Path, tmp_path: Path
) -> None:
    bin_dir = _fresh_venv(tmp_path, dist, "pyserf")
    names = _installed(bin_dir, tmp_path)
    assert set(DISTRIBUTIONS) <= names
    version = _run([str(bin_dir / "serf"), "version"], tmp_path).stdout.splitlines()
    assert version == [
        "0.8.2-dev",
        "Agent Protocol: 5 (Understands back to: 2)",
        f"pyserf {__version__}",
    ]
    module = _run([str(bin_dir / "python"), "-m", "pyserf", "version"], tmp_path).stdout
    assert module.splitlines()[-1] == f"pyserf {__version__}"
    _agent_members_event([str(bin_dir / "serf")], tmp_path, _env())


@pytest.mark.timeout(600)
def test_serf_proto_installs_alone_and_runs_the_documented_simulation(
    dist: Path, tmp_path: Path
) -> None:
    bin_dir = _fresh_venv(tmp_path, dist, "serf-proto")
    names = _installed(bin_dir, tmp_path)
    assert "serf-proto" in names
    assert not names & {"serf-asyncio", "serf-agent", "serf-cli", "uvloop", "pydantic", "h11"}
    probe = (
        "import sys, serf_proto\n"
        "bad = {'asyncio', 'uvloop', 'pydantic', 'h11', 'serf_asyncio', 'serf_agent'} & set(sys.modules)\n"
        "assert not bad, bad\n"
        "print(serf_proto.__version__)\n"
    )
    assert _run([str(bin_dir / "python"), "-c", probe], tmp_path).stdout.strip() == __version__
    # The first example of docs/simulator.md, as printed there.
    doc = (REPO_ROOT / "docs" / "simulator.md").read_text()
    example = re.search(r"```python\n(.*?)```", doc, re.S)
    assert example is not None
    (tmp_path / "example.py").write_text(example.group(1))
    out = _run([str(bin_dir / "python"), "example.py"], tmp_path).stdout.split()
    assert len(out) == 2 and int(out[0]) >= 1 and re.fullmatch("[0-9a-f]{32}", out[1])


@pytest.mark.timeout(600)
def test_serf_asyncio_installs_alone_and_runs_the_embedding_example(
    dist: Path, tmp_path: Path
) -> None:
    bin_dir = _fresh_venv(tmp_path, dist, "serf-asyncio")
    names = _installed(bin_dir, tmp_path)
    assert {"serf-asyncio", "serf-proto"} <= names
    assert not names & {"serf-agent", "serf-cli", "pyserf", "pydantic", "h11"}
    shutil.copy(REPO_ROOT / "examples" / "embed_asyncio.py", tmp_path / "embed_asyncio.py")
    out = _run([str(bin_dir / "python"), "embed_asyncio.py"], tmp_path, timeout=120).stdout
    assert "web got user event 'deploy' payload b'v42'" in out
    assert out.rstrip().endswith("both nodes left and shut down")


@pytest.mark.timeout(600)
def test_the_onefile_executable_runs_agent_members_and_event(tmp_path: Path) -> None:
    """``python3 dev.py onefile`` builds one file that needs only python3 on the host."""
    target = tmp_path / "out" / "serf.pyz"
    python3 = shutil.which("python3", path=_env()["PATH"]) or sys.executable
    _run([python3, str(REPO_ROOT / "dev.py"), "onefile", "-o", str(target)], REPO_ROOT)
    host = tmp_path / "host"
    host.mkdir()
    serf = host / "serf"
    shutil.copy(target, serf)
    env = _env()
    env["SHIV_ROOT"] = str(host / "unpacked")
    version = _run([str(serf), "version"], host, env).stdout
    assert version.splitlines()[-1] == f"pyserf {__version__}"
    _agent_members_event([str(serf)], host, env)


def test_every_third_party_import_is_a_declared_dependency_of_its_distribution() -> None:
    """The hook's ``external`` lists are the only place dependencies are written: an import that
    is missing there (e.g. lost in a merge) would break ``pip install`` but no workspace test."""
    import ast
    import tomllib
    from importlib.metadata import packages_distributions

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    dists = packages_distributions()
    for name in DISTRIBUTIONS:
        package = REPO_ROOT / "packages" / name
        hook = tomllib.loads((package / "pyproject.toml").read_text())["tool"]["hatch"]
        config = hook["metadata"]["hooks"]["custom"]
        declared = {norm(name) for name in config["internal"]}
        declared |= {
            norm(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]) for req in config["external"]
        }
        imported: set[str] = set()
        for source in (package / "src").rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
        own = {p.name for p in (package / "src").iterdir()}
        internal = {m for m in imported if m.startswith(("serf_", "pyserf"))}  # pinned chain
        third_party = imported - set(sys.stdlib_module_names) - own - internal - {"__future__"}
        for module in sorted(third_party):
            providers = {norm(d) for d in dists.get(module, [module.replace("_", "-")])}
            assert providers & declared, f"{name} imports {module} but does not declare {providers}"
