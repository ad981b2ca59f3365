"""Shared pytest configuration: markers for tiers that need Go Serf or root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

GO_SERF = Path("/usr/bin/serf")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _has_netns() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_go = pytest.mark.skip(
        reason="Go Serf is not installed at /usr/bin/serf (apt-get install serf)"
    )
    skip_root = pytest.mark.skip(reason="fault tests need root and `ip netns` (iproute2)")
    retry = pytest.mark.flaky(reruns=1, reruns_delay=2)
    for item in items:
        if _runs_real_processes(item):
            item.add_marker(retry)
        if "interop" in item.keywords and not GO_SERF.exists():
            item.add_marker(skip_go)
        if "faults" in item.keywords and not _has_netns():
            item.add_marker(skip_root)


#: Test directories whose tests run real agents, sockets and timers; everything else (the
#: codec, the core, the simulator) is deterministic and never retried.
REAL_PROCESS_TIERS = ("interop", "faults", "agent", "cli", "asyncio")


def _runs_real_processes(item: pytest.Item) -> bool:
    """Whether ``item`` lives in a tier that depends on real time and a shared machine's load:
    such a test gets one retry, so a late datagram on a loaded CI box does not fail the run
    while a real regression (failing twice) still does."""
    parts = item.path.relative_to(REPO_ROOT).parts
    return len(parts) > 1 and parts[0] == "tests" and parts[1] in REAL_PROCESS_TIERS


class SocketOpenedError(AssertionError):
    """A test of a pure tier opened a socket."""


def refuse_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make opening any socket fail the test (the pure tiers must never touch the network)."""
    import socket

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise SocketOpenedError("this tier is pure: a test opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "socketpair", refuse)
