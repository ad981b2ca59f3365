"""Vivaldi network coordinates over memberlist's probes (Go ``serf/ping_delegate.go``).

Our coordinate rides in the ack to every direct probe (:meth:`Coordinates.ack_payload`); a
probe's ack carries the peer's, which with the measured RTT updates our own
(:meth:`Coordinates.ping_complete`). The last coordinate seen per node is cached for
``cached_coordinate``. Malformed or rejected coordinates are counted drops. With coordinates
disabled every read raises ``InvalidState`` and acks carry nothing.
"""

from __future__ import annotations

from serf_proto.coordinate import CoordinateError, VivaldiClient
from serf_proto.drops import DropReason
from serf_proto.errors import DecodeError, InvalidState
from serf_proto.serf.context import NodeContext
from serf_proto.wire import Coordinate, decode_ack_payload, encode_ack_payload

__all__ = ["Coordinates"]


class Coordinates:
    """One node's Vivaldi client and coordinate cache; see the module docstring."""

    __slots__ = ("_cache", "_client", "_ctx")

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx
        self._cache: dict[str, Coordinate] = {}
        self._client: VivaldiClient | None = None
        if not ctx.config.disable_coordinates:
            self._client = VivaldiClient(ctx.config.vivaldi, ctx.rng)

    @property
    def resets(self) -> int | None:
        """How often the client reset itself (None with coordinates disabled)."""
        return None if self._client is None else self._client.resets

    def coordinate(self) -> Coordinate:
        """Our coordinate."""
        if self._client is None:
            raise InvalidState("Coordinates are disabled")
        return self._client.get_coordinate()

    def cached(self, name: str) -> Coordinate | None:
        """The last coordinate seen for ``name`` (ours included), or None."""
        if self._client is None:
            raise InvalidState("Coordinates are disabled")
        return self._cache.get(name)

    def forget(self, name: str) -> None:
        """A member was erased: drop what we know of its coordinate."""
        if self._client is not None:
            self._client.forget_node(name)
        self._cache.pop(name, None)

    def ack_payload(self) -> bytes:
        """Our coordinate for an ack (empty with coordinates disabled)."""
        if self._client is None:
            return b""
        return encode_ack_payload(self._client.get_coordinate())

    def ping_complete(self, name: str, rtt: float, payload: bytes) -> None:
        """A direct probe of ``name`` was acked after ``rtt`` seconds with ``payload``."""
        client = self._client
        if client is None or not payload:
            return
        ctx = self._ctx
        try:
            coord = decode_ack_payload(payload)
        except DecodeError as exc:
            ctx.log.error("Failed to decode coordinate from ping: %s", exc)
            ctx.stats.drop(DropReason.BAD_COORDINATE)
            return
        try:
            client.update(name, coord, rtt)
        except CoordinateError as exc:
            ctx.log.debug("Rejected coordinate from %s: %s", name, exc)
            ctx.stats.drop(DropReason.REJECTED_COORDINATE)
            return
        self._cache[name] = coord
        self._cache[ctx.name] = client.get_coordinate()
