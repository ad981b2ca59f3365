"""Fuzz inputs: the golden Go vectors as seeds, hand-built hostile inputs, and a mutator.

Seeds are the packets and streams captured from Go agents (``tests/proto/vectors``). The hostile
inputs are the ones that crash or exhaust Go Serf 0.9.4 (memberlist 0.2.x, go-msgpack 0.5),
each built from the wire format rather than captured, so every one is documented here:

- ``empty_compound_part``: a compound message whose only part has length 0 (Go indexes byte 0
  of the empty part);
- ``empty_crc_payload``: a CRC wrapper over zero bytes with the matching checksum 0 (Go hands
  the empty remainder to the dispatcher);
- ``compound_128_parts``: a compound claiming 128 parts; Go computes ``numParts * 2`` in a
  ``uint8``, which wraps to 0, skips the length check and reads past the buffer;
- ``alive_vsn_N``: an alive message whose ``Vsn`` has N = 1..5 bytes (Go reads ``Vsn[0..5]``);
- ``push_pull_negative_nodes`` / ``push_pull_huge_nodes``: a push/pull header claiming -1 or
  2^31 node states (Go sizes a slice from it);
- ``query_empty_filter``: a Serf query whose filter list holds one empty filter (Go reads the
  filter's type byte);
- ``serf_internal_query_empty_payload``: ``_serf_install-key`` etc. with an empty payload (Go
  slices ``Payload[1:]``);
- ``msgpack32_*``: msgpack str32/bin32/array32/map32 headers claiming ~4 GiB (go-msgpack
  pre-allocates from the header), on the gossip packet path, the stream path and the RPC port.

Everything here is deterministic given the ``random.Random`` passed in.
"""

from __future__ import annotations

import json
import random
import struct
from dataclasses import dataclass
from pathlib import Path

import msgpack
from serf_proto.wire import MessageType, SerfMessageType

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS = REPO_ROOT / "tests" / "proto" / "vectors"

# Hostile inputs are written by hand (the encoder would refuse them); only the type numbers
# come from the codec's enums.
PING_TYPE = MessageType.PING
ALIVE_TYPE = MessageType.ALIVE
PUSH_PULL_TYPE = MessageType.PUSH_PULL
USER_TYPE = MessageType.USER
COMPOUND_TYPE = MessageType.COMPOUND
CRC_TYPE = MessageType.HAS_CRC
SERF_QUERY_TYPE = SerfMessageType.QUERY

#: Internal Serf queries whose handlers decode ``Payload[1:]`` in Go.
SERF_INTERNAL_QUERIES = (
    "_serf_ping",
    "_serf_conflict",
    "_serf_install-key",
    "_serf_use-key",
    "_serf_remove-key",
    "_serf_list-keys",
)


@dataclass(frozen=True)
class Sample:
    """One input: a name, the channel it is meant for and its bytes.

    ``channel`` is ``"packet"`` (a UDP datagram), ``"stream"`` (the bytes of one TCP
    connection to the gossip port) or ``"rpc"`` (bytes sent to the RPC port).
    """

    name: str
    channel: str
    data: bytes


def _pack(obj: object) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def load_seeds() -> list[Sample]:
    """Every plaintext packet and stream vector captured from Go (encrypted ones skipped)."""
    seeds: list[Sample] = []
    manifest = json.loads((VECTORS / "memberlist" / "manifest.json").read_text())
    for entry in manifest:
        if entry.get("key"):
            continue
        data = bytes.fromhex((VECTORS / "memberlist" / entry["file"]).read_text().strip())
        seeds.append(Sample(entry["file"], str(entry["kind"]), data))
    for path in sorted((VECTORS / "serf").glob("*.hex")):
        data = bytes.fromhex(path.read_text().strip())
        if path.name.endswith(".udp.hex"):
            seeds.append(Sample(path.name, "packet", data))
        elif data and data[0] <= 9 and not path.name.startswith(("ack_payload", "node_meta")):
            # A bare Serf message travels in a memberlist user message.
            seeds.append(Sample(path.name, "packet", bytes([USER_TYPE]) + data))
    return seeds


def _alive(vsn: bytes, name: str = "hostile") -> bytes:
    body = {
        "Incarnation": 1,
        "Node": name,
        "Addr": bytes([10, 213, 0, 99]),
        "Port": 7946,
        "Meta": b"",
        "Vsn": vsn,
    }
    return bytes([ALIVE_TYPE]) + _pack(body)


def _query(name: str, payload: bytes, filters: list[bytes], ltime: int) -> bytes:
    body = {
        "LTime": ltime,
        "ID": 1000 + ltime,
        "Addr": bytes([10, 213, 0, 99]),
        "Port": 7946,
        "SourceNode": "hostile",
        "Filters": filters,
        "Flags": 1,
        "RelayFactor": 0,
        "Timeout": 1_000_000_000,
        "Name": name,
        "Payload": payload,
    }
    return bytes([USER_TYPE, SERF_QUERY_TYPE]) + _pack(body)


def _push_pull(nodes: int) -> bytes:
    header = {"Nodes": nodes, "UserStateLen": 0, "Join": False}
    return bytes([PUSH_PULL_TYPE]) + _pack(header)


#: msgpack headers claiming ~4 GiB of content (str32, bin32, array32, map32).
MSGPACK_32_HEADERS = {
    "str32": b"\xdb\xff\xff\xff\xf0",
    "bin32": b"\xc6\xff\xff\xff\xf0",
    "array32": b"\xdd\xff\xff\xff\xf0",
    "map32": b"\xdf\xff\xff\xff\xf0",
}


def hostile_inputs() -> list[Sample]:
    """The inputs known to crash or exhaust Go Serf 0.9.4 (see the module docstring)."""
    out = [
        Sample("empty_compound_part", "packet", bytes([COMPOUND_TYPE, 1, 0, 0])),
        Sample(
            "empty_compound_part_among_others",
            "packet",
            bytes([COMPOUND_TYPE, 2, 0, 0, 0, 1, PING_TYPE]),
        ),
        Sample("empty_crc_payload", "packet", bytes([CRC_TYPE, 0, 0, 0, 0])),
        Sample("compound_128_parts", "packet", bytes([COMPOUND_TYPE, 128, 0, 1, PING_TYPE])),
        Sample("compound_255_parts", "packet", bytes([COMPOUND_TYPE, 255]) + b"\x00\x01" * 3),
    ]
    out += [Sample(f"alive_vsn_{n}", "packet", _alive(bytes(range(1, n + 1)))) for n in range(1, 6)]
    out += [
        Sample("push_pull_negative_nodes", "stream", _push_pull(-1)),
        Sample("push_pull_huge_nodes", "stream", _push_pull(2**31 - 1)),
        Sample("push_pull_4g_nodes", "stream", _push_pull(2**32 - 1)),
        Sample("query_empty_filter", "packet", _query("hostile", b"", [b""], ltime=1)),
    ]
    out += [
        Sample(
            f"serf_internal_query_empty_payload_{name}", "packet", _query(name, b"", [], ltime=i)
        )
        for i, name in enumerate(SERF_INTERNAL_QUERIES, start=2)
    ]
    for kind, head in MSGPACK_32_HEADERS.items():
        out.append(Sample(f"msgpack32_{kind}_packet", "packet", bytes([PING_TYPE]) + head))
        out.append(Sample(f"msgpack32_{kind}_stream", "stream", bytes([PING_TYPE]) + head))
        out.append(Sample(f"msgpack32_{kind}_rpc", "rpc", head))
        # A well-formed header map whose Command value claims 4 GiB.
        out.append(
            Sample(f"msgpack32_{kind}_rpc_command", "rpc", b"\x82\xa7Command" + head + b"\x00")
        )
    out.append(
        Sample(
            "msgpack32_user_msg_len_stream",
            "stream",
            bytes([USER_TYPE]) + _pack({"UserMsgLen": 2**32 - 1}),
        )
    )
    return out


_INTERESTING_INTS = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


def mutate(data: bytes, rng: random.Random, *, splice_from: list[bytes] | None = None) -> bytes:
    """Return a mutated copy of `data`: 1-4 random edits (flips, inserts, deletes, big ints,
    truncation, duplication, msgpack length smashes, or a splice with another seed)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 2:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 3 and buf:
            end = min(len(buf), pos + rng.randint(1, 16))
            del buf[pos:end]
        elif op == 4:
            value = rng.choice(_INTERESTING_INTS)
            width = rng.choice((1, 2, 4))
            packed = struct.pack(">I", value & 0xFFFFFFFF)[-width:]
            buf[pos : pos + width] = packed
        elif op == 5:
            del buf[pos:]
        elif op == 6 and buf:
            start = rng.randrange(len(buf))
            chunk = buf[start : start + rng.randint(1, 32)]
            buf[pos:pos] = chunk
        elif op == 7:
            buf[pos:pos] = rng.choice(list(MSGPACK_32_HEADERS.values()))
        elif op == 8 and splice_from:
            other = rng.choice(splice_from)
            cut = rng.randrange(len(other) + 1)
            buf = buf[:pos] + other[cut:]
    return bytes(buf)


def chunked(data: bytes, rng: random.Random, *, max_chunk: int = 64) -> list[bytes]:
    """Split `data` into random non-empty chunks, as TCP reads might deliver it."""
    chunks = []
    i = 0
    while i < len(data):
        n = rng.randint(1, max_chunk)
        chunks.append(data[i : i + n])
        i += n
    return chunks
