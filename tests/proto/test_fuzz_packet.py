"""Hostile UDP input: the packet decoder raises only DecodeError, and a Serf node swallows
every packet (including the ones that crash Go Serf 0.9.4), counts it and keeps working."""

from __future__ import annotations

import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serf_proto.events import Query
from serf_proto.outputs import SendPacket
from serf_proto.wire import DecodeError, decode_packet

from benchmarks.fuzz.corpus import (
    SERF_INTERNAL_QUERIES,
    Sample,
    hostile_inputs,
    load_seeds,
    mutate,
)
from benchmarks.fuzz.targets import PEER, NodeTarget, packet_target

SEEDS = [s for s in load_seeds() if s.channel == "packet"]
HOSTILE = [s for s in hostile_inputs() if s.channel == "packet"]
POOL = [s.data for s in SEEDS + HOSTILE]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _quiet_core_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    packet_target(data)


@FUZZ
@given(st.integers(0, len(SEEDS) + len(HOSTILE) - 1), st.integers(0, 2**32))
def test_mutated_go_packets_decode_or_raise_decode_error(index: int, seed: int) -> None:
    packet_target(mutate(POOL[index], random.Random(seed), splice_from=POOL))


@pytest.mark.parametrize("sample", HOSTILE, ids=lambda s: s.name)
def test_each_go_killing_packet_decodes_or_raises_only_decode_error(sample: Sample) -> None:
    packet_target(sample.data)


def test_known_framing_attacks_are_refused_by_the_decoder() -> None:
    refused = {"empty_crc_payload", "compound_128_parts", "compound_255_parts"}
    for sample in HOSTILE:
        if sample.name in refused:
            decoded = None
            try:
                decoded = decode_packet(sample.data)
            except DecodeError:
                continue
            assert not decoded.messages, sample.name


FRAMING = [s for s in HOSTILE if "query" not in s.name]
QUERIES = {s.name: s for s in HOSTILE if "query" in s.name}


def test_a_serf_node_counts_every_go_killing_framing_packet_and_still_answers_pings() -> None:
    target = NodeTarget()
    assert target.answers_ping(1)
    for sample in FRAMING:
        before = target.dropped_total()
        target.packet(sample.data)
        assert target.dropped_total() > before, f"{sample.name} was not counted as dropped"
    target.advance(10.0)
    assert target.answers_ping(2)


def test_a_query_with_an_empty_filter_is_not_for_this_node_and_gets_no_ack() -> None:
    target = NodeTarget()
    target.now += 0.001
    target.node.receive_packet(PEER, QUERIES["query_empty_filter"].data, target.now)
    outputs = target.node.take_outputs()
    assert not [o for o in outputs if isinstance(o, (Query, SendPacket))]
    assert target.answers_ping()


KEY_CHANGING = ("_serf_install-key", "_serf_use-key", "_serf_remove-key")


@pytest.mark.parametrize("name", SERF_INTERNAL_QUERIES)
def test_an_internal_query_with_an_empty_payload_is_never_delivered_and_never_crashes(
    name: str,
) -> None:
    target = NodeTarget()
    target.now += 0.001
    sample = QUERIES[f"serf_internal_query_empty_payload_{name}"]
    target.node.receive_packet(PEER, sample.data, target.now)
    outputs = target.node.take_outputs()
    assert not [o for o in outputs if isinstance(o, Query)], "internal queries never reach the app"
    acked = any(isinstance(o, SendPacket) and o.addr == PEER for o in outputs)
    if name in KEY_CHANGING:
        # Go Serf 0.9.4 panics on it: refused outright, counted, not acked.
        assert not acked
        assert target.node.dropped.get("bad_key_query") == 1
    else:
        assert acked, "no ack"
    assert target.answers_ping()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(POOL) - 1), st.integers(0, 2**32)), max_size=30))
def test_a_serf_node_fed_mutated_traffic_never_raises_and_keeps_answering(
    batch: list[tuple[int, int]],
) -> None:
    target = NodeTarget()
    for index, seed in batch:
        target.packet(mutate(POOL[index], random.Random(seed), splice_from=POOL))
    target.advance(5.0)
    assert target.answers_ping()
