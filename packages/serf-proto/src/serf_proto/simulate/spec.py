"""What one simulation run does: the scenario, the cluster and the network, checked up front."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROFILES", "SCENARIOS", "ScenarioError", "ScenarioSpec"]

#: Scenario names, in the order the help lists them.
SCENARIOS = ("event", "failure", "join", "partition", "restart", "steady", "chaos")
#: Memberlist timing profiles (Go's ``DefaultLANConfig`` and friends).
PROFILES = ("lan", "wan", "local")


class ScenarioError(ValueError):
    """A scenario specification that cannot be run (unknown name, out-of-range value)."""


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """One run of ``scenario`` on ``nodes`` Serf nodes.

    Attributes (seconds for times):
        nodes: cluster size (at least 2; ``partition`` needs 2 so each half has a node).
        scenario: ``event``, ``failure``, ``join``, ``partition``, ``restart``, ``steady`` or
            ``chaos`` (a seeded fault schedule checked against invariants, :mod:`.chaos`; it
            uses ``nodes``, ``seed`` and ``profile`` only).
        seed: the only source of randomness.
        loss: probability in [0, 1) that a datagram is lost, on every link.
        latency: one-way delay of every link.
        profile: memberlist timing profile (``lan``, ``wan``, ``local``).
        duration: how long to watch after the trigger (the event, the crash, the start of
            the joins, the heal; for ``steady`` the whole run).
        trigger_at: when the event is sent, the node crashes or the partition starts.
        heal_after: how long a partition lasts.
        lifeguard: keep Lifeguard's local-health and suspicion-timeout scaling on; off sets
            ``awareness_max_multiplier`` and ``suspicion_max_timeout_mult`` to 1.
        tcp_pings: fall back to a TCP ping when a UDP probe gets no ack (Go's default);
            simulated streams never lose data, so this fallback hides datagram loss.
        fast_wire: skip compression (and encryption) on send, for large clusters.
        go_faithful: run Go's rules: no self-healing pings (``heal_interval=0``) and no
            accusation sent back for a stale alive (``resend_accusations=False``), to compare
            Go's behaviour with pyserf's on the same seed.
        restart_share, restart_spread, restart_downtime, from_snapshot: the ``restart``
            scenario (share of nodes restarted, over how long, how long each stays down,
            fresh or from a snapshot; see :mod:`serf_proto.simulate.restart`).
        stop_when_complete: end the run as soon as the measured curve reached every node
            (checked once per simulated second); ``steady`` always runs ``duration``.
    """

    nodes: int
    scenario: str = "event"
    seed: int = 1
    loss: float = 0.0
    latency: float = 0.001
    profile: str = "lan"
    duration: float = 60.0
    trigger_at: float = 10.0
    heal_after: float = 60.0
    lifeguard: bool = True
    tcp_pings: bool = True
    fast_wire: bool = False
    go_faithful: bool = False
    restart_share: float = 1.0
    restart_spread: float = 20.0
    restart_downtime: float = 8.0
    from_snapshot: bool = False
    stop_when_complete: bool = False

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ScenarioError(
                f"unknown scenario {self.scenario!r} (expected {', '.join(SCENARIOS)})"
            )
        if self.profile not in PROFILES:
            raise ScenarioError(f"unknown profile {self.profile!r} (expected lan, wan or local)")
        if self.nodes < 2:
            raise ScenarioError(f"a cluster needs at least 2 nodes, got {self.nodes}")
        if not 0.0 <= self.loss < 1.0:
            raise ScenarioError(f"loss must be in [0, 1), got {self.loss}")
        if self.latency < 0:
            raise ScenarioError(f"latency must not be negative, got {self.latency}")
        if self.duration <= 0:
            raise ScenarioError(f"duration must be positive, got {self.duration}")
        if not 0.0 < self.restart_share <= 1.0:
            raise ScenarioError(f"restart share must be in (0, 1], got {self.restart_share}")
        if self.restart_spread < 0 or self.restart_downtime < 0:
            raise ScenarioError("restart spread and downtime must not be negative")
        if self.trigger_at < 0 or self.heal_after <= 0:
            raise ScenarioError("trigger time must not be negative and heal_after must be positive")

    @property
    def converged_start(self) -> bool:
        """Whether the cluster starts with every node in every table (all but ``join``)."""
        return self.scenario != "join"
