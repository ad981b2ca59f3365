"""The namespace lab itself: isolation, loss and partition rules, and complete teardown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.cluster import wait_until
from tests.faults.netlab import LOSS_CHAIN, PART_CHAIN, NetLab, list_namespaces

pytestmark = pytest.mark.faults

UDP_PROBE = """
import socket, sys
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind((sys.argv[1], 9999))
rx.settimeout(float(sys.argv[2]))
got = 0
try:
    while True:
        rx.recv(100)
        got += 1
except OSError:
    pass
print(got)
"""

UDP_SEND = """
import socket, sys, time
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[2])):
    tx.sendto(b"x", (sys.argv[1], 9999))
    time.sleep(0.001)
"""


def _count_delivered(lab: NetLab, src: int, dst: int, count: int) -> int:
    receiver = lab.nodes[dst]
    rx = subprocess.Popen(
        ["ip", "netns", "exec", receiver.ns, sys.executable, "-c", UDP_PROBE, receiver.addr, "1.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # The receiver binds before the sender starts: give it the socket first by retrying.
        lab.ns_run(lab.nodes[src].ns, [sys.executable, "-c", "import time; time.sleep(0.3)"])
        lab.ns_run(lab.nodes[src].ns, [sys.executable, "-c", UDP_SEND, receiver.addr, str(count)])
        out, _ = rx.communicate(timeout=30)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    return int(out.strip())


def test_nodes_reach_each_other_through_the_bridge_and_nothing_appears_on_the_host() -> None:
    host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    lab = NetLab(size=2).create()
    try:
        assert _count_delivered(lab, 0, 1, 50) == 50
        assert (
            subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
            == host_links
        )
        routes = lab.ns_run(lab.nodes[0].ns, ["ip", "route"])
        assert routes.split() == [
            "10.213.0.0/24",
            "dev",
            "eth0",
            "proto",
            "kernel",
            "scope",
            "link",
            "src",
            "10.213.0.1",
        ]
    finally:
        assert lab.destroy() == []


def test_loss_drops_about_the_configured_fraction_and_clears() -> None:
    lab = NetLab(size=2).create()
    try:
        lab.set_loss(0.5)
        assert "--probability 0.5" in lab.rules(lab.nodes[1])
        delivered = _count_delivered(lab, 0, 1, 400)
        assert 120 < delivered < 280
        lab.set_loss(0)
        assert f"-A {LOSS_CHAIN}" not in lab.rules(lab.nodes[1])
        assert _count_delivered(lab, 0, 1, 50) == 50
    finally:
        assert lab.destroy() == []


def test_a_partition_blocks_both_directions_until_healed() -> None:
    lab = NetLab(size=3).create()
    try:
        a, b, _c = lab.nodes
        lab.partition([a], [b])
        assert _count_delivered(lab, 0, 1, 20) == 0
        assert _count_delivered(lab, 1, 0, 20) == 0
        assert _count_delivered(lab, 0, 2, 20) == 20
        lab.heal()
        assert f"-A {PART_CHAIN}" not in lab.rules(a)
        assert _count_delivered(lab, 0, 1, 20) == 20
    finally:
        assert lab.destroy() == []


def test_teardown_deletes_every_namespace_and_kills_every_process_inside(tmp_path: Path) -> None:
    lab = NetLab(size=2).create()
    names = [lab.bridge_ns, *(n.ns for n in lab.nodes)]
    assert set(names) <= set(list_namespaces())
    proc = lab.spawn(lab.nodes[0].ns, ["sleep", "600"], log=tmp_path / "sleep.log")
    detached = int(
        lab.ns_run(
            lab.nodes[1].ns, ["sh", "-c", "setsid sleep 600 >/dev/null 2>&1 & echo $!"]
        ).strip()
    )
    assert Path(f"/proc/{detached}").exists()
    assert lab.destroy() == []
    assert proc.poll() is not None
    wait_until(lambda: not Path(f"/proc/{detached}").exists(), timeout=10, what="detached exit")
    assert not set(names) & set(list_namespaces())
