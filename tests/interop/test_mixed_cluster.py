"""Go Serf agents and Python nodes form one cluster, whichever side seeds it.

Each scenario runs two Go agents and two in-process Python nodes (plus a Python node in a child
process where one must be SIGKILLed) and checks, in order: membership with tags, user events
from both sides reaching every node exactly once, queries from both sides answered by every
node, tag changes propagating both ways, SIGKILL seen as failed both ways, and graceful leave
seen as left both ways.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from serf_asyncio import run

from tests.interop.harness import DETECT_FAILURE, Cluster, GoAgent, PyNode, eventually

pytestmark = pytest.mark.interop


async def check_tags(cluster: Cluster) -> None:
    """Every node lists every node with the tags it was started with."""
    expected = {a.name: {"lang": "go"} for a in cluster.go}
    expected |= {n.name: {"lang": "py"} for n in cluster.py}
    for agent in cluster.go:
        members = await agent.members()
        assert {name: members[name]["tags"] for name in expected} == expected, agent.name
    for node in cluster.py:
        tags = node.tags_of()
        assert {name: tags[name] for name in expected} == expected, node.name


async def check_user_events(cluster: Cluster, go: GoAgent, py: PyNode) -> list[str]:
    """An event from a Go agent and one from a Python node reach every node."""
    from_go, from_py = f"ev-{go.name}", f"ev-{py.name}"
    await go.event(from_go, "payload-from-go")
    py.node.user_event(from_py, b"payload-from-py", coalesce=False)

    def everywhere() -> bool:
        logs = [a.user_events() for a in cluster.go] + [n.user_events for n in cluster.py]
        return all(from_go in log and from_py in log for log in logs)

    await eventually(everywhere, what="both user events on every node")
    return [from_go, from_py]


def assert_delivered_once(cluster: Cluster, names: list[str]) -> None:
    for agent in cluster.go:
        log = agent.user_events()
        assert [log.count(n) for n in names] == [1] * len(names), (agent.name, log)
    for node in cluster.py:
        log = node.user_events
        assert [log.count(n) for n in names] == [1] * len(names), (node.name, log)


def _query_diagnostics(cluster: Cluster, result: object) -> str:
    """What each Python node counted, to tell a query that never arrived from a lost answer."""
    lines = [f"go query result: {result}"]
    for node in cluster.py:
        counters = node.node.counters()
        lines.append(f"{node.name}: serf={dict(counters.serf)} dropped={dict(counters.dropped)}")
    return "\n".join(lines)


async def check_queries(cluster: Cluster, go: GoAgent, py: PyNode) -> None:
    """A query from either side gets an answer from every node.

    A query is best effort: a node that its gossip does not reach inside the query's window
    answers nothing. In mixed clusters on a loaded machine a Go query sometimes misses one
    Python node (its ``queries`` counter stays 0 and it drops nothing: the gossip never arrived
    in time; not yet explained, see docs/development.md), so the query is sent again, under a
    new name, at most three times; the diagnostics of the last attempt are shown on failure.
    """
    expected = {a.name: f"go:{a.name}" for a in cluster.go}
    expected |= {n.name: f"py:{n.name}" for n in cluster.py}
    result: dict[str, object] = {}
    for attempt in range(3):
        result = await go.query(f"q-from-{go.name}-{attempt}", "hello", timeout="4s")
        if result["Responses"] == expected:
            break
    assert result["Responses"] == expected, _query_diagnostics(cluster, result)
    py_answers: dict[str, str] = {}
    acks: list[str] = []
    for attempt in range(3):
        handle = py.node.query(
            f"q-from-{py.name}-{attempt}", b"hello", request_ack=True, timeout=4.0
        )
        py_answers = {k: v.decode() for k, v in (await handle.wait()).items()}
        acks = sorted(handle.acks)
        if py_answers == expected:
            break
    assert py_answers == expected, _query_diagnostics(cluster, py_answers)
    assert acks == sorted(expected)


async def check_tag_changes(cluster: Cluster, go: GoAgent, py: PyNode) -> None:
    """New tags set on either side reach every node."""
    await go.set_tags(color="blue")
    py.node.set_tags({"lang": "py", "color": "red"})

    async def seen() -> bool:
        for agent in cluster.go:
            members = await agent.members()
            if members[go.name]["tags"].get("color") != "blue":
                return False
            if members[py.name]["tags"].get("color") != "red":
                return False
        for node in cluster.py:
            tags = node.tags_of()
            if tags[go.name].get("color") != "blue" or tags[py.name].get("color") != "red":
                return False
        return True

    await eventually(seen, what="tag changes on every node")


async def check_departures(
    cluster: Cluster, go_leaver: GoAgent, go_victim: GoAgent, py_leaver: PyNode
) -> None:
    """SIGKILL is ``failed`` and a graceful leave is ``left``, in both directions.

    A Python node leaves (the Go agents watch); then a Python process is SIGKILLed while a Go
    agent leaves (the other Go agent and the remaining Python node watch); then the last Go
    agent is SIGKILLed (the Python node watches). A leave always happens while some peer that
    re-gossips its intent is alive, as Go's own tests arrange.
    """
    child = await cluster.start_child("py-doomed", go_victim.addr)
    await cluster.wait_converged([*cluster.names, child.name])
    go_names = [a.name for a in cluster.go]
    watchers = [n.name for n in cluster.py if n is not py_leaver]
    await py_leaver.node.leave()
    await py_leaver.node.shutdown()
    await cluster.wait_status(py_leaver.name, "left", observers=go_names)
    await child.kill()
    await go_leaver.leave()
    await asyncio.gather(
        cluster.wait_status(
            child.name, "failed", timeout=DETECT_FAILURE, observers=[go_victim.name]
        ),
        cluster.wait_status(go_leaver.name, "left", observers=watchers),
    )
    await go_victim.kill()
    await cluster.wait_status(go_victim.name, "failed", timeout=DETECT_FAILURE, observers=watchers)


async def go_seeds_python_joins(workdir: Path) -> None:
    cluster = Cluster(workdir)
    try:
        go1 = await cluster.start_go("go1", "-tag=lang=go")
        py1 = await cluster.start_py("py1", tags={"lang": "py"})
        assert await py1.node.join(go1.addr) == 1
        go2 = await cluster.start_go("go2", "-tag=lang=go", join=go1.addr)
        py2 = await cluster.start_py("py2", tags={"lang": "py"})
        await py2.node.join([go2.addr, go1.addr])
        await cluster.wait_converged()
        await check_tags(cluster)
        names = await check_user_events(cluster, go2, py1)
        await check_queries(cluster, go1, py2)
        await check_tag_changes(cluster, go1, py1)
        assert_delivered_once(cluster, names)
        await check_departures(cluster, go_leaver=go2, go_victim=go1, py_leaver=py2)
    finally:
        await cluster.close()


async def python_seeds_go_joins(workdir: Path) -> None:
    cluster = Cluster(workdir)
    try:
        py1 = await cluster.start_py("py1", tags={"lang": "py"})
        go1 = await cluster.start_go("go1", "-tag=lang=go", join=py1.addr)
        py2 = await cluster.start_py("py2", tags={"lang": "py"})
        await py2.node.join(go1.addr)
        go2 = await cluster.start_go("go2", "-tag=lang=go")
        code, out = await go2.join(py2.addr)
        assert code == 0, out
        await cluster.wait_converged()
        await check_tags(cluster)
        names = await check_user_events(cluster, go1, py2)
        await check_queries(cluster, go2, py1)
        await check_tag_changes(cluster, go2, py2)
        assert_delivered_once(cluster, names)
        await check_departures(cluster, go_leaver=go1, go_victim=go2, py_leaver=py1)
    finally:
        await cluster.close()


def test_python_nodes_join_a_cluster_seeded_by_go(tmp_path: Path) -> None:
    run(go_seeds_python_joins(tmp_path))


def test_go_agents_join_a_cluster_seeded_by_python(tmp_path: Path) -> None:
    run(python_seeds_go_joins(tmp_path))
