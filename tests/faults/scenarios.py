"""Fault scenarios on a running `Cluster`, sized by arguments so CI and soak runs share them.

Each function injects one kind of fault, observes the cluster through RPC, handler logs and agent
logs, and returns a result record with the numbers (the tests assert on them, the soak benchmark
writes them to ``docs/reliability.md``). None of them sleeps for synchronisation: waits poll with
a deadline; the only sleeps are the fault durations themselves and the observation cadence.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from tests.faults.cluster import Agent, Cluster, wait_until

STORM_SCRIPT = Path(__file__).with_name("rpc_storm.py")

SUSPECT_LOG = "Suspect {name} has failed"
REFUTE_LOG = "Refuting a suspect message"


#: How long an event may take to reach every node. Gossip usually takes well under a second,
#: but a node its retransmissions all missed only gets the event from its next push/pull,
#: which falls anywhere within the 30 s push/pull interval (Go's and ours alike).
EVENT_DELIVERY_TIMEOUT = 65.0


@dataclass
class LossResult:
    loss: float
    seconds: float
    polls: int = 0
    unanswered_polls: list[str] = field(default_factory=list)
    not_alive_observations: list[str] = field(default_factory=list)
    failed_reports: dict[str, set[str]] = field(default_factory=dict)
    dropped_packets: int = 0


def run_loss(cluster: Cluster, *, loss: float, seconds: float, poll: float = 2.0) -> LossResult:
    """Hold `loss` on every link for `seconds`, polling every agent's member list."""
    result = LossResult(loss=loss, seconds=seconds)
    cluster.lab.set_loss(loss)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            cluster.check_running()
            for observer, view in cluster.views().items():
                result.polls += 1
                if view is None:
                    result.unanswered_polls.append(observer)
                    continue
                for name, status in view.items():
                    if status != "alive":
                        result.not_alive_observations.append(f"{observer} saw {name} {status}")
            time.sleep(poll)
        result.dropped_packets = sum(cluster.lab.dropped(node) for node in cluster.lab.nodes)
    finally:
        cluster.lab.set_loss(0)
    result.failed_reports = {k: v for k, v in cluster.all_failed_reports().items() if v}
    return result


@dataclass
class PauseResult:
    victim: str
    rounds: int = 0
    suspected_by: list[str] = field(default_factory=list)
    refuted: bool = False
    failed_by: list[str] = field(default_factory=list)
    recovery_seconds: float = 0.0


def run_pause(
    cluster: Cluster, victim: Agent, *, seconds: float = 3.0, max_rounds: int = 3
) -> PauseResult:
    """SIGSTOP `victim` for `seconds`, SIGCONT it, and wait until every view is all-alive.

    A probe round only reaches the victim with some probability, so the pause is repeated (up
    to `max_rounds`) until at least one peer logged that it suspected the victim.
    """
    result = PauseResult(victim=victim.name)
    others = [a for a in cluster.agents if a is not victim]
    for _ in range(max_rounds):
        result.rounds += 1
        victim.pause()
        try:
            time.sleep(seconds)
        finally:
            victim.resume()
        resumed = time.monotonic()
        cluster.wait_all_alive(timeout=60)
        result.recovery_seconds = max(result.recovery_seconds, time.monotonic() - resumed)
        needle = SUSPECT_LOG.format(name=victim.name)
        result.suspected_by = [a.name for a in others if needle in a.log_text()]
        if result.suspected_by:
            break
    # Suspect shows as "alive" in Serf's member list, so all-alive views can come before the
    # victim has read the suspicion gossip; give the refutation time to happen.
    refute_deadline = time.monotonic() + (20.0 if result.suspected_by else 0.0)
    while True:
        result.refuted = REFUTE_LOG in victim.log_text()
        if result.refuted or time.monotonic() >= refute_deadline:
            break
        time.sleep(0.1)
    result.failed_by = [a.name for a in others if victim.name in a.failed_reports()]
    return result


@dataclass
class PartitionResult:
    hold_seconds: float
    detect_seconds: float = 0.0
    heal_seconds: float = 0.0
    missing_events: dict[str, list[str]] = field(default_factory=dict)


def run_partition(
    cluster: Cluster, *, hold: float, detect_timeout: float = 60.0, heal_timeout: float = 30.0
) -> PartitionResult:
    """Split the cluster in two halves for `hold` s with events on both sides; heal; check.

    Asserts along the way: each side marks the whole other side failed, and after the heal
    every member is alive everywhere within `heal_timeout` s (one push-pull interval).
    """
    half = len(cluster.agents) // 2
    side_a, side_b = cluster.agents[:half], cluster.agents[half:]
    result = PartitionResult(hold_seconds=hold)
    started = time.monotonic()
    cluster.lab.partition([a.node for a in side_a], [b.node for b in side_b])
    side_a[0].event("during-a", "a")
    side_b[0].event("during-b", "b")

    def split_seen() -> bool:
        for mine, theirs in ((side_a, side_b), (side_b, side_a)):
            for agent in mine:
                view = agent.try_members() or {}
                if any(view.get(o.name) != "failed" for o in theirs):
                    return False
        return True

    wait_until(split_seen, timeout=detect_timeout, what="each side to mark the other failed")
    result.detect_seconds = time.monotonic() - started
    remaining = hold - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    cluster.lab.heal()
    healed = time.monotonic()
    cluster.wait_all_alive(timeout=heal_timeout)
    result.heal_seconds = time.monotonic() - healed
    side_a[1].event("after-a", "a")
    side_b[1].event("after-b", "b")
    expected = {"during-a", "during-b", "after-a", "after-b"}

    def missing() -> dict[str, list[str]]:
        return {
            a.name: sorted(expected - {r.name for r in a.user_events()}) for a in cluster.agents
        }

    try:
        wait_until(
            lambda: not any(missing().values()),
            timeout=EVENT_DELIVERY_TIMEOUT,
            what="every event on every node",
        )
    finally:
        result.missing_events = {k: v for k, v in missing().items() if v}
    return result


@dataclass
class RestartResult:
    victims: list[str]
    clocks_before: dict[str, dict[str, int]] = field(default_factory=dict)
    clocks_after: dict[str, dict[str, int]] = field(default_factory=dict)
    old_events_before: dict[str, int] = field(default_factory=dict)
    old_events_after: dict[str, int] = field(default_factory=dict)
    rejoin_seconds: float = 0.0


def _snapshot_has(agent: Agent, line: str) -> bool:
    path = agent.snapshot_path
    return path.exists() and line in path.read_text(errors="replace").splitlines()


def _clocks(agent: Agent) -> dict[str, int]:
    serf = agent.info()["serf"]
    return {k: int(serf[k]) for k in ("member_time", "event_time", "query_time")}


def run_kill_restart(cluster: Cluster, victims: list[Agent], *, events: int = 3) -> RestartResult:
    """Deliver `events` user events, SIGKILL `victims` at once, restart them from snapshots.

    The victims restart without ``-join``: only their snapshot tells them whom to rejoin.
    """
    result = RestartResult(victims=[v.name for v in victims])
    sender = next(a for a in cluster.agents if a not in victims)
    names = [f"before-{i}" for i in range(events)]
    for name in names:
        sender.event(name, name)
        # Go's snapshot only flushes when a line is appended >= 0.5 s after the previous flush,
        # so a burst leaves its newest lines buffered until the next write; spacing the events
        # makes each one durable before the kill.
        time.sleep(0.8)

    def delivered_everywhere() -> bool:
        return all(set(names) <= {r.name for r in a.user_events()} for a in cluster.agents)

    wait_until(
        delivered_everywhere, timeout=EVENT_DELIVERY_TIMEOUT, what="the old events on every node"
    )
    # Only a persisted event clock protects against replays after kill -9: wait for it.
    for victim in victims:
        newest = max(int(r.ltime) for r in victim.user_events() if r.name in names)
        wait_until(
            partial(_snapshot_has, victim, f"event-clock: {newest}"),
            timeout=10,
            what=f"{victim.name}'s snapshot to record event clock {newest}",
        )
    for victim in victims:
        result.clocks_before[victim.name] = _clocks(victim)
        result.old_events_before[victim.name] = sum(
            1 for r in victim.user_events() if r.name in names
        )
    for victim in victims:
        victim.kill9()
    killed = time.monotonic()
    for victim in victims:
        victim.start(join=())
    cluster.wait_all_alive(timeout=60)
    result.rejoin_seconds = time.monotonic() - killed
    sender.event("after-restart", "x")
    wait_until(
        lambda: all("after-restart" in {r.name for r in a.user_events()} for a in cluster.agents),
        timeout=EVENT_DELIVERY_TIMEOUT,
        what="a new event on every node after the restart",
    )
    for victim in victims:
        result.clocks_after[victim.name] = _clocks(victim)
        result.old_events_after[victim.name] = sum(
            1 for r in victim.user_events() if r.name in names
        )
    return result


@dataclass
class StormResult:
    events: int
    queries: int
    fire: dict[str, Any] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    rss_before_kib: dict[str, int] = field(default_factory=dict)
    rss_after_kib: dict[str, int] = field(default_factory=dict)
    marker_seen: dict[str, bool] = field(default_factory=dict)
    old_event_warnings: dict[str, int] = field(default_factory=dict)


def _storm_cmd(*args: str) -> list[str]:
    return [sys.executable, str(STORM_SCRIPT), *args]


def run_storm(cluster: Cluster, *, events: int, queries: int, timeout: float = 90) -> StormResult:
    """Fire `events` user events and `queries` concurrent queries from one agent.

    Every agent runs an RPC event-stream watcher that counts deliveries until a marker event
    sent after the storm arrives; afterwards the cluster must still be whole and answering.
    """
    result = StormResult(events=events, queries=queries)
    marker = "storm-marker"
    result.rss_before_kib = {a.name: a.rss_kib() for a in cluster.agents}
    watchers = {
        a.name: subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                a.node.ns,
                *_storm_cmd("watch", "--marker", marker, "--timeout", str(timeout)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for a in cluster.agents
    }
    try:
        time.sleep(1.0)  # let every watcher register its stream before the first event
        out = cluster.lab.ns_run(
            cluster.agents[0].node.ns,
            _storm_cmd(
                "fire", "--events", str(events), "--queries", str(queries), "--marker", marker
            ),
            timeout=timeout,
        )
        result.fire = json.loads(out)
        for name, proc in watchers.items():
            stdout, _ = proc.communicate(timeout=timeout)
            report = json.loads(stdout or "{}")
            result.delivered[name] = int(report.get("names", {}).get("storm", 0))
            result.marker_seen[name] = bool(report.get("marker_seen"))
    finally:
        for proc in watchers.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    cluster.check_running()
    result.rss_after_kib = {a.name: a.rss_kib() for a in cluster.agents}
    # Events older than a node's event buffer are refused with Go's warning text.
    result.old_event_warnings = {
        a.name: a.log_text().count("received old event") for a in cluster.agents
    }
    cluster.wait_all_alive(timeout=30)
    return result
