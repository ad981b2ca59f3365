"""Size bounds of the wire protocol, as Go memberlist and Serf enforce them (all in bytes).

Decoders refuse input above these bounds with ``SizeLimitExceeded``; the Serf layer uses the send
limits to refuse oversized events, queries and tag sets with ``PayloadTooLarge``.
"""

from __future__ import annotations

#: Largest UDP datagram memberlist reads (``udpPacketBufSize``).
MAX_PACKET_SIZE = 65536
#: Piggyback budget of one gossip packet (``UDPBufferSize``).
UDP_BUFFER_SIZE = 1400
#: Most parts one compound may carry (Go 0.2.2 mis-decodes ≥ 128; never send more than 127).
MAX_COMPOUND_PARTS = 127
#: Largest node meta (``MetaMaxSize``); Serf's encoded tags must fit.
META_MAX_SIZE = 512
#: Most node states one push/pull may announce (memberlist ≥ 0.6 bound).
MAX_PUSH_PULL_NODES = 1_048_576
#: Largest push/pull user state, reliable user message and encrypted stream frame (20 MiB).
MAX_USER_STATE_LEN = 20 * 1024 * 1024
MAX_USER_MSG_LEN = 20 * 1024 * 1024
MAX_ENCRYPTED_STREAM_LEN = 20 * 1024 * 1024
#: Largest decompressed LZW output (40 MiB); a compression bomb stops here.
MAX_DECOMPRESSED_SIZE = 40 * 1024 * 1024
#: Most bytes one stream may deliver to the node before it is refused (two 20 MiB bounds).
MAX_STREAM_BYTES = 2 * MAX_USER_STATE_LEN + 65536
#: Most unparsed bytes a ``StreamDecoder`` buffers (a 20 MiB push/pull plus headroom).
MAX_STREAM_BUFFERED = MAX_ENCRYPTED_STREAM_LEN + 4 * 1024 * 1024
#: How deep compound and compress wrappers may nest below the outermost one in one packet.
MAX_NESTING = 4
#: Longest label (``f4`` header length byte).
MAX_LABEL_LEN = 255

#: Serf's default and hard limits on user events (``len(name)+len(payload)`` and encoded size).
USER_EVENT_SIZE_LIMIT = 512
USER_EVENT_SIZE_LIMIT_HARD = 9 * 1024
#: Serf's limits on an encoded query and on an encoded query response / ack / relay.
QUERY_SIZE_LIMIT = 1024
QUERY_RESPONSE_SIZE_LIMIT = 1024
