"""Go agents with compression disabled and with Serf protocol 2 interoperate with our nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from serf_asyncio import run

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

        result = await plain.query("q-nocomp", timeout="3s")
        assert result["Responses"]["py1"] == "py:py1"
        assert result["Responses"]["py2"] == "py:py2"
        handle = py1.node.query("q-py1", b"", timeout=3.0)
        responses = await handle.wait()
        assert responses["go-nocomp"] == b"go:go-nocomp"
        assert responses["py2"] == b"py:py2"
    finally:
        await cluster.close()


def test_go_agents_without_compression_or_on_protocol_2_interoperate(tmp_path: Path) -> None:
    run(uncompressed_and_protocol_2_agents(tmp_path))
