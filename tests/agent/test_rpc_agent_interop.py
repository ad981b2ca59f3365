"""Go's CLI against our real agent and a Go agent in the same cluster: the outputs match.

One Go agent (``g1``) and one pyserf agent (``p1``) form an encrypted two-node loopback
cluster. Every Go CLI command is run against both RPC ports and the outputs are compared up
to ordering, spacing and timings. Both processes are stopped by PID at the end.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from serf_proto import __version__

from tests.loopback import free_port

pytestmark = pytest.mark.interop

SERF = "/usr/bin/serf"
PYSERF = str(Path(sys.executable).parent / "serf")
KEY = "hbbBBrflCBbYjPCBx/GlQd81gxmXG6L+aXWfEYX/2cE="
KEY2 = "0RZVwe6G5PxDnGC5iIbinkiovgHaKpFQzrrgtb7tocA="


@dataclass
class Cluster:
    go_rpc: int
    py_rpc: int
    py_http: int
    go_bind: int
    py: subprocess.Popen[bytes]

    def cli(self, rpc: int, *args: str, timeout: float = 30) -> tuple[int, str]:
        proc = subprocess.run(
            [SERF, args[0], f"-rpc-addr=127.0.0.1:{rpc}", *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def both(self, *args: str) -> tuple[tuple[int, str], tuple[int, str]]:
        return self.cli(self.go_rpc, *args), self.cli(self.py_rpc, *args)


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("rpc-interop")
    go_bind, go_rpc, py_bind, py_rpc, py_http = (free_port() for _ in range(5))
    common = ["-profile=local", f"-encrypt={KEY}"]
    go = subprocess.Popen(
        [
            SERF,
            "agent",
            "-node=g1",
            f"-bind=127.0.0.1:{go_bind}",
            f"-rpc-addr=127.0.0.1:{go_rpc}",
            "-tag",
            "role=web",
            "-tag",
            "impl=go",
            *common,
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    py = subprocess.Popen(
        [
            PYSERF,
            "agent",
            "-node=p1",
            f"-bind=127.0.0.1:{py_bind}",
            f"-rpc-addr=127.0.0.1:{py_rpc}",
            f"-http-addr=127.0.0.1:{py_http}",
            "-tag",
            "role=db",
            "-tag",
            "impl=py",
            f"-join=127.0.0.1:{go_bind}",
            *common,
        ],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        c = Cluster(go_rpc, py_rpc, py_http, go_bind, py)

        def converged() -> bool:
            try:
                outs = c.both("members")
            except subprocess.TimeoutExpired:
                return False
            return all(code == 0 and out.count(" alive ") == 2 for code, out in outs)

        wait_until(converged, 30)
        yield c
    finally:
        stop(py)
        stop(go)


def rows(text: str) -> list[list[str]]:
    """Table output as sorted rows of cells; tag lists sorted (Go prints map order)."""
    return sorted([_cell(c) for c in line.split()] for line in text.strip().splitlines())


def _cell(cell: str) -> str:
    return ",".join(sorted(cell.split(","))) if "=" in cell else cell


def test_members_text_json_and_detailed_match_gos(cluster: Cluster) -> None:
    (gc, go), (pc, py) = cluster.both("members")
    assert gc == pc == 0 and rows(go) == rows(py)
    (_, go), (_, py) = cluster.both("members", "-format=json")
    key = lambda m: m["name"]  # noqa: E731
    assert sorted(json.loads(go)["members"], key=key) == sorted(json.loads(py)["members"], key=key)
    (_, go), (_, py) = cluster.both("members", "-detailed")
    assert rows(go) == rows(py)


@pytest.mark.parametrize(
    "flags",
    [
        ["-tag", "role=web"],
        ["-tag", "impl=p.*"],
        ["-status=alive"],
        ["-name=g"],
        ["-name=p1"],
        ["-tag", "role=web|d"],
        ["-status", "("],
    ],
)
def test_member_filters_select_the_same_members(cluster: Cluster, flags: list[str]) -> None:
    (gc, go), (pc, py) = cluster.both("members", *flags)
    assert gc == pc
    assert rows(go) == rows(py)


def test_info_has_the_same_sections_and_serf_keys(cluster: Cluster) -> None:
    (gc, go), (pc, py) = cluster.both("info", "-format=json")
    assert gc == pc == 0
    g, p = json.loads(go), json.loads(py)
    assert set(g) == set(p)
    assert set(g["serf"]) == set(p["serf"]) and p["serf"]["encrypted"] == "true"
    assert set(g["runtime"]) == set(p["runtime"])
    assert p["agent"] == {"name": "p1", "pyserf_version": __version__} and p["tags"] == {
        "role": "db",
        "impl": "py",
    }


def test_query_is_acked_by_every_node_through_either_agent(cluster: Cluster) -> None:
    (gc, go), (pc, py) = cluster.both("query", "-format=json", "-timeout=2s", "ping")
    assert gc == pc == 0
    assert sorted(json.loads(go)["Acks"]) == sorted(json.loads(py)["Acks"]) == ["g1", "p1"]
    (_, go), (_, py) = cluster.both("query", "-format=json", "-timeout=2s", "-tag", "impl=go", "x")
    assert json.loads(go)["Acks"] == json.loads(py)["Acks"] == ["g1"]


def test_rtt_and_reachability_work_through_either_agent(cluster: Cluster) -> None:
    def rtt_known() -> bool:
        return all(code == 0 for code, _ in cluster.both("rtt", "g1", "p1"))

    wait_until(rtt_known, 30)
    (_, go), (_, py) = cluster.both("rtt", "g1", "p1")
    assert re.match(r"Estimated g1 <-> p1 rtt: \d+\.\d+ ms", py)
    assert go.split(":")[0] == py.split(":")[0]
    (gc, go), (pc, py) = cluster.both("reachability")
    assert gc == pc == 0 and "Successfully contacted all live nodes" in py


def test_events_and_tags_from_our_agent_reach_the_go_agent(cluster: Cluster) -> None:
    code, out = cluster.cli(cluster.py_rpc, "event", "-coalesce=false", "deploy", "v1")
    assert code == 0 and "Event 'deploy' dispatched!" in out
    code, out = cluster.cli(cluster.py_rpc, "tags", "-set", "build=7")
    assert code == 0

    def go_sees_tag() -> bool:
        return "build=7" in cluster.cli(cluster.go_rpc, "members", "-name=p1")[1]

    wait_until(go_sees_tag)
    cluster.cli(cluster.py_rpc, "tags", "-delete", "build")
    wait_until(lambda: "build=7" not in cluster.cli(cluster.go_rpc, "members", "-name=p1")[1])


def test_key_rotation_through_our_agent_is_seen_by_go(cluster: Cluster) -> None:
    (gc, go), (pc, py) = cluster.both("keys", "-list")
    assert gc == pc == 0 and rows(go) == rows(py)
    assert f"{KEY}  [2/2]" in py
    code, out = cluster.cli(cluster.py_rpc, "keys", "-install", KEY2)
    assert code == 0 and "Successfully installed key" in out
    code, out = cluster.cli(cluster.go_rpc, "keys", "-list")
    assert f"{KEY2}  [2/2]" in out
    (gc, go), (pc, py) = cluster.both("keys", "-remove", KEY)
    assert gc == pc == 1
    assert "Removing the primary key is not allowed" in go
    assert "Removing the primary key is not allowed" in py
    code, out = cluster.cli(cluster.py_rpc, "keys", "-remove", KEY2)
    assert code == 0 and "Successfully removed key" in out
    (_, go), (_, py) = cluster.both("keys", "-list")
    assert rows(go) == rows(py)


def test_monitor_streams_our_agents_log(cluster: Cluster) -> None:
    with subprocess.Popen(
        [SERF, "monitor", f"-rpc-addr=127.0.0.1:{cluster.py_rpc}", "-log-level=info"],
        stdout=subprocess.PIPE,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode()
            assert re.match(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(INFO|WARN|ERR)\] ", line)
        finally:
            stop(proc)


def test_http_endpoint_of_our_agent_matches_serf_members_json(cluster: Cluster) -> None:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{cluster.py_http}/v1/members") as resp:
        http_doc = json.loads(resp.read())
    _, cli = cluster.cli(cluster.py_rpc, "members", "-format=json")
    assert http_doc == json.loads(cli)


def test_http_metrics_and_health_of_our_agent_parse(cluster: Cluster) -> None:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    base = f"http://127.0.0.1:{cluster.py_http}"
    with urllib.request.urlopen(f"{base}/metrics") as resp:
        families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    members = {s.labels["status"]: s.value for s in families["serf_members"].samples}
    assert members["alive"] == 2
    assert families["serf_rpc_commands"].samples  # the CLI calls above were counted
    with urllib.request.urlopen(f"{base}/v1/health") as resp:
        assert resp.status == 200 and json.loads(resp.read())["name"] == "p1"


def test_join_of_a_reachable_address_reports_like_go(cluster: Cluster) -> None:
    (gc, go), (pc, py) = cluster.both("join", f"127.0.0.1:{cluster.go_bind}")
    assert gc == pc == 0 and go == py == "Successfully joined cluster by contacting 1 nodes.\n"


def test_join_of_an_unreachable_address_fails_like_go(cluster: Cluster) -> None:
    dead = free_port()
    (gc, go), (pc, py) = cluster.both("join", f"127.0.0.1:{dead}")
    assert gc == pc == 1
    assert (
        go.splitlines()[0] == py.splitlines()[0] == "Error joining the cluster: 1 error occurred:"
    )


def test_join_error_text_is_gos(cluster: Cluster) -> None:
    dead = free_port()
    (_, go), (_, py) = cluster.both("join", f"127.0.0.1:{dead}")
    assert go == py


def test_leave_through_our_agent_exits_it_and_go_sees_it_left(cluster: Cluster) -> None:
    """Runs last: the pyserf agent is gone afterwards."""
    code, out = cluster.cli(cluster.py_rpc, "leave")
    assert code == 0 and "Graceful leave complete" in out
    assert cluster.py.wait(timeout=30) == 0

    def go_sees_left() -> bool:
        return rows(cluster.cli(cluster.go_rpc, "members", "-name=p1")[1])[0][2] == "left"

    wait_until(go_sees_left)
