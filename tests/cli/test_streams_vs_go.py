"""Long-running commands next to Go's: monitor, leave, key rotation, and our query early exit."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serf_cli.rpc_client import RPCClient

from tests.cli.conftest import Lan
from tests.cli.harness import (
    GO_CLI,
    PY_CLI,
    Cluster,
    Run,
    cluster,
    run_both,
    unordered,
    wait_until,
)

pytestmark = pytest.mark.interop

K1 = "0RZVwe6G5PxDnGC5iIbinkiovgHaKpFQzrrgtb7tocA="
K2 = "hbbBBrflCBbYjPCBx/GlQd81gxmXG6L+aXWfEYX/2cE="
K3 = "YS029FLySwr2lkH4HAqaxcLwAK+j3pl2HNISYL8BHDQ="
REMOTE_ENDED = (
    "\nRemote side ended the monitor! This usually means that the\n"
    "remote side has exited or crashed.\n"
)


class Background:
    """A CLI process whose stdout goes to a file we can poll."""

    def __init__(self, cli: list[str], args: list[str], out: Path) -> None:
        self.out_path = out
        with out.open("wb") as sink:
            self.proc = subprocess.Popen(
                [*cli, *args], stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def text(self) -> str:
        return self.out_path.read_text(errors="replace")

    def finish(self, timeout: float = 15) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def event_block(text: str, name: str, key: str = "Name") -> list[str]:
    """The sorted field lines of the first ``Event Info:`` block whose ``key`` is ``name``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line != "Event Info:":
            continue
        block = []
        for field in lines[i + 1 :]:
            if not field.startswith("\t"):
                break
            block.append(field)
        if f'\t{key}: "{name}"' in block:
            return sorted(block)
    return []


def test_monitor_prints_logs_and_events_like_go_and_exits_zero_on_interrupt(
    lan: Lan, tmp_path: Path
) -> None:
    args = ["monitor", f"-rpc-addr={lan.n1.rpc}", "-log-level=info"]
    go = Background(GO_CLI, args, tmp_path / "go.out")
    ours = Background(PY_CLI, args, tmp_path / "py.out")
    try:
        wait_until(lambda: "[INFO]" in go.text() and "[INFO]" in ours.text(), 20, "log replay")
        with RPCClient.connect(lan.n1.rpc) as client:
            client.user_event("monev", b"pay\x00load", False)
            for _ in client.query("monq", b"\xff", timeout_ns=200_000_000):
                pass
        wait_until(
            lambda: all(
                event_block(proc.text(), name) for proc in (go, ours) for name in ("monev", "monq")
            ),
            20,
            "the user event and the query on both monitors",
        )
    finally:
        for proc in (go, ours):
            proc.proc.send_signal(signal.SIGINT)
    assert (ours.finish(), go.finish()) == (0, 0)
    assert event_block(ours.text(), "monev") == event_block(go.text(), "monev")
    assert event_block(ours.text(), "monq") == event_block(go.text(), "monq")
    assert "\tPayload: []byte{0xff}" in event_block(ours.text(), "monq")
    assert "\tPayload: []byte{0x70, 0x61, 0x79, 0x0, 0x6c, 0x6f, 0x61, 0x64}" in ours.text()
    assert "agent: Received event: user-event: monev" in ours.text()


@pytest.fixture
def two_lone_agents(agent_factory: list[str], tmp_path: Path) -> Iterator[Cluster]:
    with cluster(agent_factory, tmp_path) as c:
        c.start("lone-go")
        c.start("lone-py")
        yield c


def test_leave_shuts_the_agent_down_and_ends_monitors_like_go(
    two_lone_agents: Cluster, tmp_path: Path
) -> None:
    for_go, for_us = two_lone_agents.agents
    go_mon = Background(GO_CLI, ["monitor", f"-rpc-addr={for_go.rpc}"], tmp_path / "gm.out")
    our_mon = Background(PY_CLI, ["monitor", f"-rpc-addr={for_us.rpc}"], tmp_path / "pm.out")
    wait_until(lambda: "[INFO]" in go_mon.text() and "[INFO]" in our_mon.text(), 20, "monitors")
    results: list[Run] = []
    for cli, agent in ((GO_CLI, for_go), (PY_CLI, for_us)):
        proc = subprocess.run(
            [*cli, "leave", f"-rpc-addr={agent.rpc}"], capture_output=True, timeout=30, check=False
        )
        results.append(Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode()))
    assert results[1] == results[0] == Run(0, "Graceful leave complete\n", "")
    assert for_go.proc.wait(timeout=20) == 0
    assert for_us.proc.wait(timeout=20) == 0
    assert (our_mon.finish(), go_mon.finish()) == (1, 1)
    assert our_mon.text().endswith(REMOTE_ENDED)
    assert go_mon.text().endswith(REMOTE_ENDED)


@pytest.fixture(scope="module")
def encrypted(
    agent_factory: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    with cluster(agent_factory, tmp_path_factory.mktemp("enc")) as c:
        e1 = c.start("e1", f"-encrypt={K1}")
        c.start("e2", f"-encrypt={K1}", join=e1)
        c.wait_for_members(e1, 2)
        yield c


def test_key_rotation_reads_and_fails_like_go(encrypted: Cluster) -> None:
    rpc = encrypted.agents[0].rpc
    steps: list[tuple[list[str], int]] = [
        (["-list"], 0),
        ([f"-install={K2}"], 0),
        (["-list"], 0),
        ([f"-use={K2}"], 0),
        ([f"-remove={K2}"], 1),
        ([f"-remove={K1}"], 0),
        ([f"-use={K3}"], 1),
        (["-install=not-base64!"], 1),
        (["-list"], 0),
    ]
    for flags, code in steps:
        for _ in range(3):  # key requests are queries with a deadline; retry a late answer
            go, ours = run_both(["keys", f"-rpc-addr={rpc}", *flags])
            if (ours.code, unordered(ours.out)) == (
                go.code,
                unordered(go.out),
            ) and ours.code == code:
                break
        assert (ours.code, unordered(ours.out), ours.err) == (go.code, unordered(go.out), go.err)
        assert ours.code == code, ours.out
    assert f"{K2}  [2/2]" in ours.out


def _query(args: list[str]) -> tuple[Run, float]:
    start = time.monotonic()
    proc = subprocess.run([*PY_CLI, *args], capture_output=True, timeout=90, check=False)
    elapsed = time.monotonic() - start
    return Run(proc.returncode, proc.stdout.decode(), proc.stderr.decode()), elapsed


def test_early_exit_ends_the_query_once_every_selected_node_answered(lan: Lan) -> None:
    filters = ["-tag", "role=(web|db)"]
    ours, elapsed = _query(
        ["query", f"-rpc-addr={lan.n1.rpc}", "-early-exit", "-timeout=60s", *filters, "echo", "hi"]
    )
    assert elapsed < 30
    go, _ = run_both(["query", f"-rpc-addr={lan.n1.rpc}", "-timeout=3s", *filters, "echo", "hi"])
    assert (ours.code, unordered(ours.out)) == (go.code, unordered(go.out))
    assert "Response from 'n1': resp-from-n1 payload=hi" in ours.out
    assert ours.out.endswith("Total Responses: 2\n")


def test_early_exit_selects_nodes_by_searching_tags_as_the_query_does(lan: Lan) -> None:
    # A query's tag filter is unanchored: `role=w` selects the node tagged `web`.
    ours, elapsed = _query(
        [
            "query",
            f"-rpc-addr={lan.n1.rpc}",
            "-early-exit",
            "-timeout=60s",
            "-tag",
            "role=w",
            "echo",
        ]
    )
    assert elapsed < 30
    assert ours.code == 0 and ours.out.endswith("Total Responses: 1\n"), ours.out


def test_early_exit_honours_node_filters_and_json(lan: Lan) -> None:
    ours, elapsed = _query(
        [
            "query",
            f"-rpc-addr={lan.n1.rpc}",
            "-early-exit",
            "-timeout=60s",
            "-format=json",
            "-node=n2",
            "echo",
            "x",
        ]
    )
    assert elapsed < 30
    assert ours.code == 0
    assert '"n2": "resp-from-n2 payload=x\\n"' in ours.out
    assert '"Acks": [\n    "n2"\n  ]' in ours.out


def test_early_exit_with_no_selected_node_ends_at_once(lan: Lan) -> None:
    ours, elapsed = _query(
        ["query", f"-rpc-addr={lan.n1.rpc}", "-early-exit", "-timeout=60s", "-node=nosuch", "echo"]
    )
    assert elapsed < 30
    assert ours == Run(0, "Query 'echo' dispatched\nTotal Acks: 0\nTotal Responses: 0\n", "")


def test_an_interrupted_query_exits_one_like_go(lan: Lan, tmp_path: Path) -> None:
    args = ["query", f"-rpc-addr={lan.n1.rpc}", "-timeout=60s", "echo", "x"]
    go = Background(GO_CLI, args, tmp_path / "go.out")
    ours = Background(PY_CLI, args, tmp_path / "py.out")
    everything = ("Ack from 'n1'", "Ack from 'n2'", "Ack from 'n3'", "Response from 'n1'",
                  "Response from 'n2'")  # fmt: skip
    try:  # interrupt only once both have printed every ack and response (they arrive in any order)
        wait_until(
            lambda: all(line in go.text() and line in ours.text() for line in everything),
            30,
            "every ack and response on both",
        )
    finally:
        for proc in (go, ours):
            proc.proc.send_signal(signal.SIGINT)
    assert (ours.finish(), go.finish()) == (1, 1)
    assert unordered(ours.text()) == unordered(go.text())


@pytest.fixture(scope="module")
def with_failed(
    agent_factory: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """f1 and f2 alive, f3 and f4 killed (failed in f1's view)."""
    with cluster(agent_factory, tmp_path_factory.mktemp("failed")) as c:
        f1 = c.start("f1", "-tag", "role=web")
        c.start("f2", join=f1)
        doomed = [c.start("f3", join=f1), c.start("f4", "-tag", "x=y", join=f1)]
        c.wait_for_members(f1, 4)
        for agent in doomed:
            agent.proc.kill()
            agent.proc.wait()

        def both_failed() -> bool:
            with RPCClient.connect(f1.rpc) as client:
                return sum(m.status == "failed" for m in client.members()) == 2

        wait_until(both_failed, 30, "f3 and f4 to be seen as failed")
        yield c


def test_failed_members_list_reach_and_leave_like_go(with_failed: Cluster) -> None:
    rpc = with_failed.agents[0].rpc
    for args in (["members"], ["members", "-status=failed"], ["members", "-format=json"]):
        go, ours = run_both([args[0], f"-rpc-addr={rpc}", *args[1:]])
        assert (ours.code, unordered(ours.out)) == (go.code, unordered(go.out))
    assert '"name": "f3"' in ours.out
    for _ in range(3):  # a ping ack late on a loaded machine changes both outputs alike
        go, ours = run_both(["reachability", f"-rpc-addr={rpc}"])
        if (ours.code, ours.out) == (go.code, go.out):
            break
    assert (ours.code, ours.out) == (go.code, go.out)
    assert ours.out.startswith("Total members: 4, live members: 2\n")
    go, ours = run_both(["force-leave", f"-rpc-addr={rpc}", "f3"])
    assert (ours.code, ours.out, ours.err) == (go.code, go.out, go.err) == (0, "", "")
    go, ours = run_both(["members", f"-rpc-addr={rpc}", "-status=left"])
    assert (ours.code, ours.out) == (go.code, go.out)
    assert ours.out.startswith("f3  ")
    go, ours = run_both(["force-leave", f"-rpc-addr={rpc}", "-prune", "f4"])
    assert (ours.code, ours.out, ours.err) == (go.code, go.out, go.err) == (0, "", "")
    go, ours = run_both(["members", f"-rpc-addr={rpc}", "-name=f4"])
    assert (ours.code, ours.out) == (go.code, go.out) == (0, "\n")


def test_member_events_on_the_monitor_print_nested_records_like_go(
    agent_factory: list[str], tmp_path: Path
) -> None:
    with cluster(agent_factory, tmp_path) as c:
        first = c.start("m1", "-tag", "role=web")
        args = ["monitor", f"-rpc-addr={first.rpc}"]
        go = Background(GO_CLI, args, tmp_path / "go.out")
        ours = Background(PY_CLI, args, tmp_path / "py.out")
        try:
            wait_until(lambda: "[INFO]" in go.text() and "[INFO]" in ours.text(), 20, "monitors")
            c.start("m2", "-tag", "a=b", join=first)
            wait_until(
                lambda: all(event_block(p.text(), "member-join", "Event") for p in (go, ours)),
                30,
                "member-join on both monitors",
            )
        finally:
            for proc in (go, ours):
                proc.proc.send_signal(signal.SIGINT)
        assert (ours.finish(), go.finish()) == (0, 0)
    ours_block = event_block(ours.text(), "member-join", "Event")
    assert ours_block == event_block(go.text(), "member-join", "Event")
    assert any('"Addr":[]uint8{0x7f, 0x0, 0x0, 0x1}' in line for line in ours_block)
