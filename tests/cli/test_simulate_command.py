"""``serf simulate``: flags, the JSON object and its determinism, the text report, bad input."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from serf_cli.main import dispatch
from serf_proto.gocompat import Ui

#: Fields that measure the process, not the simulated run.
PROCESS_FIELDS = ("wall_s", "build_s", "run_s", "deliveries_per_s", "peak_rss_mib")


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.BytesIO(), io.BytesIO()
    code = dispatch(["simulate", *args], Ui(out, err))
    return code, out.getvalue().decode(), err.getvalue().decode()


def simulate_json(*args: str) -> dict[str, Any]:
    code, out, err = run(["-nodes=20", "-format=json", "-duration=20s", *args])
    assert (code, err) == (0, "")
    assert out.count("\n") == 1  # one object on one line
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_the_json_object_has_every_documented_field() -> None:
    data = simulate_json("-seed=3", "-loss=0.1", "-latency=5ms", "-profile=lan")
    for key in ("nodes", "seed", "scenario", "loss", "duration_s", "wall_s", "deliveries"):
        assert key in data
    assert (data["nodes"], data["seed"], data["scenario"], data["loss"]) == (20, 3, "event", 0.1)
    assert data["latency_s"] == 0.005
    assert data["duration_s"] == 30.0  # the event at 10 s, then 20 s of watching
    assert data["wall_s"] > 0 and data["peak_rss_mib"] > 0
    assert data["deliveries"] > 0 and data["false_failures"] == 0
    assert set(data["dissemination"]) == {"p50", "p99", "p9999", "all"}
    assert data["dissemination"]["all"] is not None


def test_the_same_seed_prints_the_same_simulation() -> None:
    first = simulate_json("-seed=5", "-loss=0.1", "-scenario=failure")
    again = simulate_json("-seed=5", "-loss=0.1", "-scenario=failure")
    for data in (first, again):
        for key in PROCESS_FIELDS:
            data.pop(key)
    assert first == again
    assert first["detection"]["all"] is not None


def test_a_failure_is_reported_as_a_detection_curve() -> None:
    data = simulate_json("-scenario=failure", "-trigger=2s")
    assert set(data["detection"]) == {"first", "p50", "all"}
    assert data["detection"]["first"] <= data["detection"]["p50"] <= data["detection"]["all"]
    assert data["reached"] == data["population"] == 19


def test_a_partition_reports_its_split_and_heal_times() -> None:
    data = simulate_json("-scenario=partition", "-trigger=5s", "-heal=20s", "-duration=15s")
    assert (data["split_at_s"], data["heal_at_s"]) == (5.0, 25.0)
    assert data["duration_s"] == 40.0
    assert data["dissemination"]["all"] is not None


def test_steady_runs_for_the_duration_and_counts_false_failures() -> None:
    data = simulate_json("-scenario=steady", "-duration=30s")
    assert data["duration_s"] == 30.0 and data["false_failures"] == 0
    assert "dissemination" not in data and "detection" not in data


def test_lifeguard_tcp_pings_and_fast_wire_flags_reach_the_run() -> None:
    data = simulate_json("-lifeguard=false", "-tcp-pings=false", "-fast-wire")
    assert (data["lifeguard"], data["tcp_pings"], data["fast_wire"]) == (False, False, True)


def test_the_text_report_prints_the_curve() -> None:
    code, out, err = run(["-nodes=10", "-duration=5s", "-stop-when-complete"])
    assert (code, err) == (0, "")
    assert "Scenario:        event (10 nodes, profile lan, seed 1)" in out
    assert "Dissemination" in out and "100.00%" in out and "Peak RSS:" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-scenario=meteor"], "Invalid simulation: unknown scenario 'meteor'"),
        (["-nodes=1"], "Invalid simulation: a cluster needs at least 2 nodes"),
        (["-loss=1.5"], "Invalid simulation: loss must be in [0, 1)"),
        (["-loss=lots"], "Invalid simulation: invalid loss 'lots'"),
        (["-profile=moon"], "Invalid simulation: unknown profile 'moon'"),
        (["-format=xml"], "Unknown output format 'xml'"),
        (["extra"], "Unexpected arguments: extra"),
    ],
)
def test_bad_values_print_an_error_and_the_help_and_exit_1(args: list[str], message: str) -> None:
    code, out, _ = run(args)
    assert code == 1
    assert out.startswith(message)
    assert "Usage: serf simulate [options]" in out


def test_an_unknown_flag_is_refused_as_go_refuses_it() -> None:
    code, out, err = run(["-bogus"])
    assert code == 1
    assert err == "flag provided but not defined: -bogus\n"
    assert out.startswith("Usage: serf simulate")


def test_a_bad_duration_is_refused_with_gos_message() -> None:
    code, _, err = run(["-latency=5parsecs"])
    assert code == 1
    assert err.startswith('invalid value "5parsecs" for flag -latency:')


def test_arrivals_list_every_live_node_and_match_the_curve() -> None:
    data = simulate_json("-arrivals", "-scenario=failure", "-trigger=2s")
    arrivals = data["arrivals_s"]
    assert len(arrivals) == data["reached"] == 19
    assert arrivals == sorted(arrivals)
    assert (arrivals[0], arrivals[-1]) == (data["detection"]["first"], data["detection"]["all"])
    assert data["build_s"] >= 0 and data["run_s"] > 0
