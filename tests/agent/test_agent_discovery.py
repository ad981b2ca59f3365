"""mDNS discovery (`-discover`): two agents find and join each other with no address given.

Multicast must not leave the machine, so both agents run inside a private network namespace
whose only interface is a multicast-enabled loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.agentproc import GO_SERF, wait_until

pytestmark = [pytest.mark.faults, pytest.mark.interop]

TIMEOUT = 30


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=TIMEOUT)


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"pyserf-mdns-{os.getpid()}"
    ip("netns", "add", name)
    try:
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up", "multicast", "on")
        ip("netns", "exec", name, "ip", "route", "add", "224.0.0.0/4", "dev", "lo")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=TIMEOUT)


def members(namespace: str, rpc_port: int) -> list[str]:
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, GO_SERF, "members", f"-rpc-addr=127.0.0.1:{rpc_port}"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return sorted(line.split()[0] for line in result.stdout.splitlines() if line.strip())


def test_two_agents_with_the_same_discover_name_join_each_other(
    namespace: str, tmp_path: Path
) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for index, name in enumerate(("m1", "m2")):
            out = open(tmp_path / f"{name}.out", "wb")  # noqa: SIM115 - closed with the process
            procs.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        namespace,
                        sys.executable,
                        "-m",
                        "serf_agent",
                        f"-node={name}",
                        # m2 names its mDNS interface with Go 0.10's flags instead
                        *(["-iface=lo"] if index == 0 else ["-mdns-iface=lo"]),
                        *(["-mdns-disable-ipv6"] if index == 1 else []),
                        f"-bind=127.0.0.1:{7946 + index}",
                        f"-rpc-addr=127.0.0.1:{7373 + index}",
                        "-discover=pyserf-test",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            )
            out.close()
        wait_until(lambda: members(namespace, 7373) == ["m1", "m2"], what="m1 to find m2")
        wait_until(lambda: members(namespace, 7374) == ["m1", "m2"], what="m2 to find m1")
        log = (tmp_path / "m1.out").read_text()
        assert "               mDNS cluster: pyserf-test\n" in log
        assert "[INFO] agent.mdns: Joined 1 hosts" in log + (tmp_path / "m2.out").read_text()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
