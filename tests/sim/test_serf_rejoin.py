"""A node restarted from its snapshot rejoins the members it recorded, in Go's order."""

from __future__ import annotations

import logging

import pytest
from serf_proto.serf import PreviousNode, RecoveredState
from serf_proto.sim.world import World

from tests.sim.serf_cluster import alive_everywhere, build_cluster, serf_factory


def _restart_with(rejoin_failed: bool) -> tuple[World, list[str]]:
    """``d`` restarts knowing only a dead member as alive and ``b`` as last seen failed."""
    recovered: dict[str, RecoveredState] = {}
    world = World(
        23, serf_factory(recovered=recovered, per_node={"d": {"rejoin_failed": rejoin_failed}})
    )
    names = ["a", "b", "c", "d"]
    build_cluster(world, names)
    world.crash("d")
    world.run_for(2.0)
    recovered["d"] = RecoveredState(
        alive=(PreviousNode("gone", "10.9.9.9:7946"), PreviousNode("d", str(world.address("d")))),
        failed=(PreviousNode("b", str(world.address("b")), failed=True),),
    )
    world.restart("d")
    world.run_for(30.0)
    return world, names


def test_without_rejoin_failed_only_members_last_seen_alive_are_tried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="serf_proto.serf"):
        _restart_with(rejoin_failed=False)
    attempts = [r.getMessage() for r in caplog.records if "re-join" in r.getMessage().lower()]
    assert attempts == [
        "Attempting re-join to previously known node: gone: 10.9.9.9:7946",
        "Failed to re-join any previously known node",
    ]


def test_rejoin_failed_tries_members_last_seen_failed_after_the_alive_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="serf_proto.serf"):
        world, names = _restart_with(rejoin_failed=True)
    b = world.address("b")
    messages = [
        r.getMessage()
        for r in caplog.records
        if "re-join" in r.getMessage().lower() or "previously failed" in r.getMessage()
    ]
    start = messages.index("Attempting re-join to previously known node: gone: 10.9.9.9:7946")
    assert messages[start + 1 :] == [
        "No previously alive node answered; trying previously failed nodes",
        f"Attempting re-join to previously known node: b: {b}",
        f"Re-joined to previously known node: b: {b}",
    ]
    assert alive_everywhere(world, names)
