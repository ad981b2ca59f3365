"""``serf simulate``: flags, the JSON object and its determinism, the text report, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path
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


def test_restart_flags_and_go_faithful_reach_the_run() -> None:
    data = simulate_json(
        "-nodes=12",
        "-scenario=restart",
        "-restart-share=0.5",
        "-restart-spread=4s",
        "-restart-downtime=3s",
        "-from-snapshot",
        "-go-faithful",
        "-fast-wire",
    )
    assert (data["scenario"], data["go_faithful"], data["from_snapshot"]) == ("restart", True, True)
    assert (data["restart_share"], data["restart_spread_s"], data["restart_downtime_s"]) == (
        0.5,
        4.0,
        3.0,
    )
    assert data["wrong_pairs"] == 0 and data["population"] == 12
    code, out, err = run(["-nodes=8", "-scenario=restart", "-duration=10s", "-fast-wire"])
    assert (code, err) == (0, "")
    assert "Rules:           pyserf (self-healing)" in out
    assert "Restarts:        100% of the nodes, fresh" in out and "Wrong pairs:     0" in out


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
        (["-restart-share=0"], "Invalid simulation: restart share must be in (0, 1]"),
        (["-restart-share=half"], "Invalid simulation: invalid restart share 'half'"),
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


def test_progress_reads_simulated_seconds_rate_and_eta() -> None:
    from serf_cli.commands.simulate import progress_text

    assert progress_text(12.0, 70.0, 104_620, 2.0, 6.0) == (
        "simulated 12.0/70.0 s (17%)  52,310 deliveries/s  ETA 0:19"
    )
    assert progress_text(0.0, 70.0, 0, 0.0, 0.0).endswith("0 deliveries/s  ETA ?")


def test_progress_reporting_does_not_change_the_run() -> None:
    from serf_proto.simulate import ScenarioSpec, run_scenario

    spec = ScenarioSpec(nodes=12, scenario="failure", duration=20.0)
    seen: list[float] = []
    with_progress = run_scenario(spec, on_progress=lambda now, end, d: seen.append(now))
    assert with_progress.to_dict() == run_scenario(spec).to_dict()
    assert seen == sorted(seen) and seen[-1] == 30.0  # trigger (10 s) + duration


def _simulate_argv(*extra: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "serf_cli", "simulate", "-nodes=60", "-duration=100000s", *extra]


def test_sigint_without_a_terminal_prints_the_partial_result_quietly(tmp_path: Any) -> None:
    """Not a TTY: nothing on stderr but the interruption note; stdout is the JSON object."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(
        _simulate_argv("-format=json"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # Let it build the 60-node cluster (well under a second of CPU) and run a little:
        # wait for 2 s of its CPU time rather than wall time, which a busy machine stretches.
        ticks = os.sysconf("SC_CLK_TCK")
        deadline = time.monotonic() + 60

        def cpu_seconds() -> float:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks

        while cpu_seconds() < 2.0:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["interrupted"] is True and 0 < doc["duration_s"] < 100010
    assert err.startswith("Interrupted after ") and err.count("\n") == 1


def test_on_a_terminal_progress_shows_and_ctrl_c_prints_the_partial_result(
    tmp_path: Any,
) -> None:
    """A real terminal (tmux): the progress line on stderr, then Ctrl-C."""
    import os
    import shlex
    import shutil
    import subprocess
    import time

    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is missing: .ci/run installs it")
        pytest.skip("tmux is not installed")
    session = f"pyserf-sim-{os.getpid()}"
    sock = str(tmp_path / "tmux.sock")
    done = tmp_path / "exit-code"
    command = f"{shlex.join(_simulate_argv())}; echo $? > {shlex.quote(str(done))}; sleep 60"
    base = [tmux, "-S", sock]
    subprocess.run(
        [*base, "new-session", "-d", "-s", session, "-x", "100", "-y", "40", command], check=True
    )

    def screen() -> str:
        return subprocess.run(
            [*base, "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout

    try:
        deadline = time.monotonic() + 60
        while "deliveries/s  ETA" not in screen():
            assert time.monotonic() < deadline, screen()
            time.sleep(0.2)
        line = next(x for x in screen().splitlines() if x.startswith("simulated "))
        assert "/100,010.0 s (" in line
        subprocess.run([*base, "send-keys", "-t", session, "C-c"], check=True)
        while not done.exists() or not done.read_text().strip():
            assert time.monotonic() < deadline, screen()
            time.sleep(0.2)
        text = screen()
    finally:
        subprocess.run([*base, "kill-server"], check=False, capture_output=True)
    assert done.read_text().strip() == "130"
    assert "Interrupted after " in text and "Scenario:        event (60 nodes" in text
    assert "ETA" not in text  # the progress line was cleared before the report
