"""Go agents with compression disabled, on Serf protocol 2 or on IPv6 interoperate with ours."""

from __future__ import annotations

from pathlib import Path

import pytest
from serf_asyncio import run

from tests.conftest import require_ipv6_loopback
from tests.interop.harness import Cluster, eventually

pytestmark = pytest.mark.interop


async def uncompressed_and_protocol_2_agents(workdir: Path) -> None:
    cluster = Cluster(workdir)
    try:
        plain = await cluster.start_go("go-nocomp", "-disable-compression", "-tag=lang=go")
        py1 = await cluster.start_py("py1", tags={"lang": "py"})
        await py1.node.join(plain.addr)
        old = await cluster.start_go("go-proto2", "-protocol=2", join=py1.addr)
        py2 = await cluster.start_py(
            "py2", tags={"lang": "py"}, memberlist={"enable_compression": False}
        )
        await py2.node.join([old.addr])
        await cluster.wait_converged()

        members = await plain.members()
        assert members["go-proto2"]["protocol"]["version"] == 2
        assert members["py1"]["tags"] == {"lang": "py"}
        by_name = {m.name: m for m in py1.node.members()}
        assert by_name["go-proto2"].delegate[2] == 2
        assert by_name["go-nocomp"].tags == {"lang": "go"}

        await plain.event("ev-nocomp")
        await old.event("ev-proto2")
        py2.node.user_event("ev-py2", b"", coalesce=False)
        names = ["ev-nocomp", "ev-proto2", "ev-py2"]

        def everywhere() -> bool:
            logs = [a.user_events() for a in cluster.go] + [n.user_events for n in cluster.py]
            return all(all(n in log for n in names) for log in logs)

        await eventually(everywhere, what="events from every kind of node on every node")

        # A query is best effort and a node its gossip misses inside the window answers
        # nothing (see check_queries in test_mixed_cluster.py): sent at most three times.
        go_answers: dict[str, str] = {}
        for attempt in range(3):
            result = await plain.query(f"q-nocomp-{attempt}", timeout="4s")
            go_answers = result["Responses"]
            if {"py1", "py2"} <= go_answers.keys():
                break
        assert go_answers["py1"] == "py:py1"
        assert go_answers["py2"] == "py:py2"
        responses: dict[str, bytes] = {}
        for attempt in range(3):
            responses = await py1.node.query(f"q-py1-{attempt}", b"", timeout=4.0).wait()
            if {"go-nocomp", "py2"} <= responses.keys():
                break
        assert responses["go-nocomp"] == b"go:go-nocomp"
        assert responses["py2"] == b"py:py2"
    finally:
        await cluster.close()


def test_go_agents_without_compression_or_on_protocol_2_interoperate(tmp_path: Path) -> None:
    run(uncompressed_and_protocol_2_agents(tmp_path))


async def ipv6_cluster(workdir: Path) -> None:
    cluster = Cluster(workdir)
    try:
        go1 = await cluster.start_go("go6-1", "-tag=lang=go", host="::1")
        py1 = await cluster.start_py("py6-1", tags={"lang": "py"}, bind="[::1]:0")
        assert py1.addr.startswith("[::1]:")
        await py1.node.join(go1.addr)
        go2 = await cluster.start_go("go6-2", "-tag=lang=go", host="::1", join=py1.addr)
        await cluster.wait_converged()
        members = await go2.members()
        assert members["py6-1"]["addr"] == py1.addr
        assert {m.name: str(m.addr) for m in py1.node.members()}["go6-2"] == go2.addr
        await go1.event("ev-v6-go")
        py1.node.user_event("ev-v6-py", b"", coalesce=False)

        def everywhere() -> bool:
            logs = [a.user_events() for a in cluster.go] + [n.user_events for n in cluster.py]
            return all("ev-v6-go" in log and "ev-v6-py" in log for log in logs)

        await eventually(everywhere, what="user events over IPv6 on every node")
    finally:
        await cluster.close()


def test_go_and_python_nodes_form_a_cluster_over_ipv6(tmp_path: Path) -> None:
    require_ipv6_loopback()
    run(ipv6_cluster(tmp_path))
