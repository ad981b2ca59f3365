"""The ``runtime`` stats section keeps Go's keys with Python's values."""

from __future__ import annotations

import asyncio

from serf_agent.rpc.stats import runtime_section


def test_runtime_section_has_gos_keys_and_string_values() -> None:
    section = runtime_section()
    assert list(section) == ["os", "arch", "version", "max_procs", "goroutines", "cpu_count"]
    assert all(isinstance(v, str) for v in section.values())
    assert section["version"].startswith("python3.")
    assert int(section["max_procs"]) >= 1 and int(section["cpu_count"]) >= 1


def test_goroutines_counts_asyncio_tasks_while_a_loop_runs() -> None:
    async def scenario() -> tuple[int, int]:
        before = int(runtime_section()["goroutines"])
        gate = asyncio.Event()
        tasks = [asyncio.create_task(gate.wait()) for _ in range(5)]
        await asyncio.sleep(0)
        during = int(runtime_section()["goroutines"])
        gate.set()
        await asyncio.gather(*tasks)
        return before, during

    before, during = asyncio.run(scenario())
    assert during == before + 5
