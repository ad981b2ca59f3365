"""Shared pytest configuration: markers for tiers that need Go Serf or root."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import NoReturn

import pytest

GO_SERF = Path("/usr/bin/serf")
REPO_ROOT = Path(__file__).resolve().parent.parent


def has_ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound here."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def require_ipv6_loopback() -> None:
    """Skip the calling test where ``::1`` cannot be bound, except in CI (``CI=true``): ``.ci/run``
    enables IPv6 on loopback, so there a missing ``::1`` fails the test instead of hiding it."""
    if has_ipv6_loopback():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI must provide an IPv6 loopback (::1); .ci/run enables it")
    pytest.skip("no IPv6 loopback (::1 cannot be bound)")


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def require_chromium() -> None:
    """Skip the calling browser test where headless Chromium is missing, except in CI
    (``CI=true``): ``.ci/run`` installs chromium and chromium-driver, so there it fails."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI must provide chromium and chromium-driver; .ci/run installs them")
    pytest.skip("no headless browser (apt-get install chromium chromium-driver)")


def _has_netns() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--event-loop",
        choices=("both", "uvloop", "asyncio"),
        default="both",
        help="event loop(s) the asyncio tier runs each test on (default: both)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_go = pytest.mark.skip(
        reason="Go Serf is not installed at /usr/bin/serf (apt-get install serf)"
    )
    skip_root = pytest.mark.skip(reason="fault tests need root and `ip netns` (iproute2)")
    retry = pytest.mark.flaky(reruns=1, reruns_delay=2)
    for item in items:
        if is_realtime(item):
            item.add_marker(retry)
        if "interop" in item.keywords and not GO_SERF.exists():
            item.add_marker(skip_go)
        if "faults" in item.keywords and not _has_netns():
            item.add_marker(skip_root)


#: The one place that decides which tests may be retried: modules whose tests run real agents,
#: sockets and timers on a shared machine, where a datagram can arrive after a deadline. Such a
#: test is rerun once (the rerun is named in the summary, ``R``); it contains no retry loop of
#: its own. Everything else (codec, core, simulator, parsers, file formats, fuzzers, anything
#: that runs on virtual time or without sockets) is never retried: a failure there is a bug.
#: A new module is not retried until it is listed here.
REALTIME_MODULES = frozenset(
    {
        "tests/interop/*",
        "tests/faults/*",
        "tests/asyncio/test_node.py",
        "tests/asyncio/test_node_hooks.py",
        "tests/asyncio/test_transport.py",
        "tests/asyncio/test_examples.py",
        "tests/asyncio/test_threaded_example.py",
        "tests/agent/test_agent_discovery.py",
        "tests/agent/test_agent_encrypt_rollout.py",
        "tests/agent/test_agent_label.py",
        "tests/agent/test_agent_metrics.py",
        "tests/agent/test_agent_process.py",
        "tests/agent/test_agent_startup_errors.py",
        "tests/agent/test_config_go010_start.py",
        "tests/agent/test_handlers_runner.py",
        "tests/agent/test_hostile_agent.py",
        "tests/agent/test_hostile_security.py",
        "tests/agent/test_http_server.py",
        "tests/agent/test_http_ui.py",
        "tests/agent/test_ui_browser.py",
        "tests/agent/test_rpc_agent_interop.py",
        "tests/agent/test_rpc_go_cli.py",
        "tests/agent/test_rpc_go_differential.py",
        "tests/agent/test_rpc_serfclient.py",
        "tests/agent/test_rpc_server.py",
        "tests/agent/test_rpc_stats.py",
        "tests/agent/test_signals.py",
        "tests/agent/test_snapshot_restart.py",
        "tests/cli/test_commands_vs_go.py",
        "tests/cli/test_streams_vs_go.py",
        "tests/cli/test_rpc_client.py",
    }
)

#: Tiers that are deterministic by construction; listing one of their modules above is an error.
DETERMINISTIC_TIERS = ("proto", "sim", "workspace")


def is_realtime(item: pytest.Item) -> bool:
    """Whether ``item``'s module is listed in ``REALTIME_MODULES`` (and so may rerun once)."""
    rel = item.path.relative_to(REPO_ROOT)
    parts = rel.parts
    listed = rel.as_posix() in REALTIME_MODULES or (
        len(parts) > 2 and f"{parts[0]}/{parts[1]}/*" in REALTIME_MODULES
    )
    if listed and len(parts) > 1 and parts[1] in DETERMINISTIC_TIERS:
        raise pytest.UsageError(f"{rel}: deterministic tiers are never retried")
    return listed


class SocketOpenedError(AssertionError):
    """A test of a pure tier opened a socket."""


def refuse_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make opening any socket fail the test (the pure tiers must never touch the network)."""

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise SocketOpenedError("this tier is pure: a test opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "socketpair", refuse)
