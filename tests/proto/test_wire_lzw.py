"""LZW is byte-identical to Go's compress/lzw (LSB, 8) and bounded when decompressing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from serf_proto.errors import MalformedMessage, SizeLimitExceeded, TruncatedInput
from serf_proto.wire import lzw
from serf_proto.wire.gomsgpack import unpack

VECTORS = Path(__file__).parent / "vectors" / "memberlist"


def go_compressed_buffers() -> list[bytes]:
    """The LZW ``Buf`` of every compress wrapper Go wrote in the plaintext vectors."""
    out = []
    for name, offset in (
        ("15_udp_crc_compress_compound.hex", 5),
        ("26_tcp_compressed_pushpull_req.hex", 0),
    ):
        data = bytes.fromhex((VECTORS / name).read_text().strip())[offset:]
        assert data[0] == 9
        out.append(unpack(data[1:])[b"Buf"])
    return out


@pytest.mark.parametrize("buf", go_compressed_buffers())
def test_go_compressed_data_decompresses_and_compresses_back_identically(buf: bytes) -> None:
    plain = lzw.decompress(buf)
    assert plain
    assert lzw.compress(plain) == buf


def test_empty_input_is_a_clear_and_an_eof_code() -> None:
    # CLEAR (256) and EOF (257), 9 bits each, LSB first.
    assert lzw.compress(b"") == bytes([0x00, 0x03, 0x02])
    assert lzw.decompress(lzw.compress(b"")) == b""


def _sample(rng: random.Random, size: int, alphabet: int) -> bytes:
    return bytes(rng.randrange(alphabet) for _ in range(size))


@pytest.mark.parametrize(
    ("size", "alphabet"),
    [(1, 256), (4095, 2), (4096, 256), (70_000, 256), (200_000, 4), (1_048_576, 256)],
)
def test_round_trips_up_to_one_megabyte_cross_table_resets(size: int, alphabet: int) -> None:
    data = _sample(random.Random(size), size, alphabet)
    compressed = lzw.compress(data)
    assert lzw.decompress(compressed, max_size=size) == data


def test_a_megabyte_of_one_byte_compresses_to_growing_codes_and_back() -> None:
    data = b"\x00" * 1_048_576
    compressed = lzw.compress(data)
    assert len(compressed) < 3000
    assert lzw.decompress(compressed) == data


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.binary(max_size=3000) | st.text(alphabet="ab", max_size=20000).map(str.encode))
def test_any_bytes_round_trip(data: bytes) -> None:
    assert lzw.decompress(lzw.compress(data)) == data


def test_a_compression_bomb_stops_at_the_size_bound() -> None:
    bomb = lzw.compress(b"A" * 2_000_000)
    with pytest.raises(SizeLimitExceeded):
        lzw.decompress(bomb, max_size=100_000)


def test_data_without_an_eof_code_is_truncated() -> None:
    data = lzw.compress(b"hello hello hello")
    with pytest.raises(TruncatedInput):
        lzw.decompress(data[:-2])


def test_a_code_beyond_the_table_is_invalid() -> None:
    # CLEAR, then code 300 (not yet assigned), 9 bits each.
    bits = 256 | (300 << 9)
    with pytest.raises(MalformedMessage):
        lzw.decompress(bits.to_bytes(3, "little"))
