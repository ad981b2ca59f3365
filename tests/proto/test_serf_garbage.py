"""Remote garbage never raises out of a SerfNode: it is dropped and counted."""

from __future__ import annotations

import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from serf_proto.config import MemberlistConfig
from serf_proto.serf import SerfConfig, SerfNode, SerfState
from serf_proto.types import Address

VECTORS = Path(__file__).parent / "vectors" / "serf"
SEEDS = [
    bytes.fromhex((VECTORS / name).read_text().strip())
    for name in (
        "user_event.hex",
        "query.hex",
        "query_filter_multi.hex",
        "relay_query_response.hex",
        "leave_intent.hex",
        "join_intent.hex",
        "query_ack.hex",
        "pushpull_state_events_left.hex",
    )
]
PEER = Address("127.0.0.1", 18946)


def _node() -> SerfNode:
    ml = MemberlistConfig.lan("b", bind_addr="127.0.0.1", bind_port=18947)
    return SerfNode(SerfConfig(memberlist=ml), now=0.0, rng=random.Random(1))


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut])


@settings(max_examples=300, deadline=None)
@given(st.one_of(_mutated(), st.binary(max_size=200)))
def test_mutated_serf_messages_are_dropped_without_raising(data: bytes) -> None:
    node = _node()
    node.receive_packet(PEER, b"\x08" + data, 1.0)
    node.memberlist.delegate.merge_remote_state(data, False, 0.0)
    node.handle_timer(2.0)
    node.take_outputs()
    assert node.state is SerfState.ALIVE
