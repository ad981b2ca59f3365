"""Property tests: every message type survives encode → decode, and mangled input of any kind
raises only DecodeError."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serf_proto.errors import DecodeError
from serf_proto.wire import (
    Ack,
    Alive,
    Coordinate,
    Dead,
    ErrResp,
    EventRecord,
    EventSlot,
    IndirectPing,
    Keyring,
    MemberInfo,
    Message,
    MessageConflictResponse,
    MessageJoin,
    MessageKeyRequest,
    MessageKeyResponse,
    MessageLeave,
    MessagePushPull,
    MessageQuery,
    MessageQueryResponse,
    MessageRelay,
    MessageUserEvent,
    Nack,
    NodeFilter,
    Ping,
    PushNodeState,
    PushPull,
    SerfMessage,
    StreamDecoder,
    Suspect,
    TagFilter,
    UserMsg,
    decode_ack_payload,
    decode_filter,
    decode_message,
    decode_packet,
    decode_serf_message,
    decode_stream_message,
    decode_tags,
    encode_ack_payload,
    encode_filter,
    encode_message,
    encode_serf_message,
    encode_stream_message,
    encode_tags,
)
from serf_proto.wire.dissect import dissect, render_text

VECTORS = Path(__file__).parent / "vectors"
#: Same examples on every run: the suite must be deterministic.
DETERMINISTIC = settings(derandomize=True, deadline=None)
KEY = bytes.fromhex("0c8b8ae7cdc53b1b9196aec109fec658fb897eaf9ba687b7ebc0b7911e6abd95")

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 0xFFFFFFFFFFFFFFFF)
i64 = st.integers(-(1 << 63), (1 << 63) - 1)
names = st.text(max_size=40)
ips = st.sampled_from([b"", b"\x7f\x00\x00\x01", b"\x0a\x00\x00\x05", bytes(range(16))])
blobs = st.binary(max_size=300)
vsns = st.binary(min_size=6, max_size=6)
metas = st.binary(max_size=512)

pings = st.builds(Ping, u32, names, ips, u16, names)
indirect_pings = st.builds(IndirectPing, u32, ips, u16, names, st.booleans(), ips, u16, names)
acks = st.builds(Ack, u32, blobs)
nacks = st.builds(Nack, u32)
suspects = st.builds(Suspect, u32, names, names)
alives = st.builds(Alive, u32, names, ips, u16, metas, vsns)
deads = st.builds(Dead, u32, names, names)
node_states = st.builds(PushNodeState, names, ips, u16, metas, u32, st.integers(0, 3), vsns)
push_pulls = st.builds(PushPull, st.booleans(), st.lists(node_states, max_size=5).map(tuple), blobs)
users = st.builds(UserMsg, blobs)
errs = st.builds(ErrResp, names)
packet_messages: st.SearchStrategy[Message] = st.one_of(
    pings, indirect_pings, acks, nacks, suspects, alives, deads, users, errs
)
stream_messages: st.SearchStrategy[Message] = st.one_of(
    pings, acks, push_pulls, users, errs, alives
)

slots = st.none() | st.builds(
    EventSlot, u64, st.lists(st.builds(EventRecord, names, blobs), max_size=3).map(tuple)
)
serf_messages: st.SearchStrategy[SerfMessage] = st.one_of(
    st.builds(MessageLeave, u64, names, st.booleans()),
    st.builds(MessageJoin, u64, names),
    st.builds(
        MessagePushPull,
        u64,
        st.dictionaries(names, u64, max_size=5),
        st.lists(names, max_size=3).map(tuple),
        u64,
        st.lists(slots, max_size=8).map(tuple),
        u64,
    ),
    st.builds(MessageUserEvent, u64, names, blobs, st.booleans()),
    st.builds(
        MessageQuery,
        u64,
        u32,
        ips,
        u16,
        names,
        st.lists(st.binary(max_size=20), max_size=3).map(tuple),
        u32,
        u8,
        i64,
        names,
        blobs,
    ),
    st.builds(MessageQueryResponse, u64, u32, names, u32, blobs),
    st.builds(
        MessageConflictResponse,
        st.none()
        | st.builds(
            MemberInfo,
            names,
            ips,
            u16,
            st.dictionaries(names, names, max_size=4),
            st.integers(0, 4),
            u8,
            u8,
            u8,
            u8,
            u8,
            u8,
        ),
    ),
    st.builds(MessageKeyRequest, st.binary(max_size=32)),
    st.builds(
        MessageKeyResponse, st.booleans(), names, st.none() | st.lists(names).map(tuple), names
    ),
    st.builds(MessageRelay, ips, u16, names, blobs, names),
)


@DETERMINISTIC
@given(packet_messages)
def test_every_packet_message_decodes_to_itself(msg: Message) -> None:
    assert decode_message(encode_message(msg)) == msg


@DETERMINISTIC
@given(stream_messages)
def test_every_stream_message_decodes_to_itself(msg: Message) -> None:
    data = encode_stream_message(msg)
    assert decode_stream_message(data) == msg
    decoder = StreamDecoder()
    got = [m for i in range(len(data)) for m in decoder.feed(data[i : i + 1])]
    assert got == [msg]


@DETERMINISTIC
@given(serf_messages)
def test_every_serf_message_decodes_to_itself(msg: SerfMessage) -> None:
    assert decode_serf_message(encode_serf_message(msg)) == msg


@DETERMINISTIC
@given(
    st.one_of(st.builds(NodeFilter, st.lists(names).map(tuple)), st.builds(TagFilter, names, names))
)
def test_query_filters_decode_to_themselves(f: NodeFilter | TagFilter) -> None:
    assert decode_filter(encode_filter(f)) == f


@DETERMINISTIC
@given(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=8))
def test_tags_decode_to_themselves(tags: dict[str, str]) -> None:
    assert decode_tags(encode_tags(tags)) == tags


finite = st.floats(allow_nan=False, allow_infinity=False)


@DETERMINISTIC
@given(
    st.builds(
        Coordinate, st.lists(finite, min_size=8, max_size=8).map(tuple), finite, finite, finite
    )
)
def test_coordinates_in_ack_payloads_decode_to_themselves(c: Coordinate) -> None:
    assert decode_ack_payload(encode_ack_payload(c)) == c


# ---------------------------------------------------------------------------------------------
# mutated input raises only DecodeError


def _vectors() -> list[bytes]:
    return [
        bytes.fromhex(p.read_text().strip())
        for p in sorted(VECTORS.glob("*/*.hex"))
        if p.stat().st_size < 2000
    ]


CORPUS = _vectors()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "insert"]))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif op == "splice":
            other = draw(st.sampled_from(CORPUS))
            a = draw(st.integers(0, len(data)))
            b = draw(st.integers(0, len(other)))
            data[a:] = other[b:]
        else:
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def only_decode_errors(fn: Callable[[bytes], object], data: bytes) -> None:
    """Run ``fn``; a DecodeError is an accepted outcome, any other exception fails the test."""
    with contextlib.suppress(DecodeError):
        fn(data)


FUZZ = settings(
    max_examples=1500,
    suppress_health_check=[HealthCheck.too_slow],
    deadline=None,
    derandomize=True,
)


@FUZZ
@given(mutated())
def test_mutated_vectors_only_ever_raise_decode_error(data: bytes) -> None:
    keyring = Keyring([KEY])
    for decode in (
        decode_message,
        decode_stream_message,
        decode_serf_message,
        decode_tags,
        decode_ack_payload,
        decode_filter,
        decode_packet,
        lambda d: decode_packet(d, keyring=keyring),
        lambda d: decode_packet(d, keyring=keyring, verify_incoming=False),
    ):
        only_decode_errors(decode, data)
    decoder = StreamDecoder()
    only_decode_errors(lambda d: decoder.feed(d) + decoder.feed(b""), data)
    encrypted = StreamDecoder(keyring=keyring)
    only_decode_errors(lambda d: encrypted.feed(d) + encrypted.feed(b""), data)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_decode_error(data: bytes) -> None:
    for decode in (decode_message, decode_stream_message, decode_serf_message, decode_packet):
        only_decode_errors(decode, data)
    only_decode_errors(
        lambda d: decode_packet(b"\x09" + msgpack.packb({"Algo": 0, "Buf": d})), data
    )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(mutated())
def test_the_dissector_reports_mutated_input_without_crashing(data: bytes) -> None:
    for kind in ("packet", "stream", "auto"):
        got_kind, layers = dissect(data, [KEY], kind=kind)
        assert got_kind in ("packet", "stream")
        assert render_text(got_kind, layers).startswith(got_kind)
        assert json.loads(json.dumps(layers)) == layers
