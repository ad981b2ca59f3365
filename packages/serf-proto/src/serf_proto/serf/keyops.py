"""Key operations: cluster-wide key rotation over internal queries (Go ``serf/keymanager.go``).

The originating side turns ``install_key``/``use_key``/``remove_key``/``list_keys`` into a
``_serf_<op>`` query owned by a :class:`~serf_proto.serf.querybook.KeyOpQuery`: the answers
feed a :class:`~serf_proto.serf.keymanager.KeyOpAggregate`, and the query closes with a
``KeyOpCompleted`` output once every member answered or at its deadline.

The answering side applies a delivered key query to the local keyring
(:func:`~serf_proto.serf.keymanager.handle_key_request`), reports a changed keyring as
``KeyringChanged`` (the agent rewrites its keyring file) and answers; a list-keys answer is
shortened until it fits the response size limit (:func:`~serf_proto.serf.keymanager.fit_key_list`).
"""

from __future__ import annotations

from serf_proto.events import KeyringChanged, Query
from serf_proto.serf.context import NodeContext
from serf_proto.serf.keymanager import (
    KeyOp,
    KeyOpAggregate,
    decode_key,
    encode_key_request,
    fit_key_list,
    handle_key_request,
)
from serf_proto.serf.queries import Queries
from serf_proto.serf.query import QueryParams
from serf_proto.serf.querybook import KeyOpQuery
from serf_proto.wire import Keyring, MessageKeyResponse, MessageQueryResponse, encode_serf_message

__all__ = ["KeyOps"]


class KeyOps:
    """Both sides of key operations for one node; see the module docstring."""

    __slots__ = ("_ctx", "_keyring", "_queries")

    def __init__(self, ctx: NodeContext, keyring: Keyring | None, queries: Queries) -> None:
        self._ctx = ctx
        self._keyring = keyring
        self._queries = queries

    def start(self, kind: KeyOp, key: str | bytes | None, now: float) -> int:
        """Ask every member to apply ``kind`` (with ``key``); returns the op id."""
        raw = b"" if key is None else decode_key(key)
        num_nodes = self._ctx.ml.num_members()
        return self._queries.start(
            f"_serf_{kind.value}",
            encode_key_request(raw),
            QueryParams(),
            now,
            lambda op: KeyOpQuery(KeyOpAggregate(op, kind, num_nodes)),
        )

    def answer(self, kind: KeyOp, q: Query, now: float) -> None:
        """Apply a delivered key query to our keyring and answer it."""
        ctx = self._ctx
        if kind is not KeyOp.LIST:
            ctx.log.info("Received %s query", kind.value)
        resp, changed = handle_key_request(kind, q.payload, self._keyring)
        if not resp.result:
            ctx.log.error("%s", resp.message)
        if changed and self._keyring is not None:
            ctx.out.append(KeyringChanged(self._keyring.keys))
        if kind is KeyOp.LIST and resp.result:
            limit = ctx.config.query_response_size_limit
            fitted = fit_key_list(resp, lambda r: self._fits(q, r, limit), limit)
            if fitted is None:
                ctx.log.error("Failed to truncate response so that it fits into message")
                self._queries.book.answered(q.ltime, q.id)
                return
            if fitted.keys is not None and len(fitted.keys) < len(resp.keys or ()):
                ctx.log.warning("%s", fitted.message)
            resp = fitted
        self._queries.respond_internal(q, encode_serf_message(resp), now)

    def _fits(self, q: Query, resp: MessageKeyResponse, limit: int) -> bool:
        body = encode_serf_message(resp)
        raw = encode_serf_message(MessageQueryResponse(q.ltime, q.id, self._ctx.name, 0, body))
        return len(raw) <= limit
