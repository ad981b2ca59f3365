"""Typed errors of the core.

Two families:

* ``DecodeError`` (a ``ValueError``): the only exception the wire codec raises for bytes that came
  from the network. Its subclasses say why the input was refused, so callers can count them.
* ``SerfError``: local misuse of the core's API (a payload too large to send, a command in the
  wrong state, an unknown query id). These never come from remote input.
"""

from __future__ import annotations


class DecodeError(ValueError):
    """Input bytes could not be decoded; the message or packet must be dropped."""


class TruncatedInput(DecodeError):  # noqa: N818
    """The input ended before a complete message, header or frame."""


class MalformedMessage(DecodeError):  # noqa: N818
    """The bytes are not valid msgpack, or a field has the wrong type or range."""


class UnknownMessageType(DecodeError):  # noqa: N818
    """The leading type byte names no known message."""

    def __init__(self, type_byte: int, layer: str = "memberlist") -> None:
        super().__init__(f"unknown {layer} message type {type_byte}")
        self.type_byte = type_byte


class ChecksumMismatch(DecodeError):  # noqa: N818
    """A CRC32 wrapper's checksum does not match its contents."""


class DecryptionFailed(DecodeError):  # noqa: N818
    """No installed key authenticates the encrypted data (or it is not encrypted as required)."""


class SizeLimitExceeded(DecodeError):  # noqa: N818
    """A length, count or decompressed size is above the bound Go enforces."""


class UnsupportedEncoding(DecodeError):  # noqa: N818
    """An encryption version, compression algorithm or similar variant we do not speak."""


class LabelMismatch(DecodeError):  # noqa: N818
    """A packet or stream label header is missing, unexpected, or differs from ours."""


class SerfError(Exception):
    """Base class for local misuse of the core's API."""


class PayloadTooLarge(SerfError):  # noqa: N818
    """An event, query, response or tag set exceeds its configured size limit."""


class InvalidState(SerfError):  # noqa: N818
    """The command is not allowed in the node's current state (e.g. after leave/shutdown)."""


class KeyringError(SerfError, ValueError):
    """A keyring operation was refused (bad key size, unknown key, removing the primary)."""


class UnknownQuery(SerfError):  # noqa: N818
    """A response refers to a query id this node does not know (or that has expired)."""


__all__ = [
    "ChecksumMismatch",
    "DecodeError",
    "DecryptionFailed",
    "InvalidState",
    "KeyringError",
    "LabelMismatch",
    "MalformedMessage",
    "PayloadTooLarge",
    "SerfError",
    "SizeLimitExceeded",
    "TruncatedInput",
    "UnknownMessageType",
    "UnknownQuery",
    "UnsupportedEncoding",
]
