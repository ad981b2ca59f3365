"""Security properties of a running agent: encryption refuses outsiders, RPC auth guards every
command, labels keep clusters apart, handler payloads never reach a shell command line, and the
keyring and snapshot files are private and replaced atomically."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import socket
import stat
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from serf_agent.rpc.session import AUTH_REQUIRED, COMMANDS
from serf_proto.wire import Keyring, Ping, decode_packet, encode_message, encode_packet

from tests.agent.agentproc import AgentProcess, free_port, wait_until

# Go's serf CLI is the RPC client that drives the agents.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(100, 132))).decode()
NEW_KEY = base64.b64encode(bytes(range(50, 82))).decode()


@pytest.fixture
def agents() -> Iterator[list[AgentProcess]]:
    """Collects the agents a test starts and stops each of them by PID."""
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.stop()


def _start(started: list[AgentProcess], agent: AgentProcess) -> AgentProcess:
    started.append(agent)
    return agent.start()


def _ping_reply(port: int, packet: bytes) -> bytes | None:
    """Send one UDP packet to the agent and return the first reply within 1.5 s, if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(1.5)
        udp.sendto(packet, ("127.0.0.1", port))
        try:
            return udp.recv(65536)
        except TimeoutError:
            return None


def _dropped(http_port: int) -> int:
    """Sum of ``serf_packets_dropped_total`` over every reason, from the metrics endpoint."""
    url = f"http://127.0.0.1:{http_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    return sum(
        int(float(m.group(1)))
        for m in re.finditer(r"^serf_packets_dropped_total\{[^}]*\} (\S+)$", text, re.M)
    )


def _ping(port: int, seq: int) -> Ping:
    # The ack goes back to the packet's source address; no source fields needed.
    return Ping(seq, "target")


def test_an_encrypted_agent_answers_only_pings_sealed_with_its_key(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    http_port = free_port()
    target = _start(
        agents,
        AgentProcess(tmp_path, "target", f"-encrypt={KEY}", f"-http-addr=127.0.0.1:{http_port}"),
    )
    rng = random.Random(3)
    before = _dropped(http_port)
    plain = encode_packet([encode_message(_ping(target.bind_port, 1))])
    assert _ping_reply(target.bind_port, plain) is None

    wrong = Keyring([base64.b64decode(OTHER_KEY)])
    sealed_wrong = encode_packet(
        [encode_message(_ping(target.bind_port, 2))], keyring=wrong, entropy=rng.randbytes
    )
    assert _ping_reply(target.bind_port, sealed_wrong) is None
    wait_until(lambda: _dropped(http_port) >= before + 2, what="both refusals to be counted")

    right = Keyring([base64.b64decode(KEY)])
    sealed = encode_packet(
        [encode_message(_ping(target.bind_port, 3))], keyring=right, entropy=rng.randbytes
    )
    reply = _ping_reply(target.bind_port, sealed)
    assert reply is not None, "the correctly keyed ping was not answered"
    assert decode_packet(reply, keyring=right).messages
    assert not target.exited()


def test_plaintext_and_wrong_key_agents_cannot_join_an_encrypted_cluster(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    target = _start(agents, AgentProcess(tmp_path, "target", f"-encrypt={KEY}"))
    plain = _start(agents, AgentProcess(tmp_path, "plain"))
    wrong = _start(agents, AgentProcess(tmp_path, "wrong", f"-encrypt={OTHER_KEY}"))
    right = _start(agents, AgentProcess(tmp_path, "right", f"-encrypt={KEY}"))
    assert plain.serf("join", target.bind_addr).returncode != 0
    assert wrong.serf("join", target.bind_addr).returncode != 0
    assert right.serf("join", target.bind_addr).returncode == 0
    wait_until(lambda: target.member_status("right") == "alive", what="the keyed agent to join")
    members = target.serf("members").stdout
    assert "plain" not in members and "wrong" not in members
    assert "Encrypted: true" in target.output()


def _rpc(port: int) -> tuple[socket.socket, msgpack.Unpacker]:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    return conn, msgpack.Unpacker(raw=False)


def _read(conn: socket.socket, unpacker: msgpack.Unpacker) -> Any:
    while True:
        for obj in unpacker:
            return obj
        data = conn.recv(65536)
        if not data:
            raise ConnectionError("closed")
        unpacker.feed(data)


#: Every command Go's agent serves after the handshake (cmd/serf/command/agent/ipc.go).
GO_COMMANDS = frozenset(
    [
        "members",
        "members-filtered",
        "event",
        "force-leave",
        "join",
        "tags",
        "stream",
        "monitor",
        "stop",
        "leave",
        "query",
        "respond",
        "install-key",
        "use-key",
        "remove-key",
        "list-keys",
        "stats",
        "get-coordinate",
    ]
)


def test_rpc_auth_is_required_before_every_command(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    config = tmp_path / "auth.json"
    config.write_text(json.dumps({"rpc_auth": "s3cret"}))
    target = _start(agents, AgentProcess(tmp_path, "target", f"-config-file={config}"))
    refused = {}
    assert GO_COMMANDS <= COMMANDS
    for command in sorted(COMMANDS - {"handshake", "auth"}):
        conn, unpacker = _rpc(target.rpc_port)
        with conn:
            conn.sendall(msgpack.packb({"Command": "handshake", "Seq": 1}))
            conn.sendall(msgpack.packb({"Version": 1}))
            assert _read(conn, unpacker) == {"Seq": 1, "Error": ""}
            conn.sendall(msgpack.packb({"Command": command, "Seq": 2}))
            refused[command] = _read(conn, unpacker).get("Error")
    assert refused == {c: AUTH_REQUIRED for c in refused}, refused
    assert target.serf("members", "-rpc-auth=wrong").returncode != 0
    assert target.serf("members", "-rpc-auth=s3cret").returncode == 0


def test_a_label_keeps_two_clusters_apart(tmp_path: Path, agents: list[AgentProcess]) -> None:
    alpha = _start(agents, AgentProcess(tmp_path, "alpha", "-label=alpha"))
    beta = _start(agents, AgentProcess(tmp_path, "beta", "-label=beta"))
    alpha2 = _start(agents, AgentProcess(tmp_path, "alpha2", "-label=alpha"))
    unlabelled = _start(agents, AgentProcess(tmp_path, "plain"))
    assert beta.serf("join", alpha.bind_addr).returncode != 0
    assert unlabelled.serf("join", alpha.bind_addr).returncode != 0
    assert alpha2.serf("join", alpha.bind_addr).returncode == 0
    wait_until(lambda: alpha.member_status("alpha2") == "alive", what="same-label join")
    time.sleep(1.0)  # give any leaked gossip a chance to show up
    for outsider in ("beta", "plain"):
        assert alpha.member_status(outsider) is None
        assert alpha2.member_status(outsider) is None
    assert beta.member_status("alpha") is None


HANDLER = """#!/bin/sh
cat > "$OUT/stdin.txt"
printf '%s' "$SERF_USER_EVENT" > "$OUT/name.txt"
"""


def test_handler_payloads_reach_scripts_only_through_stdin_and_env(
    tmp_path: Path, agents: list[AgentProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    script = tmp_path / "handler.sh"
    script.write_text(HANDLER)
    script.chmod(0o755)
    monkeypatch.setenv("OUT", str(out))
    target = _start(agents, AgentProcess(tmp_path, "target", f"-event-handler=user={script}"))
    name = "deploy;touch${IFS}pwned-by-name"
    payload = "$(touch pwned-by-payload) `touch pwned-by-backtick` ; touch pwned-by-semicolon"
    assert target.serf("event", name, payload).returncode == 0
    wait_until(lambda: (out / "name.txt").exists(), what="the handler to run")
    assert (out / "name.txt").read_text() == name
    wait_until(lambda: (out / "stdin.txt").read_text() == payload + "\n", what="stdin")
    for directory in (tmp_path, out, Path.cwd()):
        assert not list(directory.glob("pwned*")), f"a payload was executed in {directory}"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keyring_and_snapshot_files_are_private_and_replaced_atomically(
    tmp_path: Path, agents: list[AgentProcess]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    keyring = data / "keyring.json"
    keyring.write_text(json.dumps([KEY]))
    keyring.chmod(0o644)
    snapshot = data / "snapshot"
    target = _start(
        agents,
        AgentProcess(tmp_path, "target", f"-keyring-file={keyring}", f"-snapshot={snapshot}"),
    )
    wait_until(snapshot.exists, what="the snapshot file")
    assert _mode(snapshot) == 0o600
    inode = keyring.stat().st_ino
    assert target.serf("keys", "-install", NEW_KEY).returncode == 0
    wait_until(lambda: NEW_KEY in keyring.read_text(), what="the keyring file to be rewritten")
    assert set(json.loads(keyring.read_text())) == {KEY, NEW_KEY}
    assert _mode(keyring) == 0o600
    assert keyring.stat().st_ino != inode, "the keyring was rewritten in place, not replaced"
    assert target.serf("event", "e", "x").returncode == 0
    time.sleep(1.0)  # one snapshot flush interval
    assert _mode(snapshot) == 0o600
    leftovers = sorted(p.name for p in data.iterdir() if p.name not in {"keyring.json", "snapshot"})
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    assert os.access(keyring, os.R_OK)
