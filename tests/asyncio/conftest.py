"""Fixtures for the asyncio tier: run each test body on uvloop and on the plain asyncio loop."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from serf_asyncio.runner import run, uvloop_available

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture(params=["uvloop", "asyncio"])
def run_on_loop(request: pytest.FixtureRequest) -> Runner:
    """Run a coroutine to completion on a fresh loop of the parametrised kind."""
    use_uvloop = request.param == "uvloop"
    if use_uvloop and not uvloop_available():
        pytest.skip("uvloop is not installed")

    def runner(coro: Coroutine[Any, Any, Any]) -> Any:
        return run(coro, use_uvloop=use_uvloop)

    return runner
