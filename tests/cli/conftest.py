"""Fixtures for the CLI tier: agent factories and shared loopback clusters.

Comparisons run against agents started by each factory named in ``SERF_CLI_TEST_AGENTS``
(comma-separated; ``go`` by default, ``pyserf`` adds our own agent), so the same tests check
our CLI against Go's agent and, once it is complete, against ours.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli.harness import AGENT_COMMANDS, GO_SERF, Agent, Cluster, cluster


def _factory_names() -> list[str]:
    raw = os.environ.get("SERF_CLI_TEST_AGENTS", "go")
    return [name.strip() for name in raw.split(",") if name.strip()]


@pytest.fixture(scope="module", params=_factory_names())
def agent_factory(request: pytest.FixtureRequest) -> list[str]:
    """The command that starts ``serf agent`` for this run of the module."""
    name = str(request.param)
    if name not in AGENT_COMMANDS:
        pytest.fail(f"unknown agent factory {name!r} in SERF_CLI_TEST_AGENTS")
    if name == "go" and not Path(GO_SERF).exists():
        pytest.skip("Go Serf is not installed at /usr/bin/serf")
    if name == "pyserf" and importlib.util.find_spec("serf_agent.command") is None:
        pytest.skip("serf_agent.command is not available yet")
    return AGENT_COMMANDS[name]


@dataclass
class Lan:
    """Three joined agents: n1 (role=web, dc=east), n2 (role=db), n3 (role=cache, RPC token)."""

    cluster: Cluster
    n1: Agent
    n2: Agent
    n3: Agent


@pytest.fixture(scope="module")
def lan(agent_factory: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lan]:
    """A 3-node cluster shared by a test module; n1 and n2 answer ``echo`` queries."""
    workdir = tmp_path_factory.mktemp("lan")
    with cluster(agent_factory, workdir) as c:
        handler = f"-event-handler={workdir / 'handler.sh'}"
        n1 = c.start("n1", "-tag", "role=web", "-tag", "dc=east", handler)
        n2 = c.start("n2", "-tag", "role=db", handler, join=n1)
        n3 = c.start("n3", "-tag", "role=cache", join=n1, auth="s3cret")
        c.wait_for_members(n1, 3)
        c.wait_for_members(n3, 3)
        yield Lan(c, n1, n2, n3)
