"""Fixtures for the asyncio tier: run each test body on uvloop and on the plain asyncio loop.

``--event-loop=uvloop`` or ``--event-loop=asyncio`` runs the tier on one loop only; the default
(``both``) runs every test that takes ``run_on_loop`` once per loop. Without uvloop installed
the uvloop runs are skipped, so the standard loop alone still covers the tier.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from serf_asyncio.runner import run, uvloop_available

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
LOOPS = ("uvloop", "asyncio")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "run_on_loop" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--event-loop")
        loops = LOOPS if chosen == "both" else (chosen,)
        metafunc.parametrize("run_on_loop", loops, indirect=True)


@pytest.fixture
def run_on_loop(request: pytest.FixtureRequest) -> Runner:
    """Run a coroutine to completion on a fresh loop of the parametrised kind."""
    use_uvloop = request.param == "uvloop"
    if use_uvloop and not uvloop_available():
        pytest.skip("uvloop is not installed")

    def runner(coro: Coroutine[Any, Any, Any]) -> Any:
        return run(coro, use_uvloop=use_uvloop)

    return runner
