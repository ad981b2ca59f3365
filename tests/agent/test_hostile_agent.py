"""A running agent under hostile input on its gossip (UDP and TCP) and RPC ports.

Every input that crashes or exhausts Go Serf 0.9.4 (see ``benchmarks/fuzz/corpus.py``) and a few
thousand mutated real packets and streams are sent to one of two joined agents. Afterwards both
agents still run, still see each other alive, still answer RPC, and the attacked one counts the
inputs it dropped (``serf_packets_dropped_total`` on its metrics endpoint).
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.fuzz.corpus import Sample, chunked, hostile_inputs, load_seeds, mutate
from tests.agent.agentproc import AgentProcess, free_port, wait_until

# Go's serf CLI is the RPC client that checks the agents.
pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

HOSTILE = hostile_inputs()
SEEDS = load_seeds()


def _dropped_total(http_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(
        int(float(m.group(1)))
        for m in re.finditer(r"^serf_packets_dropped_total\{[^}]*\} (\S+)$", text, re.M)
    )


def _send_stream(port: int, data: bytes, *, chunks: list[bytes] | None = None) -> None:
    """Connect, send `data` (optionally in chunks), half-close, read until the agent closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        try:
            for chunk in chunks or [data]:
                conn.sendall(chunk)
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(5)
            while conn.recv(65536):
                pass
        except OSError:
            pass  # the agent closed or reset the connection first: that is its right


def _send(agent: AgentProcess, sample: Sample, udp: socket.socket) -> None:
    if sample.channel == "packet":
        udp.sendto(sample.data, ("127.0.0.1", agent.bind_port))
    elif sample.channel == "stream":
        _send_stream(agent.bind_port, sample.data)
    else:
        _send_stream(agent.rpc_port, sample.data)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[AgentProcess, AgentProcess, int]]:
    """Two of our agents joined together; the first serves metrics on the returned port."""
    http_port = free_port()
    target = AgentProcess(tmp_path, "target", f"-http-addr=127.0.0.1:{http_port}")
    peer = AgentProcess(tmp_path, "peer")
    try:
        target.start()
        peer.extra.append(f"-join={target.bind_addr}")
        peer.start()
        wait_until(lambda: target.member_status("peer") == "alive", what="the pair to join")
        yield target, peer, http_port
    finally:
        peer.stop()
        target.stop()


def _healthy(target: AgentProcess, peer: AgentProcess) -> None:
    assert not target.exited(), target.output()[-3000:] + target.stderr()[-3000:]
    assert not peer.exited(), peer.output()[-3000:] + peer.stderr()[-3000:]
    wait_until(
        lambda: target.member_status("peer") == "alive" and peer.member_status("target") == "alive",
        what="both agents to still see each other alive",
    )


def test_every_go_killing_input_is_survived_and_counted(
    pair: tuple[AgentProcess, AgentProcess, int],
) -> None:
    target, peer, http_port = pair
    before = _dropped_total(http_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for sample in HOSTILE:
            _send(target, sample, udp)
    framing = [s for s in HOSTILE if s.channel == "packet" and "query" not in s.name]
    wait_until(
        lambda: _dropped_total(http_port) >= before + len(framing),
        what=f"{len(framing)} hostile packets to be counted as dropped",
    )
    _healthy(target, peer)
    assert target.serf("event", "still-works", "x").returncode == 0


def test_thousands_of_mutated_real_packets_and_streams_leave_the_agent_healthy(
    pair: tuple[AgentProcess, AgentProcess, int],
) -> None:
    target, peer, http_port = pair
    rng = random.Random(11)
    packets = [s.data for s in SEEDS + HOSTILE if s.channel == "packet"]
    streams = [s.data for s in SEEDS + HOSTILE if s.channel == "stream"]
    before = _dropped_total(http_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for i in range(3000):
            data = mutate(rng.choice(packets), rng, splice_from=packets)
            with contextlib.suppress(OSError):
                udp.sendto(data[:65507], ("127.0.0.1", target.bind_port))
            if i % 100 == 0:
                time.sleep(0.01)  # pace the burst so the kernel buffer does not drop it all
    for _ in range(150):
        data = mutate(rng.choice(streams), rng, splice_from=streams)
        _send_stream(target.bind_port, data, chunks=chunked(data, rng))
    wait_until(
        lambda: _dropped_total(http_port) > before + 500,
        what="the mutated packets to be counted as dropped",
    )
    _healthy(target, peer)


def test_rpc_port_survives_hostile_and_truncated_requests(
    pair: tuple[AgentProcess, AgentProcess, int],
) -> None:
    target, peer, _ = pair
    rng = random.Random(5)
    rpc = [s.data for s in HOSTILE if s.channel == "rpc"]
    for data in rpc:
        _send_stream(target.rpc_port, data)
    handshake = b"\x82\xa7Command\xa9handshake\xa3Seq\x00\x81\xa7Version\x01"
    for _ in range(200):
        data = mutate(handshake + rng.choice(rpc), rng)
        _send_stream(target.rpc_port, data, chunks=chunked(data, rng))
    _healthy(target, peer)
