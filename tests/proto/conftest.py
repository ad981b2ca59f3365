"""The proto tier is pure: any test that opens a socket fails."""

from __future__ import annotations

import pytest

from tests.conftest import refuse_sockets


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_sockets(monkeypatch)
