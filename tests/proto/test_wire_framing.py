"""Packet pipeline, stream framing, keyring and the size bounds of the wire codec."""

from __future__ import annotations

import random
from pathlib import Path

import msgpack
import pytest
from serf_proto.errors import (
    ChecksumMismatch,
    DecryptionFailed,
    KeyringError,
    LabelMismatch,
    MalformedMessage,
    PayloadTooLarge,
    SizeLimitExceeded,
    TruncatedInput,
    UnknownMessageType,
    UnsupportedEncoding,
)
from serf_proto.wire import (
    Ack,
    Alive,
    Keyring,
    Message,
    Ping,
    PushNodeState,
    PushPull,
    StreamDecoder,
    Suspect,
    UserMsg,
    add_crc,
    decode_ack_payload,
    decode_filter,
    decode_message,
    decode_packet,
    decode_stream,
    decode_tags,
    encode_message,
    encode_packet,
    encode_stream,
    encode_tags,
    make_compound,
    make_member_info,
    wants_crc,
)
from serf_proto.wire.keyring import encrypted_length, encryption_overhead

K16 = b"0123456789abcdef"
K32 = bytes(range(32))
K24 = bytes(range(100, 124))
VECTORS = Path(__file__).parent / "vectors"
LOCALHOST = b"\x7f\x00\x00\x01"


def entropy(n: int) -> bytes:
    return random.Random(n).randbytes(n)


PING = Ping(7, "b", LOCALHOST, 7946, "a")
ALIVE = Alive(3, "c", LOCALHOST, 7948, b"\xff\x80", bytes([1, 5, 2, 2, 5, 5]))
SUSPECT = Suspect(3, "c", "a")


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("crc", [False, True])
@pytest.mark.parametrize("key", [None, K16, K24, K32])
@pytest.mark.parametrize("label", [b"", b"dc1"])
def test_a_packet_survives_every_combination_of_layers(
    compress: bool, crc: bool, key: bytes | None, label: bytes
) -> None:
    keyring = Keyring([key]) if key else None
    messages: list[Message] = [PING, ALIVE, SUSPECT, UserMsg(b"\x01\x82\xa5LTime\x01\xa4Node\xa1b")]
    data = encode_packet(
        messages, compress=compress, crc=crc, keyring=keyring, label=label, entropy=entropy
    )
    decoded = decode_packet(data, keyring=keyring, label=label)
    assert decoded.messages == messages and decoded.errors == []


def test_a_single_message_is_sent_bare_and_compressed_only_when_smaller() -> None:
    assert encode_packet([PING], compress=True) == encode_message(PING)
    big = UserMsg(b"x" * 600)
    assert encode_packet([big], compress=True)[0] == 9


def test_crc_goes_only_to_peers_that_speak_protocol_5() -> None:
    assert wants_crc(5) and not wants_crc(4)
    assert encode_packet([PING], crc=True)[0] == 12


def test_a_corrupted_crc_packet_is_refused() -> None:
    data = bytearray(encode_packet([PING], crc=True))
    data[-1] ^= 1
    with pytest.raises(ChecksumMismatch):
        decode_packet(bytes(data))


def test_a_bad_compound_part_does_not_spoil_the_others() -> None:
    compound = make_compound([encode_message(PING), b"\x63junk", encode_message(SUSPECT)])
    decoded = decode_packet(compound)
    assert decoded.messages == [PING, SUSPECT]
    assert [type(e) for e in decoded.errors] == [UnknownMessageType]


def test_compound_parts_cut_off_by_the_packet_end_are_counted() -> None:
    compound = make_compound([encode_message(PING), encode_message(SUSPECT)])
    decoded = decode_packet(compound[:-3])
    assert decoded.messages == [PING]
    assert len(decoded.errors) == 1 and isinstance(decoded.errors[0], TruncatedInput)


def test_oversized_packets_are_refused() -> None:
    with pytest.raises(SizeLimitExceeded):
        decode_packet(b"\x08" + bytes(70_000))


def test_packets_from_the_wrong_label_or_without_one_are_refused() -> None:
    labelled = encode_packet([PING], label=b"dc1")
    assert labelled[:5] == b"\xf4\x03dc1"
    with pytest.raises(LabelMismatch):
        decode_packet(labelled, label=b"dc2")
    with pytest.raises(LabelMismatch):
        decode_packet(encode_message(PING), label=b"dc1")
    with pytest.raises(LabelMismatch):
        decode_packet(labelled)
    # SkipInboundLabelCheck (Go): the transport already removed the label, so a packet that
    # still carries one is refused, and one without it is read with our label.
    with pytest.raises(LabelMismatch, match="double label"):
        decode_packet(labelled, label=b"dc1", skip_label_check=True)
    plain = encode_message(PING)
    assert decode_packet(plain, label=b"dc1", skip_label_check=True).messages == [PING]
    # A capture reader accepts whichever label the packet announces.
    assert decode_packet(labelled, label=None).messages == [PING]


def test_the_label_authenticates_encrypted_packets() -> None:
    keyring = Keyring([K32])
    sealed = encode_packet([PING], keyring=keyring, label=b"dc1", entropy=entropy)
    forged = b"\xf4\x03dc2" + sealed[5:]
    with pytest.raises(DecryptionFailed):
        decode_packet(forged, keyring=keyring, label=b"dc2")


def test_plaintext_is_accepted_on_an_encrypted_node_only_without_verification() -> None:
    keyring = Keyring([K32])
    plain = encode_message(PING)
    with pytest.raises(DecryptionFailed):
        decode_packet(plain, keyring=keyring)
    assert decode_packet(plain, keyring=keyring, verify_incoming=False).messages == [PING]


# ---------------------------------------------------------------------------------------------
# keyring


def test_the_keyring_encrypts_with_the_primary_and_decrypts_with_any_key() -> None:
    old, new = Keyring([K16]), Keyring([K16, K32])
    new.use_key(K32)
    assert new.keys == (K32, K16) and new.primary_key == K32
    blob = old.encrypt(b"hello", b"", entropy)
    assert new.decrypt(blob) == b"hello"
    with pytest.raises(DecryptionFailed):
        old.decrypt(new.encrypt(b"hello", b"", entropy))


def test_keyring_operations_follow_memberlist_rules() -> None:
    ring = Keyring([K16], primary=K32)
    assert ring.keys == (K32, K16)
    ring.add_key(K16)
    assert len(ring) == 2
    with pytest.raises(KeyringError, match="Removing the primary key is not allowed"):
        ring.remove_key(K32)
    with pytest.raises(KeyringError, match="not in the keyring"):
        ring.use_key(K24)
    with pytest.raises(KeyringError, match="16, 24 or 32"):
        ring.add_key(b"short")
    ring.remove_key(K16)
    assert list(ring.keys) == [K32]


def test_version_0_pads_pkcs7_and_version_1_does_not() -> None:
    ring = Keyring([K16])
    assert len(ring.encrypt(b"x" * 16, b"", entropy, version=0)) == encrypted_length(0, 16) == 61
    assert len(ring.encrypt(b"x" * 16, b"", entropy, version=1)) == encrypted_length(1, 16) == 45
    assert encryption_overhead(1) == 29 and encryption_overhead(0) == 45
    assert ring.decrypt(ring.encrypt(b"abc", b"", entropy, version=0)) == b"abc"


def test_unknown_encryption_versions_and_short_blobs_are_refused() -> None:
    ring = Keyring([K16])
    with pytest.raises(UnsupportedEncoding):
        ring.decrypt(b"\x02" + bytes(40))
    with pytest.raises(TruncatedInput):
        ring.decrypt(b"\x01" + bytes(20))


# ---------------------------------------------------------------------------------------------
# streams

PUSH_PULL = PushPull(
    True,
    (PushNodeState("a", LOCALHOST, 7946, b"\xff\x80", 1, 0, bytes([1, 5, 2, 2, 5, 5])),),
    b"\x02serf-state",
)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("key", [None, K32])
@pytest.mark.parametrize("label", [b"", b"dc1"])
@pytest.mark.parametrize("msg", [PING, Ack(7), PUSH_PULL, UserMsg(b"\x03event")])
def test_a_stream_message_survives_every_layer_in_any_read_size(
    compress: bool, key: bytes | None, label: bytes, msg: object
) -> None:
    keyring = Keyring([key]) if key else None
    data = encode_stream(
        msg,  # type: ignore[arg-type]
        compress=compress,
        keyring=keyring,
        label=label,
        send_label_header=bool(label),
        entropy=entropy,
    )
    assert decode_stream(data, keyring=keyring, label=label) == [msg]
    decoder = StreamDecoder(keyring=keyring, label=label)
    got = []
    for i in range(0, len(data), 3):
        got += decoder.feed(data[i : i + 3])
    assert got == [msg] and decoder.idle
    assert decoder.label == label


def test_two_messages_back_to_back_are_both_decoded() -> None:
    data = encode_stream(PING) + encode_stream(PUSH_PULL, compress=True)
    assert decode_stream(data) == [PING, PUSH_PULL]


def test_a_stream_that_ends_inside_a_message_is_truncated() -> None:
    data = encode_stream(PUSH_PULL)
    decoder = StreamDecoder()
    assert decoder.feed(data[:-1]) == []
    with pytest.raises(TruncatedInput):
        decoder.feed(b"")
    with pytest.raises(TruncatedInput):
        decoder.feed(b"more")


def test_plaintext_to_an_encrypted_node_and_ciphertext_to_a_plain_node_fail_as_go_says() -> None:
    with pytest.raises(DecryptionFailed, match="remote state is not encrypted"):
        StreamDecoder(keyring=Keyring([K32])).feed(encode_stream(PING))
    sealed = encode_stream(PING, keyring=Keyring([K32]), entropy=entropy)
    with pytest.raises(DecryptionFailed, match="encryption is not configured"):
        StreamDecoder().feed(sealed)


def test_oversized_stream_frames_and_counts_are_refused() -> None:
    with pytest.raises(SizeLimitExceeded):
        StreamDecoder(keyring=Keyring([K32])).feed(b"\x0a" + (30 << 20).to_bytes(4, "big"))
    header = b"\x06" + msgpack.packb({"Join": False, "Nodes": 2_000_000, "UserStateLen": 0})
    with pytest.raises(SizeLimitExceeded):
        StreamDecoder().feed(header)
    user = b"\x08" + msgpack.packb({"UserMsgLen": 1 << 30})
    with pytest.raises(SizeLimitExceeded):
        StreamDecoder().feed(user)


def test_only_stream_message_types_are_accepted_on_a_stream() -> None:
    with pytest.raises(UnknownMessageType):
        StreamDecoder().feed(b"\x07\x01\x00\x01\x00")


# ---------------------------------------------------------------------------------------------
# Go encoding rules


def test_newer_go_signed_int_markers_and_bin_fields_are_accepted() -> None:
    # go-msgpack v2 writes Nodes/UserStateLen with signed markers (d1), byte fields may be bin.
    header = b"\x06\x83\xa4Join\xc2\xa5Nodes\xd1\x00\x00\xacUserStateLen\xd1\x00\x03"
    assert decode_stream(header + b"abc") == [PushPull(False, (), b"abc")]
    binary = b"\x00" + msgpack.packb(
        {"Node": "b", "SeqNo": 7, "SourceAddr": LOCALHOST, "SourceNode": "a", "SourcePort": 7946},
        use_bin_type=True,
    )
    assert decode_message(binary) == PING


def test_strings_use_the_raw_family_and_nil_byte_fields_are_nil() -> None:
    ack = encode_message(Ack(8))
    assert ack == b"\x02\x82\xa7Payload\xc0\xa5SeqNo\x08"
    long_name = encode_message(Suspect(1, "n" * 40, "a"))
    assert b"\xda\x00\x28" in long_name and b"\xd9" not in long_name


def test_missing_fields_take_go_zero_values_and_wrong_types_are_malformed() -> None:
    assert decode_message(b"\x00" + msgpack.packb({"SeqNo": 1})) == Ping(1, "")
    with pytest.raises(MalformedMessage):
        decode_message(b"\x00" + msgpack.packb({"SeqNo": "one"}))
    with pytest.raises(MalformedMessage):
        decode_message(b"\x00" + msgpack.packb({"SeqNo": 1 << 40}))
    with pytest.raises(SizeLimitExceeded):
        decode_message(encode_message(Alive(1, "x", LOCALHOST, 1, b"m" * 513, b"")))


def test_trailing_bytes_after_a_packet_message_are_ignored_as_go_does() -> None:
    assert decode_message(encode_message(PING) + b"\x00\x01") == PING


def test_crc_wrapped_data_is_recognised_only_at_the_outer_level() -> None:
    nested = make_compound([add_crc(encode_message(PING))])
    decoded = decode_packet(nested)
    assert decoded.messages == [] and isinstance(decoded.errors[0], UnknownMessageType)


def test_a_dialer_reads_the_labelled_reply_without_a_label_header() -> None:
    keyring = Keyring([K32])
    reply = encode_stream(Ack(9), keyring=keyring, label=b"dc1", entropy=entropy)
    assert reply[0] == 0x0A
    decoder = StreamDecoder(keyring=keyring, label=b"dc1", label_header=False)
    assert decoder.feed(reply) == [Ack(9)]
    with pytest.raises(LabelMismatch):
        StreamDecoder(keyring=keyring, label=b"dc1").feed(reply)
    with pytest.raises(DecryptionFailed):
        StreamDecoder(keyring=keyring, label=b"dc2", label_header=False).feed(reply)


# ---------------------------------------------------------------------------------------------
# Serf helpers


def test_tags_beyond_the_meta_limit_are_refused_and_empty_meta_is_an_empty_role() -> None:
    with pytest.raises(PayloadTooLarge):
        encode_tags({"big": "x" * 600})
    assert decode_tags(b"") == {"role": ""}
    assert encode_tags({}) == b"\xff\x80"


def test_a_conflict_member_is_built_from_the_six_version_bytes() -> None:
    info = make_member_info("c", LOCALHOST, 7946, {"role": "web"}, 1, bytes([1, 5, 2, 2, 5, 4]))
    assert (info.protocol_min, info.protocol_max, info.protocol_cur) == (1, 5, 2)
    assert (info.delegate_min, info.delegate_max, info.delegate_cur) == (2, 5, 4)


def test_an_unknown_ping_version_or_filter_type_is_refused() -> None:
    with pytest.raises(UnsupportedEncoding):
        decode_ack_payload(b"\x02\x80")
    with pytest.raises(UnknownMessageType):
        decode_filter(b"\x05\x90")
