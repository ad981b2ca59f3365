"""Turning gossip encryption on without downtime: `-encrypt-verify-incoming/-outgoing`.

The documented rollout (docs/agent.md) restarts one node at a time through three phases; at
every step the cluster holds nodes of two neighbouring phases, and every member must stay
alive in every node's view. A Go 0.9.4 agent that has no key takes part in the first step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.agentproc import AgentProcess, wait_until

pytestmark = pytest.mark.interop

KEY = "YS029FLySwr2lkH4HAqaxcLwAK+j3pl2HNISYL8BHDQ="
PHASES = (
    # 1: the key, but plaintext out and plaintext accepted
    [f"-encrypt={KEY}", "-encrypt-verify-incoming=false", "-encrypt-verify-outgoing=false"],
    # 2: encrypted out, plaintext still accepted
    [f"-encrypt={KEY}", "-encrypt-verify-incoming=false"],
    # 3: the defaults: encrypted both ways
    [f"-encrypt={KEY}"],
)


def all_alive(nodes: list[AgentProcess]) -> bool:
    return all(viewer.member_status(other.name) == "alive" for viewer in nodes for other in nodes)


def restart(node: AgentProcess, phase: list[str], join: str) -> None:
    node.stop()
    node.extra = [*phase, f"-join={join}"]
    node.start()


def test_encryption_rolls_out_one_node_at_a_time(tmp_path: Path, procs: list[AgentProcess]) -> None:
    go = AgentProcess(tmp_path, "g", go=True)
    procs.append(go)
    go.start()
    a = AgentProcess(tmp_path, "a", f"-join={go.bind_addr}")
    b = AgentProcess(tmp_path, "b", f"-join={go.bind_addr}")
    procs += [a, b]
    a.start()
    b.start()
    wait_until(lambda: all_alive([go, a, b]), what="the plaintext cluster")

    restart(a, PHASES[0], go.bind_addr)  # a has the key; g and b have none
    wait_until(lambda: all_alive([go, a, b]), what="phase 1 next to plaintext nodes")
    go.stop()  # the Go 0.9.4 node is retired; the rest roll on
    restart(b, PHASES[0], a.bind_addr)
    for phase in PHASES[1:]:
        restart(a, phase, b.bind_addr)  # a one phase ahead of b
        wait_until(lambda: all_alive([a, b]), what=f"mixed phases {phase}")
        restart(b, phase, a.bind_addr)
        wait_until(lambda: all_alive([a, b]), what=f"phase {phase}")
    assert "Encrypted: true" in a.last_run_output()
