"""The retry policy of tests/conftest.py names real modules and never a deterministic tier."""

from __future__ import annotations

from tests.conftest import DETERMINISTIC_TIERS, REALTIME_MODULES, REPO_ROOT


def test_every_listed_realtime_module_exists() -> None:
    for entry in sorted(REALTIME_MODULES):
        matches = list(REPO_ROOT.glob(entry if entry.endswith(".py") else entry + ".py"))
        assert matches, f"REALTIME_MODULES lists {entry}, which matches no test module"


def test_no_deterministic_tier_is_listed() -> None:
    for entry in REALTIME_MODULES:
        assert entry.split("/")[1] not in DETERMINISTIC_TIERS, entry
