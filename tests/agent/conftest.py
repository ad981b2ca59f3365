"""Fixtures shared by the agent tests that start real agent processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.agent.agentproc import AgentProcess


@pytest.fixture
def procs() -> Iterator[list[AgentProcess]]:
    """A list the test appends its agent processes to; each is stopped (by PID) afterwards."""
    started: list[AgentProcess] = []
    yield started
    for proc in started:
        proc.stop()
