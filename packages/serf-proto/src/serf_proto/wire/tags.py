"""Serf tags as memberlist node meta.

Serf protocol ≥ 3 writes ``ff`` (the tag magic byte) + a msgpack ``map[string]string``; older
protocols write only the raw ``role`` tag. Decoding: meta that is empty or does not start with
``ff`` is the legacy form and gives ``{"role": meta}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from serf_proto.errors import PayloadTooLarge
from serf_proto.wire.gomsgpack import pack, str_map, to_str, unpack
from serf_proto.wire.limits import META_MAX_SIZE

TAG_MAGIC_BYTE = 0xFF


def encode_tags(tags: Mapping[str, str], *, legacy: bool = False) -> bytes:
    """Encode tags as node meta (in the mapping's order); ``legacy`` = protocol < 3 (role only).

    Raises ``PayloadTooLarge`` when the result exceeds memberlist's 512-byte meta limit.
    """
    if legacy:
        meta = tags.get("role", "").encode()
    else:
        meta = b"\xff" + pack(dict(tags))
    if len(meta) > META_MAX_SIZE:
        raise PayloadTooLarge(f"encoded length of tags exceeds limit of {META_MAX_SIZE} bytes")
    return meta


def decode_tags(meta: bytes) -> dict[str, str]:
    """Decode node meta into tags, keeping wire order. Raises ``DecodeError`` on bad input."""
    if not meta or meta[0] != TAG_MAGIC_BYTE:
        return {"role": to_str(meta, "role")}
    return str_map(unpack(meta[1:]), "tags")
