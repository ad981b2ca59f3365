"""Hostile bytes for the agent's pure parts: the RPC session never raises whatever a client sends
(in any chunking, before or after auth), and the config decoder raises only ConfigError."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz.agent_targets import CONFIG_SEEDS, config_target, load_rpc_seeds, rpc_target
from benchmarks.fuzz.corpus import chunked, hostile_inputs, mutate

RPC_SEEDS = load_rpc_seeds() + [s.data for s in hostile_inputs() if s.channel == "rpc"]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=1024), st.integers(0, 2**32), st.sampled_from(["", "secret"]))
def test_the_rpc_session_survives_arbitrary_bytes(data: bytes, seed: int, auth: str) -> None:
    rpc_target(chunked(data, random.Random(seed)), auth_key=auth)


@FUZZ
@given(st.integers(0, len(RPC_SEEDS) - 1), st.integers(0, 2**32), st.sampled_from(["", "s"]))
def test_the_rpc_session_survives_mutated_go_transcripts(index: int, seed: int, auth: str) -> None:
    rng = random.Random(seed)
    data = mutate(RPC_SEEDS[index], rng, splice_from=RPC_SEEDS)
    rpc_target(chunked(data, rng), auth_key=auth)


def test_every_captured_go_transcript_is_consumed_without_raising() -> None:
    assert len(RPC_SEEDS) >= 20
    for data in RPC_SEEDS:
        assert rpc_target([data]) >= 1


@FUZZ
@given(st.text(max_size=512))
def test_the_config_decoder_raises_only_config_error_on_arbitrary_text(text: str) -> None:
    config_target(text)


@FUZZ
@given(st.integers(0, len(CONFIG_SEEDS) - 1), st.integers(0, 2**32))
def test_the_config_decoder_raises_only_config_error_on_mutated_configs(
    index: int, seed: int
) -> None:
    data = mutate(CONFIG_SEEDS[index].encode(), random.Random(seed))
    config_target(data.decode("utf-8", errors="replace"))
