"""Cluster-wide key management (Go ``serf/keymanager.go`` and the key handlers of
``serf/internal_query.go``).

Keys are rotated with internal queries: ``_serf_install-key``, ``_serf_use-key``,
``_serf_remove-key`` and ``_serf_list-keys``. Each carries a ``messageKeyRequest`` (type byte 7
and the raw key) and every node answers with a ``messageKeyResponse`` (type byte 8): success or
an error text, and for list-keys its keys in base64 (primary first).

* :func:`handle_key_request` is the node side: apply the operation to the local keyring and
  build the answer (truncating a key list that would not fit the response size limit).
* :class:`KeyOpAggregate` is the originator side: count responses, errors and keys per node,
  and decide the overall outcome (any error, or fewer answers than members, fails the call).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from serf_proto.errors import DecodeError, SerfError
from serf_proto.gocompat import KEY_SIZE_ERROR, KEY_SIZES, Base64Error, decode_base64
from serf_proto.wire import (
    MessageKeyRequest,
    MessageKeyResponse,
    SerfMessageType,
    decode_serf_message,
    encode_serf_message,
)

#: The shortest base64 text of a key (16 bytes); bounds how many keys a response can list.
MIN_ENCODED_KEY_LENGTH = 25

#: A key query payload is read as a key request whatever its first byte says (as Go does).
_KEY_REQUEST_BYTE = bytes((SerfMessageType.KEY_REQUEST,))


class KeyOp(StrEnum):
    """A key operation; the value is the internal query name without the ``_serf_`` prefix."""

    INSTALL = "install-key"
    USE = "use-key"
    REMOVE = "remove-key"
    LIST = "list-keys"


class InvalidKeyError(SerfError, ValueError):
    """A key given to a key command is not valid base64 of 16, 24 or 32 bytes."""


class KeyringLike(Protocol):
    """The keyring operations key management needs (memberlist's ``Keyring``)."""

    def add_key(self, key: bytes) -> None:
        """Install ``key`` (raise ``ValueError`` with Go's text when it is refused)."""
        ...

    def use_key(self, key: bytes) -> None:
        """Make the installed ``key`` primary."""
        ...

    def remove_key(self, key: bytes) -> None:
        """Remove a non-primary ``key``."""
        ...

    @property
    def keys(self) -> tuple[bytes, ...]:
        """Every installed key, primary first."""
        ...

    @property
    def primary_key(self) -> bytes | None:
        """The key used for encrypting (None when the ring is empty)."""
        ...


def decode_key(key: str | bytes) -> bytes:
    """A gossip key from base64 text (as ``serf keygen`` prints, decoded by Go's rules) or raw
    bytes, checked to be 16, 24 or 32 bytes long; raises ``InvalidKeyError`` with Go's text."""
    if isinstance(key, str):
        try:
            raw = decode_base64(key)
        except Base64Error as exc:
            raise InvalidKeyError(f"invalid encryption key: {exc}") from None
    else:
        raw = bytes(key)
    if len(raw) not in KEY_SIZES:
        raise InvalidKeyError(KEY_SIZE_ERROR)
    return raw


def encode_key_request(key: bytes) -> bytes:
    """The query payload of a key operation (``07`` + ``{Key}``)."""
    return encode_serf_message(MessageKeyRequest(key))


def handle_key_request(
    op: KeyOp, payload: bytes, keyring: KeyringLike | None
) -> tuple[MessageKeyResponse, bool]:
    """Apply a key query to the local keyring. Returns the answer and whether the keyring
    changed. Like Go, the payload's type byte is not checked."""
    if op is KeyOp.LIST:
        if keyring is None:
            return MessageKeyResponse(False, "Keyring is empty (encryption not enabled)"), False
        keys = tuple(base64.b64encode(k).decode() for k in keyring.keys)
        primary = base64.b64encode(keyring.primary_key or b"").decode()
        return MessageKeyResponse(True, "", keys, primary), False
    try:
        msg = decode_serf_message(_KEY_REQUEST_BYTE + payload[1:])
    except DecodeError as exc:
        return MessageKeyResponse(False, f"Failed to decode key request: {exc}"), False
    assert isinstance(msg, MessageKeyRequest)
    if keyring is None:
        return MessageKeyResponse(False, "No keyring to modify (encryption not enabled)"), False
    try:
        if op is KeyOp.INSTALL:
            keyring.add_key(msg.key)
        elif op is KeyOp.USE:
            keyring.use_key(msg.key)
        else:
            keyring.remove_key(msg.key)
    except (ValueError, SerfError) as exc:
        return MessageKeyResponse(False, str(exc)), False
    return MessageKeyResponse(True), True


def fit_key_list(
    resp: MessageKeyResponse, fits: Callable[[MessageKeyResponse], bool], limit: int
) -> MessageKeyResponse | None:
    """Shorten a list-keys answer until ``fits(answer)`` says it fits the size limit.

    Tries the full list, then at most ``limit // 25`` keys and one fewer each time, noting the
    truncation in the message (Go's ``keyListResponseWithCorrectSize``, with upstream's clamp
    to the real key count). Returns None when not even an empty list fits.
    """
    if fits(resp):
        return resp
    keys = resp.keys or ()
    actual = len(keys)
    for count in range(min(actual, limit // MIN_ENCODED_KEY_LENGTH), -1, -1):
        shorter = MessageKeyResponse(
            True,
            f"truncated key list response, showing first {count} of {actual} keys",
            keys[:count],
            resp.primary_key,
        )
        if fits(shorter):
            return shorter
    return None


@dataclass(slots=True)
class KeyOpAggregate:
    """The originator's tally of one key operation (Go ``KeyResponse``)."""

    op: int
    kind: KeyOp
    num_nodes: int
    num_resp: int = 0
    num_err: int = 0
    messages: dict[str, str] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    primary_keys: dict[str, int] = field(default_factory=dict)

    def add(self, node: str, payload: bytes) -> None:
        """Count one node's answer."""
        self.num_resp += 1
        if not payload or payload[0] != SerfMessageType.KEY_RESPONSE:
            self.messages[node] = f"Invalid key query response type: {payload!r}"
            self.num_err += 1
            return
        try:
            msg = decode_serf_message(payload)
        except DecodeError:
            self.messages[node] = f"Failed to decode key query response: {payload!r}"
            self.num_err += 1
            return
        assert isinstance(msg, MessageKeyResponse)
        if not msg.result:
            self.messages[node] = msg.message
            self.num_err += 1
        elif msg.message:
            self.messages[node] = msg.message
        for key in msg.keys or ():
            self.keys[key] = self.keys.get(key, 0) + 1
        if msg.primary_key:
            self.primary_keys[msg.primary_key] = self.primary_keys.get(msg.primary_key, 0) + 1

    def complete(self) -> bool:
        """Every member answered, so the operation need not wait for its deadline."""
        return self.num_resp >= self.num_nodes

    def error(self) -> str | None:
        """The overall failure, as Go reports it, or None on success."""
        if self.num_err:
            return f"{self.num_err}/{self.num_nodes} nodes reported failure"
        if self.num_resp != self.num_nodes:
            return f"{self.num_resp}/{self.num_nodes} nodes reported success"
        return None
