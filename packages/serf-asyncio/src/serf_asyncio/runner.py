"""Choose the event loop: uvloop when it is installed, the standard asyncio loop otherwise."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def uvloop_available() -> bool:
    """True when the uvloop package can be imported."""
    return importlib.util.find_spec("uvloop") is not None


def new_event_loop(*, use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """A fresh event loop: uvloop's when available (or ``use_uvloop=True``), else asyncio's."""
    if use_uvloop is None:
        use_uvloop = uvloop_available()
    if use_uvloop:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    return asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None) -> T:
    """Run ``main`` to completion on a new loop (uvloop when available) and close the loop."""
    loop = new_event_loop(use_uvloop=use_uvloop)
    with asyncio.Runner(loop_factory=lambda: loop) as runner:
        return runner.run(main)
