"""Snapshot crash and restart: after kill -9 the agent rejoins by itself, keeps its place in the
event stream (no handler re-runs old events), and a graceful leave is remembered."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.agent.agentproc import AgentProcess, wait_until

pytestmark = pytest.mark.interop


def handler_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_kill_9_then_restart_rejoins_and_does_not_rerun_old_events(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    log = tmp_path / "events.log"
    snapshot = tmp_path / "snapshot"
    peer = AgentProcess(tmp_path, "peer", go=True)
    procs.append(peer)
    peer.start()
    ours = AgentProcess(
        tmp_path,
        "p1",
        f"-snapshot={snapshot}",
        f"-event-handler=user=echo $SERF_USER_EVENT >> {log}",
    )
    procs.append(ours)
    ours.start()
    assert peer.serf("join", ours.bind_addr).returncode == 0
    wait_until(lambda: peer.member_status("p1") == "alive", what="peer to see p1")
    for name in ("e1", "e2"):
        assert peer.serf("event", "-coalesce=false", name).returncode == 0
    wait_until(lambda: sorted(handler_lines(log)) == ["e1", "e2"], what="first events")
    wait_until(lambda: "event-clock: 2" in snapshot.read_text(), what="snapshot record")

    ours.signal(signal.SIGKILL)
    ours.wait()
    wait_until(lambda: peer.member_status("p1") == "failed", what="p1 to be failed")

    ours.start()  # no -join: the snapshot tells it where the cluster is
    assert "                       Snapshot: true\n" in ours.last_run_output()
    wait_until(lambda: peer.member_status("p1") == "alive", what="p1 back alive")
    assert peer.serf("event", "-coalesce=false", "e3").returncode == 0
    wait_until(lambda: "e3" in handler_lines(log), what="new event")
    assert sorted(handler_lines(log)) == ["e1", "e2", "e3"]  # e1 and e2 ran once only


def test_after_a_graceful_leave_the_restarted_agent_stays_out(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    snapshot = tmp_path / "snapshot"
    peer = AgentProcess(tmp_path, "peer", go=True)
    procs.append(peer)
    peer.start()
    ours = AgentProcess(tmp_path, "p1", f"-snapshot={snapshot}", f"-join={peer.bind_addr}")
    procs.append(ours)
    ours.start()
    ours.signal(signal.SIGINT)
    assert ours.wait() == 0
    assert "leave" in snapshot.read_text().splitlines()
    ours.extra = [f"-snapshot={snapshot}"]
    ours.start()
    # The rejoin decision is made while the node is created, before the log gate opens.
    out = ours.last_run_output()
    assert "[INFO] agent: Serf agent starting" in out
    assert "re-join" not in out
    assert [line.split()[0] for line in ours.serf("members").stdout.splitlines()] == ["p1"]


def test_rejoin_failed_also_tries_members_last_seen_failed(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    snapshot = tmp_path / "snapshot"
    peer = AgentProcess(tmp_path, "peer", "-profile=local", go=True)
    procs.append(peer)
    peer.start()
    ours = AgentProcess(
        tmp_path,
        "p1",
        "-profile=local",
        f"-snapshot={snapshot}",
        "-rejoin-failed",
        f"-join={peer.bind_addr}",
    )
    procs.append(ours)
    ours.start()
    peer.signal(signal.SIGKILL)
    peer.wait()
    wait_until(lambda: ours.member_status("peer") == "failed", what="peer to be failed")
    wait_until(lambda: "not-alive: peer" in snapshot.read_text(), what="snapshot record")
    ours.signal(signal.SIGKILL)
    ours.wait()

    peer.start()
    ours.extra = ["-profile=local", f"-snapshot={snapshot}", "-rejoin-failed"]
    ours.start()
    wait_until(lambda: peer.member_status("p1") == "alive", what="p1 to rejoin the peer")
    assert "trying previously failed nodes" in ours.last_run_output()
