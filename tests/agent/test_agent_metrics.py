"""The agent in-process: its metrics mirror the core's counters and render without error."""

from __future__ import annotations

import asyncio
import re

from serf_agent.agent import Agent
from serf_agent.command import load_config
from serf_agent.handlers import parse_handler_specs
from serf_agent.keyring_file import StartupState
from serf_agent.settings import resolve_network
from serf_proto import __version__


def test_metrics_mirror_the_core_and_count_events_and_handler_runs() -> None:
    loaded = load_config(
        ["-node=m", "-bind=127.0.0.1:0", "-rpc-addr=127.0.0.1:0", "-metric-label=dc=east"]
    )
    network = resolve_network(loaded.config)
    agent = Agent(
        loaded.config,
        network,
        parse_handler_specs(["user=true"]),
        StartupState({"role": "web"}, []),
    )

    async def main() -> str:
        await agent.start()
        try:
            await agent.user_event("deploy", b"v1", coalesce=False)
            deadline = asyncio.get_running_loop().time() + 20
            while agent.metrics.value("serf_handler_runs_total", event="user", outcome="ok") < 1:
                assert asyncio.get_running_loop().time() < deadline, "handler did not run"
                await asyncio.sleep(0.02)
            return agent.metrics.render()
        finally:
            await agent.shutdown()

    text = asyncio.run(main())
    # every Serf metric carries the -metric-label
    assert re.search(r'^serf_events_total\{dc="east",type="user"\} 1$', text, re.M)
    assert re.search(r'^serf_user_events_sent_total\{dc="east"\} 1$', text, re.M)
    assert re.search(
        r'^serf_handler_duration_seconds_count\{dc="east",event="user"\} 1$', text, re.M
    )
    assert re.search(r'^serf_push_pull_total\{dc="east"\} 0$', text, re.M)
    assert re.search(r'^serf_packets_sent_total\{dc="east"\} \d+$', text, re.M)
    assert re.search(
        r'^serf_broadcast_queue_depth\{dc="east",queue="memberlist"\} \d+$', text, re.M
    )
    assert not re.search(r"^serf_\w+ ", text, re.M)


def test_a_started_agent_reports_gos_stats_sections() -> None:
    loaded = load_config(["-node=s", "-bind=127.0.0.1:0", "-event-handler=query:load=uptime"])
    agent = Agent(
        loaded.config,
        resolve_network(loaded.config),
        loaded.handlers,
        StartupState({"dc": "east"}, []),
    )

    async def main() -> dict[str, dict[str, str]]:
        await agent.start()
        try:
            return agent.stats()
        finally:
            await agent.shutdown()

    stats = asyncio.run(main())
    assert sorted(stats) == ["agent", "event_handlers", "runtime", "serf", "tags"]
    assert stats["agent"] == {"name": "s", "pyserf_version": __version__}
    assert stats["tags"] == {"dc": "east"}
    assert stats["event_handlers"] == {"query:load": "uptime"}
    assert stats["serf"]["members"] == "1"
    assert set(stats["runtime"]) == {
        "os",
        "arch",
        "version",
        "max_procs",
        "goroutines",
        "cpu_count",
    }
