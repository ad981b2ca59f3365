"""Golden vectors captured from Go Serf 0.9.4 / memberlist 0.2.2 decode to their documented
fields and re-encode byte for byte (encrypted ones re-sealed with the nonce they carry)."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from serf_proto.wire import (
    Ack,
    Coordinate,
    EventRecord,
    EventSlot,
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
    NodeFilter,
    Ping,
    PushPull,
    SerfMessage,
    StreamDecoder,
    TagFilter,
    UserMsg,
    decode_ack_payload,
    decode_filter,
    decode_filters,
    decode_message,
    decode_packet,
    decode_serf_message,
    decode_stream,
    decode_stream_message,
    decode_tags,
    encode_ack_payload,
    encode_filter,
    encode_message,
    encode_serf_message,
    encode_stream_message,
    encode_tags,
    make_compound,
    make_compressed,
    open_compressed,
    split_compound,
)
from serf_proto.wire.dissect import dissect
from serf_proto.wire.framing import add_crc, strip_crc
from serf_proto.wire.keyring import seal

VECTORS = Path(__file__).parent / "vectors"
MANIFEST = json.loads((VECTORS / "memberlist" / "manifest.json").read_text())
LOCALHOST = b"\x7f\x00\x00\x01"


def hex_vector(path: Path) -> bytes:
    return bytes.fromhex(path.read_text().strip())


def key_of(entry: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(entry["key"])] if entry["key"] else []


def ids(entry: dict[str, Any]) -> str:
    return str(entry["file"]).removesuffix(".hex")


# ---------------------------------------------------------------------------------------------
# memberlist vectors


def matches(expected: Any, actual: Any) -> bool:
    """Every key the manifest documents is present in ``actual`` with the same value."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and matches(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


@pytest.mark.parametrize("entry", MANIFEST, ids=ids)
def test_the_dissector_finds_every_documented_layer(entry: dict[str, Any]) -> None:
    data = hex_vector(VECTORS / "memberlist" / entry["file"])
    assert len(data) == entry["len"]
    kind, layers = dissect(data, key_of(entry), kind=entry["kind"])
    assert kind == entry["kind"]
    assert len(layers) == len(entry["decoded"])
    for expected, actual in zip(entry["decoded"], layers, strict=True):
        assert matches(expected, actual), (expected, actual)


GO_FIELDS = {
    "SeqNo": "seq_no",
    "Node": "node",
    "SourceAddr": "source_addr",
    "SourcePort": "source_port",
    "SourceNode": "source_node",
    "Target": "target",
    "Port": "port",
    "Nack": "nack",
    "Payload": "payload",
    "Incarnation": "incarnation",
    "From": "from_node",
    "Addr": "addr",
    "Meta": "meta",
    "Vsn": "vsn",
    "Name": "name",
    "State": "state",
    "Error": "error",
}


def typed_value(value: Any) -> Any:
    if value is None:
        return b""
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:])
    return value


def messages_of(entry: dict[str, Any]) -> list[Message]:
    data = hex_vector(VECTORS / "memberlist" / entry["file"])
    keyring = Keyring(key_of(entry)) if entry["key"] else None
    if entry["kind"] == "packet":
        decoded = decode_packet(data, keyring=keyring)
        assert decoded.errors == []
        return decoded.messages
    return decode_stream(data, keyring=keyring)


@pytest.mark.parametrize("entry", MANIFEST, ids=ids)
def test_typed_messages_carry_the_documented_fields(entry: dict[str, Any]) -> None:
    messages = messages_of(entry)
    layers = [
        layer
        for layer in entry["decoded"]
        if layer["type"] not in ("hasCrc", "compound", "compress", "encrypted", "encrypt")
    ]
    if entry["kind"] == "stream" and layers[0]["type"] == "pushPull":
        (msg,) = messages
        assert isinstance(msg, PushPull)
        assert msg.join == layers[0]["header"]["Join"]
        assert len(msg.states) == layers[0]["header"]["Nodes"]
        assert len(msg.user_state) == layers[0]["header"]["UserStateLen"]
        for state, layer in zip(msg.states, layers[1:-1], strict=True):
            for go_name, value in layer["fields"].items():
                assert getattr(state, GO_FIELDS[go_name]) == typed_value(value)
        return
    assert len(messages) == len(layers)
    for msg, layer in zip(messages, layers, strict=True):
        if layer["type"] == "user":
            assert isinstance(msg, UserMsg)
            serf = decode_serf_message(msg.payload)
            assert serf == MessageJoin(
                layer["serf"]["body"]["LTime"], layer["serf"]["body"]["Node"]
            )
            continue
        for go_name, value in layer["fields"].items():
            assert getattr(msg, GO_FIELDS[go_name]) == typed_value(value), go_name


def rebuild_command(data: bytes) -> bytes:
    """Decode a packet-level command and encode it again from the typed values."""
    if data[0] == 7:
        return make_compound([rebuild_command(p) for p in split_compound(data).parts])
    if data[0] == 9:
        return make_compressed(rebuild_command(open_compressed(data)))
    return encode_message(decode_message(data))


def rebuild_stream_body(data: bytes) -> bytes:
    if data[0] == 9:
        return make_compressed(encode_stream_message(decode_stream_message(open_compressed(data))))
    return encode_stream_message(decode_stream_message(data))


@pytest.mark.parametrize("entry", MANIFEST, ids=ids)
def test_each_vector_re_encodes_byte_for_byte(entry: dict[str, Any]) -> None:
    data = hex_vector(VECTORS / "memberlist" / entry["file"])
    keys = key_of(entry)
    if entry["kind"] == "packet":
        body = data
        if keys:
            body = Keyring(keys).decrypt(data)
        inner = bytes(strip_crc(body)) if body[0] == 12 else body
        rebuilt = rebuild_command(inner)
        if body[0] == 12:
            rebuilt = add_crc(rebuilt)
        if keys:
            rebuilt = seal(AESGCM(keys[0]), data[0], data[1:13], rebuilt, b"")
    else:
        if keys:
            header, blob = data[:5], data[5:]
            plain = Keyring(keys).decrypt(blob, header)
            rebuilt = header + seal(
                AESGCM(keys[0]), blob[0], blob[1:13], rebuild_stream_body(plain), header
            )
        else:
            rebuilt = rebuild_stream_body(data)
    assert rebuilt == data


STREAMS = [e for e in MANIFEST if e["kind"] == "stream"]


@pytest.mark.parametrize("entry", STREAMS, ids=ids)
def test_the_stream_decoder_gives_the_same_messages_for_any_read_sizes(
    entry: dict[str, Any],
) -> None:
    data = hex_vector(VECTORS / "memberlist" / entry["file"])
    keyring = Keyring(key_of(entry)) if entry["key"] else None
    whole = decode_stream(data, keyring=keyring)
    byte_by_byte = StreamDecoder(keyring=keyring)
    got: list[Message] = []
    for i in range(len(data)):
        got += byte_by_byte.feed(data[i : i + 1])
    got += byte_by_byte.feed(b"")
    assert got == whole
    rng = random.Random(entry["file"])
    chunked = StreamDecoder(keyring=keyring)
    got, pos = [], 0
    while pos < len(data):
        step = rng.randint(1, 64)
        got += chunked.feed(data[pos : pos + step])
        pos += step
    assert got == whole and chunked.idle


def test_an_encrypted_vector_is_refused_without_its_key() -> None:
    entry = next(e for e in MANIFEST if e["file"].startswith("16_"))
    data = hex_vector(VECTORS / "memberlist" / entry["file"])
    other = Keyring([b"\x01" * 32])
    with pytest.raises(Exception) as info:
        decode_packet(data, keyring=other)
    assert info.type.__name__ == "DecryptionFailed"


# ---------------------------------------------------------------------------------------------
# Serf vectors

SERF_MESSAGES: dict[str, SerfMessage] = {
    "join_intent": MessageJoin(1, "b"),
    "leave_intent": MessageLeave(4, "b", False),
    "force_leave": MessageLeave(4, "d", False),
    "force_leave_prune": MessageLeave(5, "d", True),
    "user_event": MessageUserEvent(1, "deploy", b"v1-payload", True),
    "user_event_nocoalesce": MessageUserEvent(2, "restart", b"now", False),
    "user_event_nil_payload": MessageUserEvent(3, "ping-evt", b"", True),
    "user_event_str16_payload": MessageUserEvent(1, "big-evt", b"0123456789" * 4, True),
    "query": MessageQuery(
        1, 1043494331, LOCALHOST, 18946, "a", (), 1, 0, 2_000_000_000, "uptime", b"q1"
    ),
    "query_filter_node": MessageQuery(
        2,
        590192575,
        LOCALHOST,
        18946,
        "a",
        (b"\x00\x91\xa1b",),
        1,
        0,
        2_000_000_000,
        "nodeq",
        b"q2",
    ),
    "query_filter_tag": MessageQuery(
        3,
        1429081072,
        LOCALHOST,
        18946,
        "a",
        (encode_filter(TagFilter("role", "web")),),
        1,
        0,
        2_000_000_000,
        "tagq",
        b"q3",
    ),
    "query_filter_multi": MessageQuery(
        4,
        1213005477,
        LOCALHOST,
        18946,
        "a",
        (encode_filter(NodeFilter(("b", "c"))), encode_filter(TagFilter("role", "w.b"))),
        1,
        0,
        2_000_000_000,
        "multiq",
        b"q5",
    ),
    "query_relay": MessageQuery(
        5, 1505159522, LOCALHOST, 18946, "a", (), 1, 1, 2_000_000_000, "relayq", b"q4"
    ),
    "query_noack_default_timeout": MessageQuery(
        6, 554463523, LOCALHOST, 18946, "a", (), 0, 0, 3_200_000_000, "noackq", b""
    ),
    "query_serf_ping": MessageQuery(
        7, 2069729909, LOCALHOST, 18946, "a", (), 1, 0, 3_200_000_000, "_serf_ping"
    ),
    "query_conflict": MessageQuery(
        1, 82056277, LOCALHOST, 18950, "c", (), 0, 0, 3_200_000_000, "_serf_conflict", b"c"
    ),
    "query_install_key": MessageQuery(
        9,
        1726425386,
        LOCALHOST,
        18946,
        "a",
        (),
        0,
        0,
        3_200_000_000,
        "_serf_install-key",
        encode_serf_message(
            MessageKeyRequest(
                bytes.fromhex("1ef63cb9b45932069f50e5aface69dc0e72455ad70377416028e3a15529b54df")
            )
        ),
    ),
    "query_ack": MessageQueryResponse(1, 1043494331, "b", 1, b""),
    "query_response": MessageQueryResponse(1, 1043494331, "b", 0, b"resp:b:uptime\n"),
    "query_response_list_keys": MessageQueryResponse(
        6,
        850096386,
        "f",
        0,
        encode_serf_message(
            MessageKeyResponse(
                True,
                "",
                (
                    "c2VyZi1nb2xkZW4ta2V5LW51bWJlci0z",
                    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                ),
                "c2VyZi1nb2xkZW4ta2V5LW51bWJlci0z",
            )
        ),
    ),
    "relay_query_response": MessageRelay(
        LOCALHOST,
        18946,
        "a",
        encode_serf_message(MessageQueryResponse(5, 1505159522, "a", 0, b"resp:a:relayq\n")),
    ),
    "conflict_response": MessageConflictResponse(
        MemberInfo("c", LOCALHOST, 18948, {"role": "web"}, 1, 1, 5, 2, 2, 5, 5)
    ),
    "key_request_list": MessageKeyRequest(b""),
    "key_request_install_32": MessageKeyRequest(
        bytes.fromhex("1ef63cb9b45932069f50e5aface69dc0e72455ad70377416028e3a15529b54df")
    ),
    "key_request_use_24": MessageKeyRequest(b"serf-golden-key-number-3"),
    "key_response_ok": MessageKeyResponse(True, "", None, ""),
    "key_response_error": MessageKeyResponse(False, "Removing the primary key is not allowed"),
    "key_response_noencryption": MessageKeyResponse(
        False, "Keyring is empty (encryption not enabled)"
    ),
    "key_response_list": MessageKeyResponse(
        True,
        "",
        ("c2VyZi1nb2xkZW4ta2V5LW51bWJlci0z", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
        "c2VyZi1nb2xkZW4ta2V5LW51bWJlci0z",
    ),
}


@pytest.mark.parametrize("name", sorted(SERF_MESSAGES))
def test_serf_vectors_decode_to_their_fields_and_encode_to_the_same_bytes(name: str) -> None:
    data = hex_vector(VECTORS / "serf" / f"{name}.hex")
    assert decode_serf_message(data) == SERF_MESSAGES[name]
    assert encode_serf_message(SERF_MESSAGES[name]) == data


def test_the_initial_push_pull_state_has_an_empty_512_slot_ring() -> None:
    data = hex_vector(VECTORS / "serf" / "pushpull_state_initial.hex")
    msg = decode_serf_message(data)
    assert msg == MessagePushPull(1, {"b": 0}, (), 1, (None,) * 512, 1)
    assert encode_serf_message(msg) == data


def test_a_push_pull_state_with_events_and_a_left_member_round_trips() -> None:
    data = hex_vector(VECTORS / "serf" / "pushpull_state_events_left.hex")
    msg = decode_serf_message(data)
    ring: list[EventSlot | None] = [None] * 512
    ring[1] = EventSlot(1, (EventRecord("deploy", b"v1-payload"),))
    ring[2] = EventSlot(2, (EventRecord("restart", b"now"),))
    ring[3] = EventSlot(3, (EventRecord("ping-evt", b""),))
    assert msg == MessagePushPull(5, {"c": 3, "a": 0, "b": 4}, ("b",), 4, tuple(ring), 10)
    assert encode_serf_message(msg) == data


def test_query_filters_decode_to_node_and_tag_filters() -> None:
    node = hex_vector(VECTORS / "serf" / "filter_node.hex")
    tag = hex_vector(VECTORS / "serf" / "filter_tag.hex")
    assert decode_filter(node) == NodeFilter(("b", "c"))
    assert decode_filter(tag) == TagFilter("role", "w.b")
    assert encode_filter(NodeFilter(("b", "c"))) == node
    assert encode_filter(TagFilter("role", "w.b")) == tag
    multi = decode_serf_message(hex_vector(VECTORS / "serf" / "query_filter_multi.hex"))
    assert isinstance(multi, MessageQuery)
    assert decode_filters(multi.filters) == (NodeFilter(("b", "c")), TagFilter("role", "w.b"))


@pytest.mark.parametrize(
    ("name", "tags", "legacy"),
    [
        ("node_meta_tags", {"role": "db", "version": "1.2.3"}, False),
        ("node_meta_tags_a", {"role": "web", "dc": "east"}, False),
        ("node_meta_legacy_role", {"role": "legacy"}, True),
    ],
)
def test_node_meta_decodes_to_tags_and_back(name: str, tags: dict[str, str], legacy: bool) -> None:
    data = hex_vector(VECTORS / "serf" / f"{name}.hex")
    assert decode_tags(data) == tags
    assert list(decode_tags(data)) == list(tags)
    assert encode_tags(tags, legacy=legacy) == data


def test_ack_payloads_carry_serf_coordinates() -> None:
    fresh = hex_vector(VECTORS / "serf" / "ack_payload_initial_coordinate.hex")
    assert decode_ack_payload(fresh) == Coordinate()
    assert encode_ack_payload(Coordinate()) == fresh
    moved = hex_vector(VECTORS / "serf" / "ack_payload_coordinate.hex")
    coord = decode_ack_payload(moved)
    assert coord.error == pytest.approx(0.13874031103459955)
    assert len(coord.vec) == 8 and coord.vec[0] == pytest.approx(5.125650810025674e-05)
    assert encode_ack_payload(coord) == moved
    ack = hex_vector(VECTORS / "serf" / "ack_resp_with_coordinate.hex")
    assert decode_message(ack) == Ack(38, moved)
    assert encode_message(Ack(38, moved)) == ack


def test_whole_serf_datagrams_unwrap_to_the_serf_message() -> None:
    gossip = hex_vector(VECTORS / "serf" / "force_leave_prune.gossip.udp.hex")
    piggyback = hex_vector(VECTORS / "serf" / "force_leave_prune.piggyback.udp.hex")
    response = hex_vector(VECTORS / "serf" / "query_response.udp.hex")
    prune = SERF_MESSAGES["force_leave_prune"]
    (user,) = decode_packet(gossip).messages
    assert isinstance(user, UserMsg) and decode_serf_message(user.payload) == prune
    ping, user = decode_packet(piggyback).messages
    assert ping == Ping(24, "c", LOCALHOST, 18946, "a")
    assert isinstance(user, UserMsg) and decode_serf_message(user.payload) == prune
    assert add_crc(encode_message(UserMsg(encode_serf_message(prune)))) == gossip
    assert (
        make_compound([encode_message(ping), encode_message(UserMsg(encode_serf_message(prune)))])
        == piggyback
    )
    (resp,) = decode_packet(response).messages
    assert resp == UserMsg(encode_serf_message(SERF_MESSAGES["query_response"]))
    assert encode_message(resp) == response
