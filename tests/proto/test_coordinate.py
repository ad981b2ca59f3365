"""The Vivaldi client reproduces Go's coordinate.Client step by step."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from serf_proto.coordinate import (
    Coordinate,
    CoordinateError,
    VivaldiClient,
    VivaldiConfig,
    distance,
    is_valid,
    new_coordinate,
)

STEPS = Path(__file__).parent / "vectors" / "serf" / "files" / "vivaldi_steps.json"


def _coord(d: dict[str, Any]) -> Coordinate:
    return Coordinate(tuple(d["Vec"]), d["Error"], d["Adjustment"], d["Height"])


def test_the_client_reproduces_go_vivaldi_steps() -> None:
    data = json.loads(STEPS.read_text())
    cfg = data["config"]
    config = VivaldiConfig(
        dimensionality=cfg["Dimensionality"],
        vivaldi_error_max=cfg["VivaldiErrorMax"],
        vivaldi_ce=cfg["VivaldiCE"],
        vivaldi_cc=cfg["VivaldiCC"],
        adjustment_window_size=cfg["AdjustmentWindowSize"],
        height_min=cfg["HeightMin"],
        latency_filter_size=cfg["LatencyFilterSize"],
        gravity_rho=cfg["GravityRho"],
    )
    client = VivaldiClient(config, random.Random(1))
    client.set_coordinate(_coord(data["start"]))
    assert data["steps"]
    for step in data["steps"]:
        other = _coord(step["other"])
        got = client.update(step["node"], other, step["rtt_ns"] / 1e9)
        want = _coord(step["after"])
        # Bit-for-bit: Go and Python do the same IEEE-754 operations in the same order.
        assert got == want
        if "distance_after_to_other_ns" in step:
            assert round(distance(got, other) * 1e9) == step["distance_after_to_other_ns"]


def test_a_new_coordinate_sits_at_the_origin_with_go_defaults() -> None:
    c = new_coordinate()
    assert c.vec == (0.0,) * 8
    assert (c.error, c.adjustment, c.height) == (1.5, 0.0, 1e-5)


def test_distance_is_euclidean_plus_heights_truncated_to_nanoseconds() -> None:
    a = Coordinate((0.003, 0.004) + (0.0,) * 6, 1.5, 0.0, 0.0)
    b = Coordinate((0.0,) * 8, 1.5, 0.0, 0.0)
    assert distance(a, b) == pytest.approx(0.005, abs=1e-12)
    lifted = Coordinate(a.vec, 1.5, 0.0, 0.001)
    assert distance(lifted, b) == pytest.approx(0.006, abs=1e-12)


def test_a_negative_adjusted_distance_falls_back_to_the_raw_distance() -> None:
    a = Coordinate((0.001,) + (0.0,) * 7, 1.5, -0.01, 0.0)
    b = Coordinate((0.0,) * 8, 1.5, 0.0, 0.0)
    assert distance(a, b) == pytest.approx(0.001, abs=1e-12)


def test_updates_with_bad_rtt_or_dimension_or_nan_are_refused_without_change() -> None:
    client = VivaldiClient(VivaldiConfig(), random.Random(1))
    before = client.get_coordinate()
    good = new_coordinate()
    with pytest.raises(CoordinateError):
        client.update("a", good, -0.001)
    with pytest.raises(CoordinateError):
        client.update("a", good, 10.5)
    with pytest.raises(CoordinateError):
        client.update("a", Coordinate((0.0,) * 3, 1.5, 0.0, 1e-5), 0.01)
    with pytest.raises(CoordinateError):
        client.update("a", Coordinate((math.nan,) + (0.0,) * 7, 1.5, 0.0, 1e-5), 0.01)
    assert client.get_coordinate() == before


def test_coincident_points_are_pushed_apart_in_a_random_direction() -> None:
    client = VivaldiClient(VivaldiConfig(), random.Random(7))
    coord = client.update("peer", new_coordinate(), 0.010)
    assert math.sqrt(sum(x * x for x in coord.vec)) > 0.0
    assert is_valid(coord)


def test_a_client_converges_towards_a_fixed_peer_distance() -> None:
    client = VivaldiClient(VivaldiConfig(), random.Random(3))
    peer = Coordinate((0.02,) + (0.0,) * 7, 0.1, 0.0, 1e-5)
    for _ in range(200):
        client.update("peer", peer, 0.015)
    assert client.distance_to(peer) == pytest.approx(0.015, rel=0.1)
