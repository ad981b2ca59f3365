"""Plain-text rendering of a simulation result: a summary, the key times and the curve."""

from __future__ import annotations

from serf_proto.simulate.runner import SimulationResult

__all__ = ["render_text"]

_BAR = 40
_WHAT = {
    "event": "nodes that delivered the user event",
    "failure": "live nodes that declared the crashed node failed",
    "join": "nodes that see every node alive",
    "partition": "nodes that see every node alive again after the heal",
    "restart": "nodes that see every node alive again after the restart wave",
}
_FROM = {
    "event": "after the event was sent",
    "failure": "after the crash",
    "join": "after the joins started",
    "partition": "after the heal",
    "restart": "after the last restart",
}


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.3f} s"


def render_text(
    result: SimulationResult,
    *,
    wall_s: float | None = None,
    run_s: float | None = None,
    peak_rss_mib: float | None = None,
) -> str:
    """The human-readable report of ``result``; the caller adds wall time (``run_s``: the part
    after the cluster was built, which the delivery rate uses) and memory."""
    spec = result.spec
    lines = [
        f"Scenario:        {spec.scenario} ({spec.nodes} nodes, profile {spec.profile}, "
        f"seed {spec.seed})",
        f"Network:         loss {spec.loss:.1%}, latency {spec.latency * 1000:.1f} ms",
        f"Lifeguard:       {'on' if spec.lifeguard else 'off'}, "
        f"TCP ping fallback {'on' if spec.tcp_pings else 'off'}",
        f"Rules:           {'Go (-go-faithful)' if spec.go_faithful else 'pyserf (self-healing)'}",
        f"Simulated:       {result.duration_s:.1f} s",
        f"Deliveries:      {result.deliveries:,} packets "
        f"({result.packets_lost:,} lost of {result.packets_sent:,} sent)",
    ]
    if wall_s is not None:
        span = run_s if run_s is not None else wall_s
        rate = result.deliveries / span if span > 0 else 0.0
        lines.append(
            f"Wall time:       {wall_s:.1f} s ({wall_s - span:.1f} s building the cluster; "
            f"{rate:,.0f} deliveries/s after)"
        )
    if peak_rss_mib is not None:
        lines.append(f"Peak RSS:        {peak_rss_mib:,.0f} MiB")
    lines.append(f"False failures:  {result.false_failures}")
    if spec.scenario == "partition":
        heal = spec.trigger_at + spec.heal_after
        lines.append(f"Partition:       split at {spec.trigger_at:.1f} s, healed at {heal:.1f} s")
    if spec.scenario == "restart":
        how = "from snapshots" if spec.from_snapshot else "fresh"
        lines.append(
            f"Restarts:        {spec.restart_share:.0%} of the nodes, {how}, over "
            f"{spec.restart_spread:.1f} s from {spec.trigger_at:.1f} s"
        )
    if result.wrong_pairs is not None:
        lines.append(f"Wrong pairs:     {result.wrong_pairs} at the end")
    if result.subject is not None:
        role = "origin" if spec.scenario == "event" else "crashed node"
        lines.append(f"Subject:         {result.subject} ({role})")
    if "invariants" in result.extra:
        lines.extend(_invariant_lines(result))
        return "\n".join(lines)
    if spec.scenario == "steady":
        return "\n".join(lines)
    lines.append("")
    summary = result.detection if result.detection is not None else result.dissemination
    assert summary is not None
    kind = "Detection" if result.detection is not None else "Dissemination"
    lines.append(
        f"{kind} ({_WHAT[spec.scenario]}; {result.reached} of {result.population}, "
        f"seconds {_FROM[spec.scenario]}):"
    )
    lines.append("  " + "  ".join(f"{k}={_seconds(v)}" for k, v in summary.items()))
    lines.append("")
    lines.append("   share   seconds")
    for share, seconds in result.curve:
        bar = "#" * round(share * _BAR)
        lines.append(f"  {share * 100:6.2f}%  {_seconds(seconds):>9}  {bar}")
    return "\n".join(lines)


def _invariant_lines(result: SimulationResult) -> list[str]:
    extra = result.extra
    violations = extra["violations"]
    lines = [
        f"Schedule:        {len(extra['schedule'])} actions until "
        f"{extra['faults_end_s']:.1f} s, quiet until {extra['quiet_end_s']:.1f} s",
        f"Invariants:      {', '.join(extra['invariants'])}",
        f"Violations:      {len(violations)}",
    ]
    for v in violations[:20]:
        lines.append(f"  {v['at']:9.3f} s  {v['invariant']}  {','.join(v['nodes'])}  {v['detail']}")
    return lines
