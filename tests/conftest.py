"""Shared pytest configuration: markers for tiers that need Go Serf or root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
    for item in items:
        if "interop" in item.keywords and not GO_SERF.exists():
            item.add_marker(skip_go)
        if "faults" in item.keywords and not _has_netns():
            item.add_marker(skip_root)
