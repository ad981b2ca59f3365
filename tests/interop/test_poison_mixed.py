"""A pyserf agent under hostile input never passes poison on to its Go Serf 0.9.4 peer.

A Go agent and a pyserf agent are joined; the pyserf agent is sent every packet that crashes
Go Serf 0.9.4 (``benchmarks/fuzz/corpus.py``: empty query filters, key queries with an empty
payload, framing and version attacks), a relay wrapping one of them, a fuzz-invented member
whose address is empty or not an IP, and a few hundred mutated real packets. Gossip runs on
for a few seconds; the Go agent must still run and both must still see each other alive. The
pyserf agent counts what it refused by reason on its metrics endpoint.
"""

from __future__ import annotations

import random
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
from serf_proto.wire import MessageRelay, encode_serf_message

from benchmarks.fuzz.corpus import ALIVE_TYPE, USER_TYPE, hostile_inputs, load_seeds, mutate
from tests.agent.agentproc import AgentProcess, free_port, wait_until

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

PACKETS = [s for s in hostile_inputs() if s.channel == "packet"]
QUERY_POISON = [s for s in PACKETS if "query" in s.name]


def _alive(name: str, addr: bytes, incarnation: int = 1) -> bytes:
    body = {
        "Incarnation": incarnation,
        "Node": name,
        "Addr": addr,
        "Port": 7946,
        "Meta": b"",
        "Vsn": bytes([1, 5, 2, 2, 5, 4]),
    }
    return bytes([ALIVE_TYPE]) + bytes(msgpack.packb(body, use_bin_type=True))


def _dropped(http_port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, int] = {}
    for m in re.finditer(
        r'^serf_packets_dropped_total\{[^}]*reason="([^"]+)"[^}]*\} (\S+)$', text, re.M
    ):
        out[m.group(1)] = out.get(m.group(1), 0) + int(float(m.group(2)))
    return out


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[AgentProcess, AgentProcess, int]]:
    http_port = free_port()
    py = AgentProcess(tmp_path, "py", "-profile=local", f"-http-addr=127.0.0.1:{http_port}")
    go = AgentProcess(tmp_path, "go", "-profile=local", go=True)
    try:
        py.start()
        go.extra.append(f"-join={py.bind_addr}")
        go.start()
        wait_until(lambda: py.member_status("go") == "alive", 30, "the Go agent to join")
        yield py, go, http_port
    finally:
        go.stop()
        py.stop()


def _gossip_for(seconds: float, go: AgentProcess) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert not go.exited(), "the Go peer died:\n" + go.output()[-3000:]
        time.sleep(0.1)


def test_go_crashing_input_sent_to_a_pyserf_agent_never_reaches_its_go_peer(
    pair: tuple[AgentProcess, AgentProcess, int],
) -> None:
    py, go, http_port = pair
    target = ("127.0.0.1", py.bind_port)
    go_port = go.bind_port
    relay = MessageRelay(bytes([127, 0, 0, 1]), go_port, "go", QUERY_POISON[0].data[1:])
    rng = random.Random(1)
    pool = [s.data for s in load_seeds() if s.channel == "packet"] + [s.data for s in PACKETS]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for sample in PACKETS:
            udp.sendto(sample.data, target)
        udp.sendto(bytes([USER_TYPE]) + encode_serf_message(relay), target)
        # Fuzz-invented members the binding cannot send to.
        udp.sendto(_alive("ghost-empty", b""), target)
        udp.sendto(_alive("ghost-short", b"\x01\x02\x03"), target)
        for _ in range(300):
            udp.sendto(mutate(rng.choice(pool), rng, splice_from=pool), target)
            time.sleep(0.002)
    _gossip_for(5.0, go)
    assert py.member_status("go") == "alive"
    assert go.member_status("py") == "alive"
    dropped = _dropped(http_port)
    assert dropped.get("bad_key_query", 0) >= 3, dropped
    assert dropped.get("bad_query_filter", 0) >= 1, dropped
    assert dropped.get("bad_relay_message", 0) >= 1, dropped
    assert "Traceback" not in py.stderr() + py.output()
