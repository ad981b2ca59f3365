"""Encrypted mixed clusters: a shared key works, a wrong or missing key keeps a node out, and
key rotation issued from either side reaches every node."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from serf_asyncio import JoinError, run
from serf_proto.events import KeyOpCompleted

from tests.interop.harness import Cluster, GoAgent, eventually

pytestmark = pytest.mark.interop

KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()
KEY3 = base64.b64encode(bytes(range(200, 232))).decode()
WRONG = base64.b64encode(bytes(32)).decode()


ATTEMPTS = 5


async def go_keys_until_ok(agent: GoAgent, *args: str) -> str:
    """Run ``serf keys ARGS`` until every node answered (at most ``ATTEMPTS`` times)."""
    out = ""
    for _ in range(ATTEMPTS):
        code, out = await agent.keys(*args)
        if code == 0:
            return out
        assert "nodes reported success" in out, out  # a missed answer, not an error
    raise AssertionError(f"serf keys {args} kept failing: {out}")


async def go_keys_listed(agent: GoAgent) -> dict[str, str]:
    """``serf keys -list`` parsed into key -> ``[holders/nodes]``, retried like the others."""
    out = await go_keys_until_ok(agent, "-list")
    listed: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith("["):
            listed[parts[0]] = parts[1]
    return listed


async def py_keys_until_ok(
    op: Callable[..., Awaitable[KeyOpCompleted]], *args: str
) -> KeyOpCompleted:
    """Run a key operation until every node answered without error."""
    result: KeyOpCompleted | None = None
    for _ in range(ATTEMPTS):
        result = await op(*args)
        assert result.num_err == 0, result
        if result.num_resp == result.num_nodes == 4:
            return result
    raise AssertionError(f"key operation kept missing answers: {result}")


async def encrypted_cluster_keeps_strangers_out(workdir: Path) -> None:
    cluster = Cluster(workdir)
    try:
        go1 = await cluster.start_go("go1", "-tag=lang=go", f"-encrypt={KEY1}")
        py1 = await cluster.start_py("py1", tags={"lang": "py"}, keys=[KEY1])
        await py1.node.join(go1.addr)
        go2 = await cluster.start_go("go2", "-tag=lang=go", f"-encrypt={KEY1}", join=py1.addr)
        py2 = await cluster.start_py("py2", tags={"lang": "py"}, keys=[KEY1])
        await py2.node.join(go2.addr)
        await cluster.wait_converged()
        assert py1.node.stats()["encrypted"] == "true"
        members = await go1.members()
        assert {m["status"] for m in members.values()} == {"alive"}

        # Python nodes with a wrong key or no key cannot join through either side.
        wrong_py = await cluster.start_py("py-wrong", keys=[WRONG])
        with pytest.raises(JoinError):
            await wrong_py.node.join(go1.addr)
        plain_py = await cluster.start_py("py-plain")
        with pytest.raises(JoinError):
            await plain_py.node.join(py1.addr)
        # Go agents with a wrong key or no key cannot join a Python node.
        wrong_go = await cluster.start_go("go-wrong", f"-encrypt={WRONG}")
        code, out = await wrong_go.join(py1.addr)
        assert code == 1, out
        plain_go = await cluster.start_go("go-plain")
        code, out = await plain_go.join(py2.addr)
        assert code == 1, out

        members = await go1.members()
        assert set(members) == {"go1", "go2", "py1", "py2"}
        assert {m.name for m in py1.node.members()} == {"go1", "go2", "py1", "py2"}
        assert {m.name for m in wrong_py.node.members()} == {"py-wrong"}
    finally:
        await cluster.close()


async def keys_rotate_from_either_side(workdir: Path) -> None:
    cluster = Cluster(workdir)
    try:
        go1 = await cluster.start_go("go1", "-tag=lang=go", f"-encrypt={KEY1}")
        go2 = await cluster.start_go("go2", "-tag=lang=go", f"-encrypt={KEY1}", join=go1.addr)
        py1 = await cluster.start_py("py1", tags={"lang": "py"}, keys=[KEY1])
        py2 = await cluster.start_py("py2", tags={"lang": "py"}, keys=[KEY1])
        await py1.node.join(go1.addr)
        await py2.node.join(py1.addr)
        await cluster.wait_converged()

        # Rotation driven by Go's CLI: install, use, remove. A key command fails when any node
        # misses the 1.6 s query window of the local profile (Go-only clusters too), so each
        # idempotent step is retried until every node has answered.
        for args in ([f"-install={KEY2}"], [f"-use={KEY2}"], [f"-remove={KEY1}"]):
            await go_keys_until_ok(go2, *args)
        for node in cluster.py:
            assert node.node.keys() == (base64.b64decode(KEY2),), node.name
        assert await go_keys_listed(go1) == {KEY2: "[4/4]"}

        # Rotation driven by a Python node: the same three steps.
        await py_keys_until_ok(py1.node.install_key, KEY3)
        await py_keys_until_ok(py1.node.use_key, KEY3)
        await py_keys_until_ok(py1.node.remove_key, KEY2)
        listed = await py_keys_until_ok(py2.node.list_keys)
        assert listed.keys == {KEY3: 4}
        assert listed.primary_keys == {KEY3: 4}
        for node in cluster.py:
            assert node.node.keys() == (base64.b64decode(KEY3),), node.name
        assert await go_keys_listed(go2) == {KEY3: "[4/4]"}

        # The cluster still gossips under the new key.
        py2.node.user_event("after-rotation", b"", coalesce=False)
        await eventually(
            lambda: all("after-rotation" in a.user_events() for a in cluster.go),
            what="an event under the rotated key",
        )
    finally:
        await cluster.close()


def test_an_encrypted_mixed_cluster_keeps_out_nodes_with_a_wrong_or_no_key(
    tmp_path: Path,
) -> None:
    run(encrypted_cluster_keeps_strangers_out(tmp_path))


def test_key_install_use_remove_from_either_side_rotates_every_node(tmp_path: Path) -> None:
    run(keys_rotate_from_either_side(tmp_path))
