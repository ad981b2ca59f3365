"""Signals on a real agent process: SIGINT leaves, SIGTERM does not (unless configured), a
second signal forces the exit, SIGHUP reloads log level, handlers and tags."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.agent.agentproc import AgentProcess, wait_until

pytestmark = pytest.mark.interop


def pair(
    tmp_path: Path, procs: list[AgentProcess], *extra: str
) -> tuple[AgentProcess, AgentProcess]:
    """A Go observer and our agent joined to it."""
    observer = AgentProcess(tmp_path, "observer", go=True)
    procs.append(observer)
    observer.start()
    ours = AgentProcess(tmp_path, "p1", f"-join={observer.bind_addr}", *extra)
    procs.append(ours)
    ours.start()
    wait_until(lambda: observer.member_status("p1") == "alive", what="observer to see p1")
    return observer, ours


def write_config(tmp_path: Path, **values: object) -> str:
    path = tmp_path / "extra.json"
    path.write_text(json.dumps(values))
    return f"-config-file={path}"


def test_sigint_leaves_gracefully_and_exits_0(tmp_path: Path, procs: list[AgentProcess]) -> None:
    observer, ours = pair(tmp_path, procs)
    ours.signal(signal.SIGINT)
    assert ours.wait() == 0
    out = ours.output()
    assert "==> Caught signal: interrupt\n==> Gracefully shutting down agent...\n" in out
    wait_until(lambda: observer.member_status("p1") == "left", what="p1 to be left")


def test_sigint_with_skip_leave_on_interrupt_exits_1_without_leaving(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    observer, ours = pair(tmp_path, procs, write_config(tmp_path, skip_leave_on_interrupt=True))
    ours.signal(signal.SIGINT)
    assert ours.wait() == 1
    assert "Gracefully shutting down" not in ours.output()
    wait_until(lambda: observer.member_status("p1") == "failed", what="p1 to be failed")


def test_sigterm_exits_1_without_leaving(tmp_path: Path, procs: list[AgentProcess]) -> None:
    observer, ours = pair(tmp_path, procs)
    ours.signal(signal.SIGTERM)
    assert ours.wait() == 1
    out = ours.output()
    assert "==> Caught signal: terminated\n" in out
    assert "[WARN] serf: Shutdown without a Leave" in out
    wait_until(lambda: observer.member_status("p1") == "failed", what="p1 to be failed")


def test_sigterm_with_leave_on_terminate_leaves_and_exits_0(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    observer, ours = pair(tmp_path, procs, write_config(tmp_path, leave_on_terminate=True))
    ours.signal(signal.SIGTERM)
    assert ours.wait() == 0
    assert "==> Gracefully shutting down agent...\n" in ours.output()
    wait_until(lambda: observer.member_status("p1") == "left", what="p1 to be left")


def test_a_second_signal_during_the_leave_forces_exit_1(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    _observer, ours = pair(tmp_path, procs)
    ours.signal(signal.SIGINT)
    wait_until(lambda: "Gracefully shutting down agent" in ours.output(), what="leave start")
    ours.signal(signal.SIGINT)
    assert ours.wait() == 1


def test_sighup_reloads_log_level_handlers_and_tags(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    config = tmp_path / "agent.json"
    config.write_text(json.dumps({"log_level": "info", "tags": {"v": "1"}}))
    marker = tmp_path / "handled"
    agent = AgentProcess(tmp_path, "p1", f"-config-file={config}")
    procs.append(agent)
    agent.start()
    assert agent.serf("tags", "-set", "runtime=x").returncode == 0
    config.write_text(
        json.dumps(
            {
                "log_level": "debug",
                "tags": {"v": "2"},
                "event_handlers": [f"user=touch {marker}"],
            }
        )
    )
    agent.signal(signal.SIGHUP)
    wait_until(
        lambda: "==> Caught signal: hangup\n==> Reloading configuration...\n" in agent.output(),
        what="reload",
    )
    # Tags from the config replace every tag, including ones set at run time (as in Go).
    wait_until(lambda: agent.serf("members").stdout.split()[3:] == ["v=2"], what="tags")
    assert agent.serf("event", "go").returncode == 0
    wait_until(marker.exists, what="reloaded handler to run")
    wait_until(lambda: "[DEBUG]" in agent.output(), what="debug lines")
    assert not agent.exited()


def test_a_broken_config_on_sighup_keeps_the_old_one(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    config = tmp_path / "agent.json"
    # the agent starts from a Go 0.10.2 file (its keys, any case)
    go_010_keys = {"mdns": {"disable_ipv6": True}, "validate_node_names": True}
    config.write_text(
        json.dumps({"Tags": {"v": "1"}, "MsgpackUseNewTimeFormat": True, **go_010_keys})
    )
    agent = AgentProcess(tmp_path, "p1", f"-config-file={config}")
    procs.append(agent)
    agent.start()
    config.write_text(json.dumps({"tags": {"v": "2"}, "bogus": 1, "reconnect_interval": "1s"}))
    agent.signal(signal.SIGHUP)
    wait_until(lambda: "==> Failed to reload configs\n" in agent.output(), what="failure")
    assert (
        f"==> Error decoding '{config}': 1 error(s) decoding:\n\n* '' has invalid keys: bogus\n"
        "==> Failed to reload configs\n"
    ) in agent.output()
    config.write_text(json.dumps({"tags": {"v": "3"}, "tombstone_timeout": "soon"}))
    agent.signal(signal.SIGHUP)
    wait_until(lambda: agent.output().count("Failed to reload configs") == 2, what="failure")
    assert (
        f"==> Error decoding '{config}': time: invalid duration \"soon\" (key 'tombstone_timeout')\n"
        "==> Failed to reload configs\n"
    ) in agent.output()
    assert agent.serf("members").stdout.split()[3:] == ["v=1"]
    agent.signal(signal.SIGINT)
    assert agent.wait() == 0
