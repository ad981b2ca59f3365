"""The ``runtime`` section of ``stats`` (``serf info``) with Python's values in Go's keys.

Go reports its runtime (``os``, ``arch``, ``version``, ``max_procs``, ``goroutines``,
``cpu_count``). Scripts parse these keys, so they are kept; the values describe the Python
process instead: ``version`` is ``python3.11.7``, ``goroutines`` counts asyncio tasks plus
threads, ``max_procs`` is the number of CPUs this process may run on.
"""

from __future__ import annotations

import asyncio
import os
import platform
import threading

#: ``platform.machine()`` -> Go's ``GOARCH`` names.
_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def runtime_section() -> dict[str, str]:
    """Go's ``runtime`` stats keys, every value a string."""
    cpu_count = os.cpu_count() or 1
    try:
        max_procs = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        max_procs = cpu_count
    machine = platform.machine().lower()
    return {
        "os": platform.system().lower(),
        "arch": _GO_ARCH.get(machine, machine),
        "version": f"python{platform.python_version()}",
        "max_procs": str(max_procs),
        "goroutines": str(_task_count() + threading.active_count()),
        "cpu_count": str(cpu_count),
    }


def _task_count() -> int:
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:  # no running loop
        return 0
