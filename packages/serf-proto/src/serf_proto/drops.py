"""Why the core refused a piece of remote input: one vocabulary for every layer.

Remote garbage never raises out of a core; it is dropped and counted by reason. The reasons are
the members of :class:`DropReason`, and their values are what operators see: the ``reason``
label of the agent's ``serf_packets_dropped_total`` metric. Values are snake_case and stable;
a new reason is a new member, never a free-form string.

Decoding failures map from their exception class (:meth:`DropReason.of`), so a drop counted
for a ``ChecksumMismatch`` reads ``checksum_mismatch``, not a Python class name.
"""

from __future__ import annotations

from enum import StrEnum

from serf_proto.errors import (
    ChecksumMismatch,
    DecodeError,
    DecryptionFailed,
    LabelMismatch,
    MalformedMessage,
    SizeLimitExceeded,
    TruncatedInput,
    UnknownMessageType,
    UnsupportedEncoding,
)

__all__ = ["DropReason"]


class DropReason(StrEnum):
    """One reason for dropping remote input; the value is the metric label."""

    # -- the wire: bytes that do not decode (see ``serf_proto.errors``) --------------------
    DECODE_ERROR = "decode_error"
    TRUNCATED = "truncated"
    MALFORMED = "malformed"
    UNKNOWN_MESSAGE_TYPE = "unknown_message_type"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    DECRYPTION_FAILED = "decryption_failed"
    SIZE_LIMIT_EXCEEDED = "size_limit_exceeded"
    UNSUPPORTED_ENCODING = "unsupported_encoding"
    LABEL_MISMATCH = "label_mismatch"
    TRUNCATED_COMPOUND_PART = "truncated_compound_part"
    EMPTY_COMPOUND_PART = "empty_compound_part"

    # -- memberlist: well-formed messages it will not act on -------------------------------
    UNEXPECTED_TYPE = "unexpected_type"
    UNEXPECTED_STREAM_TYPE = "unexpected_stream_type"
    PING_WRONG_NODE = "ping_wrong_node"
    BAD_INDIRECT_TARGET = "bad_indirect_target"
    UNKNOWN_ACK = "unknown_ack"
    UNKNOWN_NACK = "unknown_nack"
    BAD_VSN = "bad_vsn"
    ALIVE_VETOED = "alive_vetoed"
    TOO_MANY_STREAMS = "too_many_streams"
    STREAM_TOO_LARGE = "stream_too_large"
    CIDR_DENIED = "cidr_denied"

    # -- the Serf layer: messages, push/pull state and probe payloads it will not act on ----
    UNEXPECTED_SERF_MESSAGE = "unexpected_serf_message"
    BAD_REMOTE_STATE = "bad_remote_state"
    BAD_META = "bad_meta"
    OLD_EVENT = "old_event"
    EVENT_BEFORE_MIN_TIME = "event_before_min_time"
    OLD_QUERY = "old_query"
    QUERY_BEFORE_MIN_TIME = "query_before_min_time"
    BAD_QUERY_FILTER = "bad_query_filter"
    BAD_QUERY_ADDRESS = "bad_query_address"
    UNANSWERED_QUERY_EVICTED = "unanswered_query_evicted"
    REPLY_FOR_UNKNOWN_QUERY = "reply_for_unknown_query"
    REPLY_ID_MISMATCH = "reply_id_mismatch"
    BAD_RELAY_ADDRESS = "bad_relay_address"
    BAD_COORDINATE = "bad_coordinate"
    REJECTED_COORDINATE = "rejected_coordinate"
    INTENT_QUEUE_PRUNED = "intent_queue_pruned"
    EVENT_QUEUE_PRUNED = "event_queue_pruned"
    QUERY_QUEUE_PRUNED = "query_queue_pruned"

    @classmethod
    def of(cls, exc: DecodeError) -> DropReason:
        """The reason a decoding failure is counted under (its most specific class)."""
        for kind in type(exc).__mro__:
            reason = _BY_ERROR.get(kind)
            if reason is not None:
                return reason
        return cls.DECODE_ERROR


_BY_ERROR: dict[type, DropReason] = {
    TruncatedInput: DropReason.TRUNCATED,
    MalformedMessage: DropReason.MALFORMED,
    UnknownMessageType: DropReason.UNKNOWN_MESSAGE_TYPE,
    ChecksumMismatch: DropReason.CHECKSUM_MISMATCH,
    DecryptionFailed: DropReason.DECRYPTION_FAILED,
    SizeLimitExceeded: DropReason.SIZE_LIMIT_EXCEEDED,
    UnsupportedEncoding: DropReason.UNSUPPORTED_ENCODING,
    LabelMismatch: DropReason.LABEL_MISMATCH,
    DecodeError: DropReason.DECODE_ERROR,
}
