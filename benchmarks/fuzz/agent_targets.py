"""Fuzz targets over the agent's pure parts: the RPC session and the config decoder.

``rpc_target`` feeds a client's bytes (in chunks) to an ``RpcSession`` and pulls events until it
needs data or closes; the session must never raise. ``config_target`` decodes one config file;
only ``ConfigError`` is allowed. Seeds are the RPC transcripts captured from Go's agent and a few
config documents built from Go's keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from serf_agent.config import ConfigError, decode_config
from serf_agent.rpc.session import NEED_DATA, CloseConnection, RpcSession

from benchmarks.fuzz.corpus import REPO_ROOT

RPC_VECTORS = REPO_ROOT / "tests" / "agent" / "vectors" / "rpc"
#: More events than this from one input means the session is looping.
MAX_EVENTS_PER_INPUT = 10_000


def load_rpc_seeds() -> list[bytes]:
    """The client-to-agent bytes of every captured RPC transcript."""
    seeds = []
    for path in sorted(RPC_VECTORS.glob("*.json")):
        frames = json.loads(path.read_text()).get("frames", [])
        sent = b"".join(bytes.fromhex(f["hex"]) for f in frames if f.get("dir") == "send")
        if sent:
            seeds.append(sent)
    return seeds


CONFIG_SEEDS = [
    "{}",
    '{"node_name": "n1", "bind": "127.0.0.1:7946", "rpc_addr": "127.0.0.1:7373"}',
    '{"tags": {"role": "web", "dc": "east"}, "event_handlers": ["user:deploy=./d.sh"]}',
    '{"reconnect_interval": "3s", "reconnect_timeout": "24h", "tombstone_timeout": "1m30s"}',
    '{"encrypt_key": "DIuK583FOxuRlq7BCf7GWPuJfqvhpoe368C3kR5qvZU=", "profile": "lan"}',
    '{"start_join": ["10.0.0.1", "10.0.0.2:7946"], "retry_join": [], "retry_max": 3}',
    '{"query_response_size_limit": 1024, "query_size_limit": 1024, "log_level": "debug"}',
    '{"snapshot_path": "/tmp/s", "rejoin_after_leave": true, "leave_on_terminate": true}',
]


def rpc_target(chunks: Sequence[bytes], *, auth_key: str = "") -> int:
    """Feed `chunks` to a fresh session; return how many events it produced. Never raises."""
    session = RpcSession(auth_key=auth_key)
    produced = 0
    now = 0.0
    for chunk in [*chunks, b""]:
        session.receive_data(chunk)
        while True:
            now += 0.001
            event = session.next_event(now)
            produced += 1
            if produced > MAX_EVENTS_PER_INPUT:
                raise RuntimeError("the RPC session produced events without consuming input")
            if event is NEED_DATA:
                break
            if isinstance(event, CloseConnection):
                return produced
    return produced


def config_target(text: str) -> None:
    """Decode one config document; only ``ConfigError`` may escape."""
    try:
        decode_config(text)
    except ConfigError:
        return
