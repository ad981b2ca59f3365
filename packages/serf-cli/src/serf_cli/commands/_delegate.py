"""Run a command implemented in another package (``agent``, ``dissect``), imported on use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from serf_proto.gocompat import Ui


def delegate(module: str, command: str, args: list[str], ui: Ui) -> int:
    """Import ``module`` and return ``module.main(args)``.

    If the module cannot be imported (package not installed, or a dependency of it missing),
    print ``Error: serf COMMAND is not available: REASON`` and return 1.
    """
    try:
        target = importlib.import_module(module)
    except ImportError as exc:
        ui.output(f"Error: serf {command} is not available: {exc}")
        return 1
    main = getattr(target, "main", None)
    if not callable(main):
        ui.output(f"Error: serf {command} is not available: {module} has no main()")
        return 1
    code = cast(Callable[[list[str]], int | None], main)(list(args))
    return int(code or 0)
