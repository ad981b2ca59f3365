"""The node and the codec share one pipeline: streams are decoded incrementally per stream, the
node's label and drop rules are the pipeline's, and a trace reports the layers it peeled."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest
from serf_proto.config import MemberlistConfig
from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError, LabelMismatch, MalformedMessage
from serf_proto.memberlist import Memberlist
from serf_proto.outputs import CloseStream, SendStream
from serf_proto.types import Address
from serf_proto.wire import (
    Keyring,
    Peeled,
    Ping,
    PushNodeState,
    PushPull,
    StreamDecoder,
    Suspect,
    decode_packet,
    encode_message,
    encode_packet,
    encode_stream,
    encode_tags,
    explode_packet,
    open_packet,
)
from serf_proto.wire.framing import make_compound, make_compressed
from serf_proto.wire.limits import MAX_NESTING

PEER = Address("10.0.1.1", 7946)
KEY = bytes(range(32))
VSN = bytes([1, 5, 2, 0, 0, 0])


def node(**overrides: object) -> Memberlist:
    rng = random.Random(1)
    config = replace(MemberlistConfig.lan("me", bind_addr="10.0.0.1"), **overrides)
    return Memberlist(config, None, now=0.0, rng=rng, entropy=rng.randbytes)


def big_push_pull(n: int) -> PushPull:
    states = tuple(
        PushNodeState(f"n{i}", bytes((10, 1, i >> 8, i & 255)), 7946, encode_tags({}), 1, 0, VSN)
        for i in range(n)
    )
    return PushPull(False, states, b"")


def feed(ml: Memberlist, data: bytes, size: int) -> int:
    sid = ml.accept_stream(PEER, 0.0)
    for i in range(0, len(data), size):
        ml.receive_stream_data(sid, data[i : i + size], 0.0)
    return sid


@pytest.mark.parametrize("compress", [False, True])
def test_a_push_pull_in_small_reads_merges_as_in_one_read(compress: bool) -> None:
    data = encode_stream(big_push_pull(300), compress=compress)
    whole, chunked = node(), node()
    feed(whole, data, len(data))
    sid = feed(chunked, data, 7)
    assert chunked.num_members() == whole.num_members() == 301
    outputs = chunked.take_outputs()
    assert any(isinstance(o, SendStream) and o.sid == sid for o in outputs)  # our reply
    assert CloseStream(sid) in outputs


@pytest.mark.parametrize("size", [7, 997, 65536 + 3])
def test_a_push_pull_larger_than_the_decoders_trim_step_decodes_in_any_read_size(size: int) -> None:
    msg = big_push_pull(3000)
    data = encode_stream(msg)
    assert len(data) > 2 * 65536  # the decoder drops parsed bytes in 64 KiB steps
    decoder = StreamDecoder(single_message=True)
    got = []
    for i in range(0, len(data), size):
        got += decoder.feed(data[i : i + size])
    assert got == [msg]


def test_the_stream_record_keeps_one_decoder_that_holds_only_the_unparsed_tail() -> None:
    data = encode_stream(big_push_pull(300))
    ml = node()
    sid = ml.accept_stream(PEER, 0.0)
    ml.receive_stream_data(sid, data[:5000], 0.0)
    decoder = ml._streams.session(sid).decoder  # type: ignore[union-attr]
    assert isinstance(decoder, StreamDecoder)
    ml.receive_stream_data(sid, data[5000:9000], 0.0)
    assert ml._streams.session(sid).decoder is decoder  # type: ignore[union-attr]
    assert 8000 < decoder.consumed <= 9000  # parsed as far as the entries are whole


def test_bytes_after_the_one_message_of_a_stream_are_ignored() -> None:
    decoder = StreamDecoder(single_message=True)
    ping = encode_message(Ping(1, "me"))
    assert decoder.feed(ping + b"\xff garbage") == [Ping(1, "me")]
    assert decoder.feed(b"more") == []
    with pytest.raises(DecodeError):
        StreamDecoder().feed(ping + b"\xff garbage")


def test_skip_inbound_label_check_refuses_a_stream_that_still_carries_a_label() -> None:
    ml = node(label="dc1", skip_inbound_label_check=True)
    feed(ml, encode_stream(Ping(1, "me"), label=b"dc1", send_label_header=True), 1000)
    assert ml.stats.dropped[DropReason.LABEL_MISMATCH] == 1
    ml = node(label="dc1", skip_inbound_label_check=True)
    feed(ml, encode_stream(Ping(1, "me")), 1000)
    assert ml.stats.dropped[DropReason.LABEL_MISMATCH] == 0


def test_truncated_and_empty_compound_parts_are_counted_where_the_caller_says() -> None:
    ping = encode_message(Ping(1, "me"))
    data = make_compound([ping, b""])
    truncated = bytes((7, 2, 0, len(ping), 0, 200)) + ping + b"\x00"
    drops: Counter[str] = Counter()
    assert explode_packet(data, drops=drops) == [ping]
    assert explode_packet(truncated, drops=drops) == [ping]
    assert drops == Counter({"empty_compound_part": 1, "truncated_compound_part": 1})
    decoded = decode_packet(truncated)
    assert [str(e) for e in decoded.errors] == ["Compound request had 1 truncated messages"]


def test_wrappers_nest_max_nesting_levels_below_the_outermost_one() -> None:
    ping = encode_message(Ping(1, "me"))
    data = ping
    for _ in range(MAX_NESTING + 1):
        data = make_compound([data])
    assert explode_packet(data) == [ping]
    with pytest.raises(MalformedMessage, match="nested too deeply"):
        explode_packet(make_compressed(data))


def test_a_nested_wrapper_that_fails_refuses_the_whole_packet_as_the_node_does() -> None:
    ping = encode_message(Ping(1, "me"))
    bad = make_compound([ping, b"\x09\x80"])  # a compress part with an empty map
    with pytest.raises(DecodeError):
        decode_packet(bad)
    ml = node()
    ml.receive_packet(PEER, bad, 0.0)
    assert ml.stats.messages_in == 0 and sum(ml.stats.dropped.values()) == 1


def test_the_trace_names_every_layer_the_packet_pipeline_peeled() -> None:
    ring = Keyring([KEY])
    data = encode_packet(
        [Ping(1, "b"), Suspect(1, "c", "a")],
        crc=True,
        keyring=ring,
        label=b"dc1",
        entropy=random.Random(2).randbytes,
    )
    trace: list[Peeled] = []
    plain = open_packet(data, keyring=ring, label=b"dc1", trace=trace)
    parts = explode_packet(plain, trace=trace, depth=len(trace))
    assert [(p.kind, p.depth) for p in trace] == [
        ("label", 0),
        ("encrypted", 1),
        ("hasCrc", 2),
        ("compound", 3),
        ("message", 4),
        ("message", 4),
    ]
    assert trace[0].info == {"label": "dc1"}
    assert trace[1].info["keyIndex"] == 0 and trace[1].info["version"] == 1
    assert [p.data for p in trace[-2:]] == parts
    failed: list[Peeled] = []
    with pytest.raises(LabelMismatch):
        open_packet(data, keyring=ring, label=b"dc2", trace=failed)
    assert failed[0].kind == "label" and "label mismatch" in failed[0].info["error"]


def test_the_trace_names_every_layer_the_stream_decoder_peeled() -> None:
    ring = Keyring([bytes(16), KEY])
    data = encode_stream(
        Ping(1, "me"),
        compress=True,
        keyring=Keyring([KEY]),
        label=b"dc1",
        send_label_header=True,
        entropy=random.Random(3).randbytes,
    )
    trace: list[Peeled] = []
    decoder = StreamDecoder(keyring=ring, label=None, single_message=True, trace=trace)
    assert decoder.feed(data) == [Ping(1, "me")]
    assert [(p.kind, p.depth) for p in trace] == [
        ("label", 0),
        ("encrypt", 0),
        ("compress", 1),
        ("message", 2),
    ]
    assert trace[1].info["keyIndex"] == 1
    assert trace[3].data == encode_message(Ping(1, "me"))


def test_this_tier_fails_a_test_that_opens_a_socket() -> None:
    import socket

    from tests.conftest import SocketOpenedError

    with pytest.raises(SocketOpenedError):
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with pytest.raises(SocketOpenedError):
        socket.create_connection(("127.0.0.1", 9))
