"""`-label` keeps two clusters apart on real agent processes; the same label joins."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.agentproc import AgentProcess, wait_until

# Go's CLI is the RPC client here.
pytestmark = pytest.mark.interop


def test_agents_with_the_same_label_join_and_see_each_other(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    a = AgentProcess(tmp_path, "la", "-label=blue")
    procs.append(a)
    a.start()
    b = AgentProcess(tmp_path, "lb", "-label=blue", f"-join={a.bind_addr}")
    procs.append(b)
    b.start()
    assert "Cluster label: blue" in b.output()
    wait_until(lambda: a.member_status("lb") == "alive", what="la to see lb alive")
    wait_until(lambda: b.member_status("la") == "alive", what="lb to see la alive")


def test_an_agent_with_another_label_cannot_join(tmp_path: Path, procs: list[AgentProcess]) -> None:
    a = AgentProcess(tmp_path, "ra", "-label=red")
    procs.append(a)
    a.start()
    b = AgentProcess(tmp_path, "rb", "-label=green", f"-join={a.bind_addr}")
    procs.append(b)
    b.start(wait=False)
    assert b.wait() == 1  # the start join fails, so the agent exits like Go's
    assert a.member_status("rb") is None


def test_an_unlabelled_agent_cannot_join_a_labelled_one(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    a = AgentProcess(tmp_path, "ua", "-label=red")
    procs.append(a)
    a.start()
    b = AgentProcess(tmp_path, "ub", f"-join={a.bind_addr}")
    procs.append(b)
    b.start(wait=False)
    assert b.wait() == 1
    assert a.member_status("ub") is None
