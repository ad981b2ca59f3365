"""Vivaldi network coordinates (Go ``serf/coordinate``).

Each node keeps a point in an 8-dimensional Euclidean space plus a non-Euclidean height and an
adjustment term, so that the distance between two nodes' coordinates estimates the round-trip
time between them in seconds. Every direct probe's ack carries the peer's coordinate and the
measured RTT; :meth:`VivaldiClient.update` then

1. passes the RTT through a per-peer median filter (the last ``latency_filter_size`` samples),
2. moves our point along the line to the peer like a spring (the Vivaldi step, weighted by the
   two nodes' error estimates),
3. updates the adjustment term from a window of residuals, and
4. pulls the point gently back towards the origin (gravity) so the system does not drift.

The arithmetic follows Go exactly (including the truncation of distances to whole nanoseconds)
so that a Python node and a Go node compute the same coordinates (the value type is the wire
codec's ``Coordinate``); the only randomness (a random
direction when two points coincide) comes from the injected ``random.Random``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from serf_proto.wire.coordinate import Coordinate

__all__ = [
    "Coordinate",
    "CoordinateError",
    "VivaldiClient",
    "VivaldiConfig",
    "apply_force",
    "distance",
    "is_valid",
    "new_coordinate",
    "raw_distance",
]

#: Distances and magnitudes below this are treated as zero (Go ``zeroThreshold``).
ZERO_THRESHOLD = 1.0e-6
#: RTT samples above this many seconds are rejected (Go ``maxRTT``).
MAX_RTT = 10.0
_NS = 1.0e9


class CoordinateError(ValueError):
    """A coordinate or RTT sample was rejected (wrong dimension, NaN/Inf, RTT out of range)."""


@dataclass(frozen=True, slots=True)
class VivaldiConfig:
    """Tuning of the Vivaldi client; the defaults are Go's ``coordinate.DefaultConfig()``."""

    dimensionality: int = 8
    vivaldi_error_max: float = 1.5
    vivaldi_ce: float = 0.25
    vivaldi_cc: float = 0.25
    adjustment_window_size: int = 20
    height_min: float = 10.0e-6
    latency_filter_size: int = 3
    gravity_rho: float = 150.0

    def __post_init__(self) -> None:
        if self.dimensionality < 1:
            raise ValueError("dimensionality must be at least 1")
        if self.latency_filter_size < 1:
            raise ValueError("latency_filter_size must be at least 1")
        if self.adjustment_window_size < 0:
            raise ValueError("adjustment_window_size must not be negative")


def new_coordinate(config: VivaldiConfig | None = None) -> Coordinate:
    """A coordinate at the origin, as Go's ``NewCoordinate``."""
    cfg = config or VivaldiConfig()
    return Coordinate((0.0,) * cfg.dimensionality, cfg.vivaldi_error_max, 0.0, cfg.height_min)


def is_valid(c: Coordinate) -> bool:
    """True when every component is a finite number."""
    return all(math.isfinite(x) for x in (*c.vec, c.error, c.adjustment, c.height))


def is_compatible(a: Coordinate, b: Coordinate) -> bool:
    """True when both coordinates have the same dimensionality."""
    return len(a.vec) == len(b.vec)


def raw_distance(a: Coordinate, b: Coordinate) -> float:
    """Euclidean distance plus both heights, in seconds (no adjustment)."""
    return _magnitude(_diff(a.vec, b.vec)) + a.height + b.height


def distance(a: Coordinate, b: Coordinate) -> float:
    """Estimated RTT between ``a`` and ``b`` in seconds, truncated to whole nanoseconds as Go.

    Raises ``CoordinateError`` if the dimensions differ.
    """
    if not is_compatible(a, b):
        raise CoordinateError("dimensions aren't compatible")
    dist = raw_distance(a, b)
    adjusted = dist + a.adjustment + b.adjustment
    if adjusted > 0.0:
        dist = adjusted
    return _duration_seconds(math.trunc(dist * _NS))


def apply_force(
    config: VivaldiConfig, c: Coordinate, force: float, other: Coordinate, rng: random.Random
) -> Coordinate:
    """Move ``c`` by ``force`` seconds away from ``other`` (towards it when negative)."""
    unit, mag = _unit_vector_at(c.vec, other.vec, rng)
    vec = tuple(v + u * force for v, u in zip(c.vec, unit, strict=True))
    height = c.height
    if mag > ZERO_THRESHOLD:
        height = (height + other.height) * force / mag + height
        height = max(height, config.height_min)
    return Coordinate(vec, c.error, c.adjustment, height)


def _duration_seconds(ns: int) -> float:
    """Go's ``time.Duration.Seconds()``: whole seconds plus the nanosecond remainder."""
    sec, rem = divmod(abs(ns), 1_000_000_000)
    value = float(sec) + float(rem) / 1e9
    return -value if ns < 0 else value


def _diff(a: tuple[float, ...], b: tuple[float, ...]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


def _magnitude(v: list[float] | tuple[float, ...]) -> float:
    return math.sqrt(sum(x * x for x in v))


def _unit_vector_at(
    a: tuple[float, ...], b: tuple[float, ...], rng: random.Random
) -> tuple[list[float], float]:
    """The unit vector from ``b`` to ``a`` and the distance between them.

    When the points (nearly) coincide, a random direction is returned with distance 0.
    """
    ret = _diff(a, b)
    mag = _magnitude(ret)
    if mag > ZERO_THRESHOLD:
        return [x * (1.0 / mag) for x in ret], mag
    ret = [rng.random() - 0.5 for _ in ret]
    mag = _magnitude(ret)
    if mag > ZERO_THRESHOLD:
        return [x * (1.0 / mag) for x in ret], 0.0
    ret = [0.0] * len(ret)
    ret[0] = 1.0
    return ret, 0.0


@dataclass(slots=True)
class VivaldiClient:
    """Maintains this node's coordinate from RTT samples (Go ``coordinate.Client``)."""

    config: VivaldiConfig
    rng: random.Random
    coord: Coordinate = field(init=False)
    origin: Coordinate = field(init=False)
    resets: int = 0
    _adjustment_index: int = 0
    _adjustment_samples: list[float] = field(default_factory=list)
    _latency_samples: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.coord = new_coordinate(self.config)
        self.origin = new_coordinate(self.config)
        self._adjustment_samples = [0.0] * self.config.adjustment_window_size

    def get_coordinate(self) -> Coordinate:
        """This node's current coordinate."""
        return self.coord

    def set_coordinate(self, coord: Coordinate) -> None:
        """Replace this node's coordinate (raises ``CoordinateError`` if it is unusable)."""
        self._check(coord)
        self.coord = coord

    def forget_node(self, node: str) -> None:
        """Drop the RTT samples kept for ``node`` (it was reaped or pruned)."""
        self._latency_samples.pop(node, None)

    def distance_to(self, other: Coordinate) -> float:
        """Estimated RTT in seconds from this node to ``other``."""
        return distance(self.coord, other)

    def update(self, node: str, other: Coordinate, rtt: float) -> Coordinate:
        """Fold in one RTT sample (seconds) to ``node`` whose coordinate is ``other``.

        Returns the new local coordinate. Raises ``CoordinateError`` for an incompatible or
        invalid coordinate or an RTT outside ``[0, 10]`` seconds, leaving state unchanged.
        """
        self._check(other)
        if not (0.0 <= rtt <= MAX_RTT) or not math.isfinite(rtt):
            raise CoordinateError(
                f"round trip time not in valid range, duration {rtt}s is not a positive "
                f"value less than {MAX_RTT}s"
            )
        rtt_s = self._latency_filter(node, rtt)
        self._update_vivaldi(other, rtt_s)
        self._update_adjustment(other, rtt_s)
        self._update_gravity()
        if not is_valid(self.coord):
            self.resets += 1
            self.coord = new_coordinate(self.config)
        return self.coord

    def _check(self, coord: Coordinate) -> None:
        if not is_compatible(self.coord, coord):
            raise CoordinateError("dimensions aren't compatible")
        if not is_valid(coord):
            raise CoordinateError("coordinate is invalid")

    def _latency_filter(self, node: str, rtt: float) -> float:
        samples = self._latency_samples.setdefault(node, [])
        samples.append(rtt)
        if len(samples) > self.config.latency_filter_size:
            del samples[0]
        return sorted(samples)[len(samples) // 2]

    def _update_vivaldi(self, other: Coordinate, rtt: float) -> None:
        cfg = self.config
        dist = distance(self.coord, other)
        rtt = max(rtt, ZERO_THRESHOLD)
        wrongness = abs(dist - rtt) / rtt
        total_error = max(self.coord.error + other.error, ZERO_THRESHOLD)
        weight = self.coord.error / total_error
        error = cfg.vivaldi_ce * weight * wrongness + self.coord.error * (
            1.0 - cfg.vivaldi_ce * weight
        )
        error = min(error, cfg.vivaldi_error_max)
        force = cfg.vivaldi_cc * weight * (rtt - dist)
        moved = Coordinate(self.coord.vec, error, self.coord.adjustment, self.coord.height)
        self.coord = apply_force(cfg, moved, force, other, self.rng)

    def _update_adjustment(self, other: Coordinate, rtt: float) -> None:
        window = self.config.adjustment_window_size
        if window == 0:
            return
        self._adjustment_samples[self._adjustment_index] = rtt - raw_distance(self.coord, other)
        self._adjustment_index = (self._adjustment_index + 1) % window
        adjustment = sum(self._adjustment_samples) / (2.0 * window)
        c = self.coord
        self.coord = Coordinate(c.vec, c.error, adjustment, c.height)

    def _update_gravity(self) -> None:
        dist = distance(self.origin, self.coord)
        force = -1.0 * (dist / self.config.gravity_rho) ** 2
        self.coord = apply_force(self.config, self.coord, force, self.origin, self.rng)
