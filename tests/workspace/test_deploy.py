"""deploy/: the systemd unit verifies and is hardened, the documented install procedure works as
far as a machine without systemd as PID 1 allows, and the alert rules and the dashboard use
only metrics the agent exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from serf_agent.metrics import CATALOGUE, Metrics

from tests.agent.agentproc import free_port, wait_until
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
UNIT = DEPLOY / "serf.service"
#: The exposure `systemd-analyze security` may give the unit (the issue's bound).
MAX_EXPOSURE = 2.5


def _tool(name: str) -> str:
    """``name`` from PATH or the private ``.tools/`` that .ci/run unpacks; skip without it."""
    found = shutil.which(name) or shutil.which(name, path=str(REPO_ROOT / ".tools" / "usr" / "bin"))
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing: .ci/run installs it")
        pytest.skip(f"{name} is not installed")
    return found


def _unit_directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """Verified in a scratch root holding systemd's units, the unit and the commands it runs."""
    analyze = _tool("systemd-analyze")
    root = tmp_path / "root"
    units = Path("/usr/lib/systemd/system")
    shutil.copytree(units, root / units.relative_to("/"), symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/serf.service")
    directives = _unit_directives()
    for key in ("ExecStart", "ExecReload"):
        command = directives[key][0].split()[0]
        source = REPO_ROOT / ".venv/bin/serf" if key == "ExecStart" else Path(command)
        target = root / command.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    result = subprocess.run(
        [analyze, "verify", f"--root={root}", "/etc/systemd/system/serf.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_unit_is_hardened_as_the_docs_say() -> None:
    analyze = _tool("systemd-analyze")
    result = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for serf\.service: (\d+\.\d)", result.stdout)
    assert found is not None, result.stdout + result.stderr
    exposure = float(found.group(1))
    assert exposure <= MAX_EXPOSURE
    docs = (REPO_ROOT / "docs" / "install.md").read_text()
    assert f"exposure level for serf.service: {found.group(1)}" in docs
    assert f"rates this unit {found.group(1)}" in UNIT.read_text()
    directives = _unit_directives()
    assert "AF_NETLINK" in directives["RestrictAddressFamilies"][0].split()
    assert directives["StateDirectory"] == ["serf"] and directives["CapabilityBoundingSet"] == [""]
    assert directives["ProtectSystem"] == ["strict"] and directives["KillSignal"] == ["SIGINT"]


def test_the_install_procedure_runs_the_shipped_config_and_reloads_on_sighup(
    tmp_path: Path,
) -> None:
    """deploy/serf.d with the state directory moved into tmp_path and loopback ports: the
    documented keyring step, start, `systemctl reload` (SIGHUP), `systemctl stop` (SIGINT)."""
    state = tmp_path / "var-lib-serf"
    state.mkdir(mode=0o750)
    conf = tmp_path / "etc-serf.d"
    conf.mkdir()
    bind, rpc = free_port(), free_port()
    for source in sorted((DEPLOY / "serf.d").glob("*.json")):
        doc = json.loads(source.read_text().replace("/var/lib/serf", str(state)))
        doc.update({k: v for k, v in (("bind", f"127.0.0.1:{bind}"),) if k in doc})
        doc.update({k: f"127.0.0.1:{rpc}" for k in ("rpc_addr",) if k in doc})
        doc.pop("retry_join", None)  # the example's addresses are not on this machine
        if "event_handlers" in doc:
            for spec in doc["event_handlers"]:
                script = spec.partition("=")[2]
                if script.startswith("/etc/serf/handlers/"):
                    assert (DEPLOY / "handlers" / Path(script).name).exists(), script
            doc["event_handlers"] = ["query:uptime=uptime"]
        (conf / source.name).write_text(json.dumps(doc))
    for key in ("snapshot_path", "tags_file", "keyring_file"):
        shipped = json.loads((DEPLOY / "serf.d" / "10-agent.json").read_text())[key]
        assert shipped.startswith("/var/lib/serf/"), "state must live in the StateDirectory"
    serf = [sys.executable, "-m", "serf_cli"]
    # The documented keyring step: printf '["%s"]' "$(serf keygen)" > /var/lib/serf/keyring.json
    key = subprocess.run([*serf, "keygen"], capture_output=True, text=True, check=True).stdout
    (state / "keyring.json").write_text(f'["{key.strip()}"]')
    (state / "keyring.json").chmod(0o600)
    out_path = tmp_path / "agent.out"
    with open(out_path, "wb") as out:
        agent = subprocess.Popen(
            [*serf, "agent", "-node=svc1", f"-config-dir={conf}"],
            cwd=state,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_until(lambda: "Log data will now stream" in out_path.read_text(), what="the agent")
        assert "Encrypted: true" in out_path.read_text()
        (conf / "40-tags.json").write_text(json.dumps({"tags": {"reloaded": "yes"}}))
        agent.send_signal(signal.SIGHUP)
        wait_until(lambda: "Reloading configuration..." in out_path.read_text(), what="reload")
        rpc_flag = f"-rpc-addr=127.0.0.1:{rpc}"

        def tagged() -> bool:
            members = subprocess.run(
                [*serf, "members", rpc_flag], capture_output=True, text=True, check=False
            )
            return "reloaded=yes" in members.stdout

        wait_until(tagged, what="the reloaded tags")
        agent.send_signal(signal.SIGINT)
        assert agent.wait(timeout=60) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    text = out_path.read_text()
    assert "Gracefully shutting down agent..." in text
    assert (state / "snapshot").exists() and (state / "tags.json").exists()


def _exported_names() -> set[str]:
    """Every sample name /metrics can carry."""
    names = {spec.name for spec in CATALOGUE}
    names |= {f"{spec.name}{s}" for spec in CATALOGUE for s in ("_bucket", "_sum", "_count")}
    for family in text_string_to_metric_families(Metrics().render()):
        names |= {sample.name for sample in family.samples}
    return names | {"up"}


_METRIC = re.compile(r"\b((?:serf|process|python|pyserf)_[a-z0-9_]+|up)\b(?=\s*[{\[)])")


def test_alert_rules_cover_the_issue_and_use_exported_metrics() -> None:
    rules_file = DEPLOY / "prometheus" / "serf-alerts.yml"
    rules = [r for g in yaml.safe_load(rules_file.read_text())["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {
        "SerfMemberFailed",
        "SerfMembersFlapping",
        "SerfHealthScoreDegraded",
        "SerfBroadcastQueueBacklog",
        "SerfDroppingInput",
    } <= names
    exported = _exported_names()
    for rule in rules:
        used = set(_METRIC.findall(rule["expr"]))
        assert used and used <= exported, (rule["alert"], used - exported)
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]


def test_promtool_checks_and_unit_tests_the_alert_rules() -> None:
    promtool = _tool("promtool")
    folder = DEPLOY / "prometheus"
    for args in (["check", "rules", "serf-alerts.yml"], ["test", "rules", "serf-alerts.test.yml"]):
        result = subprocess.run(
            [promtool, *args], cwd=folder, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_grafana_dashboard_graphs_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "pyserf-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    exported = _exported_names()
    graphed: set[str] = set()
    for panel in panels:
        for target in panel.get("targets", []):
            used = set(_METRIC.findall(target["expr"]))
            assert used and used <= exported, (panel["title"], used - exported)
            graphed |= used
    for wanted in (
        "serf_members",
        "serf_health_score",
        "serf_broadcast_queue_depth",
        "serf_packets_dropped_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "python_gc_collections_total",
        "pyserf_build_info",
    ):
        assert wanted in graphed, wanted


def test_the_documented_install_commands_match_the_unit_and_the_shipped_files() -> None:
    """What this machine cannot run (useradd, systemctl) is checked against the files it uses."""
    doc = (REPO_ROOT / "docs" / "install.md").read_text()
    section = doc.split("## Run it as a service", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found is not None
    steps = found.group(1)
    for pattern in re.findall(r"(deploy/\S+)", steps):
        assert list(REPO_ROOT.glob(pattern)), pattern
    directives = _unit_directives()
    exec_start = directives["ExecStart"][0].split()
    assert exec_start[0] == "/opt/pyserf/bin/serf" and "/opt/pyserf/bin/pip install pyserf" in doc
    config_dir = exec_start[-1].removeprefix("-config-dir=")
    assert f"install -d -m 0755 {config_dir} " in steps and f"{config_dir}/" in steps
    assert f"useradd --system --home-dir /var/lib/{directives['StateDirectory'][0]}" in steps
    assert directives["User"] == ["serf"] and directives["WorkingDirectory"] == ["/var/lib/serf"]
    handlers = json.loads((DEPLOY / "serf.d" / "30-handlers.json").read_text())["event_handlers"]
    for spec in handlers:
        script = spec.partition("=")[2]
        if script.startswith("/"):
            assert f"{Path(script).parent}/" in steps, script
    assert "systemctl reload serf" in doc and "SIGHUP" in doc
    assert directives["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
