"""Hostile TCP input: the incremental stream decoder raises only DecodeError whatever the bytes
and however they are split, decodes valid streams identically in any chunking, never buffers
what a length header merely claims, and a Serf node survives hostile streams."""

from __future__ import annotations

import logging
import random
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serf_proto.wire import DecodeError, StreamDecoder

from benchmarks.fuzz.corpus import Sample, chunked, hostile_inputs, load_seeds, mutate
from benchmarks.fuzz.targets import NodeTarget, stream_target

SEEDS = [s for s in load_seeds() if s.channel == "stream"]
HOSTILE = [s for s in hostile_inputs() if s.channel == "stream"]
POOL = [s.data for s in SEEDS + HOSTILE]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _quiet_core_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


def _decode_all(chunks: list[bytes]) -> list[object]:
    decoder = StreamDecoder()
    out: list[object] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    out += decoder.feed(b"")
    return out


@FUZZ
@given(st.binary(max_size=2048), st.integers(0, 2**32))
def test_arbitrary_bytes_in_any_chunking_decode_or_raise_decode_error(
    data: bytes, seed: int
) -> None:
    stream_target(chunked(data, random.Random(seed)))


@FUZZ
@given(st.integers(0, len(POOL) - 1), st.integers(0, 2**32))
def test_mutated_go_streams_decode_or_raise_decode_error(index: int, seed: int) -> None:
    rng = random.Random(seed)
    stream_target(chunked(mutate(POOL[index], rng, splice_from=POOL), rng))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 2**32))
def test_a_valid_go_stream_decodes_the_same_in_any_chunking(index: int, seed: int) -> None:
    data = SEEDS[index].data
    assert _decode_all(chunked(data, random.Random(seed), max_chunk=7)) == _decode_all([data])


@pytest.mark.parametrize("sample", HOSTILE, ids=lambda s: s.name)
def test_each_go_killing_stream_is_refused_without_allocating_what_it_claims(
    sample: Sample,
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError):
            _decode_all([sample.data])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"{sample.name} made the decoder allocate {peak} bytes"


def test_a_serf_node_closes_every_go_killing_stream_and_keeps_working() -> None:
    target = NodeTarget()
    for sample in HOSTILE:
        before = target.dropped_total()
        closed = target.stream([sample.data])
        assert closed, f"{sample.name}: the stream was left open"
        if "negative" in sample.name or "huge" in sample.name or "4g" in sample.name:
            assert target.dropped_total() > before, f"{sample.name} was not counted as dropped"
    target.advance(10.0)
    assert target.answers_ping()
