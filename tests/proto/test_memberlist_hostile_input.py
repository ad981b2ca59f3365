"""Whatever bytes arrive, the membership core drops and counts them instead of raising."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from serf_proto.config import MemberlistConfig
from serf_proto.memberlist import Memberlist
from serf_proto.outputs import CloseStream
from serf_proto.sim.script import ScriptedPeer
from serf_proto.types import Address
from serf_proto.wire.framing import add_crc, make_compound, make_compressed
from serf_proto.wire.messages import PushNodeState, encode_message

PEER = ScriptedPeer("p1", Address("10.0.1.1", 7946))


def node() -> Memberlist:
    rng = random.Random(1)
    config = MemberlistConfig.lan("me", bind_addr="10.0.0.1")
    ml = Memberlist(config, None, now=0.0, rng=rng, entropy=rng.randbytes)
    ml.receive_packet(PEER.addr, PEER.packet(PEER.alive()), 0.0)
    ml.take_outputs()
    return ml


VALID = [
    encode_message(PEER.ping(1, "me")),
    encode_message(PEER.alive(2)),
    encode_message(PEER.suspect("me", 1)),
    encode_message(PEER.indirect_ping(3, PEER)),
    add_crc(encode_message(PEER.ack(4))),
    make_compressed(
        make_compound([encode_message(PEER.nack(5)), encode_message(PEER.dead("x", 1))])
    ),
]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_random_datagrams_never_raise(data: bytes) -> None:
    ml = node()
    ml.receive_packet(PEER.addr, data, 1.0)
    ml.handle_timer(5.0)
    ml.take_outputs()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.sampled_from(VALID), st.integers(0, 400), st.integers(0, 255))
def test_corrupted_valid_datagrams_never_raise(packet: bytes, index: int, value: int) -> None:
    ml = node()
    corrupted = bytearray(packet)
    corrupted[index % len(corrupted)] = value
    ml.receive_packet(PEER.addr, bytes(corrupted[: index % (len(corrupted) + 1) or None]), 1.0)
    ml.take_outputs()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.binary(max_size=80), max_size=4))
def test_random_stream_bytes_never_raise(chunks: list[bytes]) -> None:
    ml = node()
    sid = ml.accept_stream(PEER.addr, 1.0)
    for chunk in [*chunks, b""]:
        ml.receive_stream_data(sid, chunk, 1.0)
    ml.handle_timer(20.0)
    ml.take_outputs()


def test_a_push_pull_announcing_more_state_than_it_carries_times_out_cleanly() -> None:
    ml = node()
    sid = ml.accept_stream(PEER.addr, 1.0)
    state = PushNodeState("x", b"\x0a\x00\x00\x09", 7946, b"", 1, 0, PEER.vsn)
    whole = encode_message(PEER.push_pull(False, [state], user=b"u" * 100))
    ml.receive_stream_data(sid, whole[:-50], 1.0)
    assert ml.take_outputs() == []
    ml.handle_timer(1.0 + ml.config.tcp_timeout)
    closes = [o.sid for o in ml.take_outputs() if isinstance(o, CloseStream)]
    assert closes == [sid]
    assert ml.node("x") is None
