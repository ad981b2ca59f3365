"""Stream (TCP) framing: an encoder and an incremental decoder (bytes in, messages out).

A memberlist stream carries one message per direction, with no outer length unless encrypted:

* optional label header ``f4 | len | label`` (written by the dialer only; upstream ≥ 0.3);
* ``0a | L:u32be | blob``: AES-GCM blob of ``L`` bytes, additional data = the 5 header bytes
  + label; the plaintext is a whole stream message (usually compressed);
* ``09`` + msgpack ``{Algo, Buf}``: LZW, decompressing to a whole plain message;
* plain messages: a type byte and one msgpack map; a push/pull is ``06`` + header + ``Nodes``
  node-state maps + ``UserStateLen`` raw bytes; a user message is ``08`` + ``{UserMsgLen}`` +
  raw bytes.

``StreamDecoder`` parses this incrementally in the style of h11: ``feed`` any slice of the byte
stream (``b""`` = EOF) and receive every message completed so far. It never assumes that one read
is one message, keeps no more than the unparsed tail, and after a ``DecodeError`` refuses further
input. Several messages back to back are decoded in order.

The decoder is a small state machine: START (optional label) → TYPE → one of ENC_LEN → ENC_BLOB,
MAP (a single-map message, a compress wrapper, or a push/pull or user header), NODES (push/pull
node states) and RAW (push/pull user state or user-message bytes) → TYPE again.
"""

from __future__ import annotations

from enum import Enum, auto
from typing import Any, NoReturn

import msgpack

from serf_proto.errors import (
    DecodeError,
    DecryptionFailed,
    LabelMismatch,
    MalformedMessage,
    SizeLimitExceeded,
    TruncatedInput,
    UnknownMessageType,
)
from serf_proto.wire.framing import (
    COMPRESS_TYPE,
    ENCRYPT_TYPE,
    LABEL_TYPE,
    add_label,
    check_label,
    decompress_map,
    make_compressed,
    open_compressed,
)
from serf_proto.wire.gomsgpack import unpack
from serf_proto.wire.keyring import Entropy, Keyring, encrypted_length
from serf_proto.wire.limits import (
    MAX_DECOMPRESSED_SIZE,
    MAX_ENCRYPTED_STREAM_LEN,
    MAX_STREAM_BUFFERED,
)
from serf_proto.wire.messages import (
    MAP_DECODERS,
    Message,
    MessageType,
    PushNodeState,
    PushPull,
    UserMsg,
    decode_stream_message,
    encode_stream_message,
    push_node_state_from_bytes,
    push_pull_header_from_map,
    user_msg_len_from_map,
)
from serf_proto.wire.packet import Peeled, Trace

MSG_NOT_ENCRYPTED = "Encryption is configured but remote state is not encrypted"
MSG_NO_KEYRING = "Remote state is encrypted and encryption is not configured"


def seal_stream(
    body: bytes,
    *,
    compress: bool = False,
    keyring: Keyring | None = None,
    encryption_version: int = 1,
    label: bytes = b"",
    entropy: Entropy | None = None,
) -> bytes:
    """Compress (always, when on) and encrypt one encoded stream message (no label header).

    ``label`` is the additional data of the encryption, after the ``0a | u32 length`` header.
    """
    if compress:
        body = make_compressed(body)
    if keyring is not None and len(keyring):
        if entropy is None:
            raise ValueError("encryption needs an entropy source for nonces")
        length = encrypted_length(encryption_version, len(body))
        header = ENCRYPT_HEADER + length.to_bytes(4, "big")
        body = header + keyring.encrypt(body, header + label, entropy, encryption_version)
    return body


def encode_stream(
    msg: Message | bytes,
    *,
    compress: bool = False,
    keyring: Keyring | None = None,
    encryption_version: int = 1,
    label: bytes = b"",
    send_label_header: bool = False,
    entropy: Entropy | None = None,
) -> bytes:
    """Frame one stream message: compress (always, when on), encrypt, then the label header.

    ``msg`` may be a message object or an already encoded stream message. ``label`` is the
    additional data of the encryption; ``send_label_header`` writes it in front (dialer side).
    """
    body = seal_stream(
        msg if isinstance(msg, bytes) else encode_stream_message(msg),
        compress=compress,
        keyring=keyring,
        encryption_version=encryption_version,
        label=label,
        entropy=entropy,
    )
    return add_label(body, label) if send_label_header else body


#: Type bytes whose body starts with one msgpack map (a whole message, or a header).
_MAP_TYPES = frozenset(
    (*MAP_DECODERS, COMPRESS_TYPE, int(MessageType.PUSH_PULL), int(MessageType.USER))
)
#: The first byte of an encrypted stream frame.
ENCRYPT_HEADER = bytes((ENCRYPT_TYPE,))


class _State(Enum):
    START = auto()
    LABEL = auto()
    LABEL_BODY = auto()
    TYPE = auto()
    ENC_LEN = auto()
    ENC_BLOB = auto()
    MAP = auto()
    NODES = auto()
    RAW = auto()
    DONE = auto()
    FAILED = auto()


#: Parsed bytes are dropped from the decoder's copy once this many have gathered.
_TRIM_AT = 64 * 1024

# The states as module globals: an enum member lookup costs ~10x a global on every step.
_START = _State.START
_LABEL = _State.LABEL
_LABEL_BODY = _State.LABEL_BODY
_TYPE = _State.TYPE
_ENC_LEN = _State.ENC_LEN
_ENC_BLOB = _State.ENC_BLOB
_MAP = _State.MAP
_NODES = _State.NODES
_RAW = _State.RAW
_DONE = _State.DONE
_FAILED = _State.FAILED


class StreamDecoder:
    """Incremental decoder of one direction of a memberlist stream.

    ``keyring``: when it has keys, plaintext input is refused unless ``verify_incoming`` is
    false; without keys, encrypted input is refused. ``label``: the label of the connection,
    used as additional data of the encryption. ``label_header``: whether the stream starts with
    a label header (true for what a listener reads; false for the reply a dialer reads, which
    memberlist sends without one); the header must carry ``label``. ``skip_label_check`` is
    Go's ``SkipInboundLabelCheck``: the label is taken from the configuration and a stream that
    still carries a label header is refused. ``single_message``: stop after the first message
    and ignore whatever follows (a memberlist stream carries one message per direction).
    """

    def __init__(
        self,
        *,
        keyring: Keyring | None = None,
        label: bytes | None = b"",
        label_header: bool = True,
        skip_label_check: bool = False,
        verify_incoming: bool = True,
        max_decompressed: int = MAX_DECOMPRESSED_SIZE,
        single_message: bool = False,
        trace: Trace | None = None,
    ) -> None:
        self._keyring = keyring
        self._single = single_message
        self._label_header = label_header
        self._any_label = label is None
        self._label = label or b""
        self._trace = trace
        self._depth = 0
        self._skip_label_check = skip_label_check
        self._verify_incoming = verify_incoming
        self._max_decompressed = max_decompressed
        self._unpacker = msgpack.Unpacker(raw=True, max_buffer_size=MAX_STREAM_BUFFERED)
        self._state = _START if label_header else _TYPE
        self._type = 0
        self._need = 0
        self._pending = bytearray()
        self._enc_header = b""
        self._pp_join = False
        self._pp_left = 0
        self._pp_user_len = 0
        self._pp_states: list[PushNodeState] = []
        self._error: DecodeError | None = None
        self._eof = False
        self._received_label = b""
        # A copy of the bytes the unpacker holds (from offset ``_raw_at``), so that a node
        # state can be looked up by its exact bytes (see ``push_node_state_from_bytes``).
        self._raw = bytearray()
        self._raw_at = 0
        self._raw_start: int | None = None
        self._skip, self._tell = self._unpacker.skip, self._unpacker.tell

    @property
    def label(self) -> bytes:
        """The label the stream announced (``b""`` if none)."""
        return self._received_label

    @property
    def consumed(self) -> int:
        """How many bytes of the stream have been parsed so far."""
        return int(self._unpacker.tell())

    @property
    def idle(self) -> bool:
        """True when no partial message is buffered (a clean place for the stream to end)."""
        return self._state in (_START, _TYPE, _DONE) and not self._pending

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Add bytes (``b""`` = end of stream); return the messages completed by them.

        Raises ``DecodeError`` for bad input, and ``TruncatedInput`` at EOF inside a message.
        """
        if self._error is not None:
            raise self._error
        if self._eof and data:
            raise ValueError("data fed after end of stream")
        out: list[Message] = []
        if self._state is _DONE:
            return out
        try:
            if data:
                try:
                    self._unpacker.feed(data)
                except msgpack.BufferFull as exc:
                    raise SizeLimitExceeded("stream buffer limit exceeded") from exc
                self._raw += data
                self._run(out)
                consumed = self._unpacker.tell() if self._raw_start is None else self._raw_start
                if consumed - self._raw_at >= _TRIM_AT:
                    del self._raw[: consumed - self._raw_at]
                    self._raw_at = consumed
            else:
                self._eof = True
                self._run(out)
                if not self.idle:
                    raise TruncatedInput("stream ended inside a message")
        except DecodeError as exc:
            self._state = _FAILED
            self._error = exc
            trace = self._trace
            if trace is not None and not (trace and "error" in trace[-1].info):
                trace.append(Peeled("error", self._depth, {"error": str(exc)}))
            raise
        return out

    # ---------------------------------------------------------------------------------------

    def _take(self, n: int) -> bytes | None:
        """Collect exactly ``n`` raw bytes across feeds; ``None`` until they are all here."""
        missing = n - len(self._pending)
        if missing > 0:
            self._pending += self._unpacker.read_bytes(missing)
            if len(self._pending) < n:
                return None
        chunk = bytes(self._pending)
        self._pending.clear()
        return chunk

    def _next_object(self) -> tuple[bool, Any]:
        try:
            return True, self._unpacker.unpack()
        except msgpack.OutOfData:
            return False, None
        except Exception as exc:
            raise MalformedMessage(f"invalid msgpack: {exc}") from exc

    def _read_node_states(self) -> bool:
        """Read as many push/pull node states as have arrived; True once all of them have.

        Each state is looked up by its exact bytes (``push_node_state_from_bytes``). The
        unpacker's offset moves on even when an object is incomplete, so the start of the next
        state is kept here until that state is whole.
        """
        skip, tell = self._skip, self._tell
        raw, base, states = self._raw, self._raw_at, self._pp_states
        left = self._pp_left
        start = tell() if self._raw_start is None else self._raw_start
        try:
            while left:
                skip()
                end = tell()
                states.append(push_node_state_from_bytes(bytes(raw[start - base : end - base])))
                start = end
                left -= 1
        except msgpack.OutOfData:
            self._raw_start = start
            self._pp_left = left
            return False
        except DecodeError:
            raise
        except Exception as exc:
            raise MalformedMessage(f"invalid msgpack: {exc}") from exc
        self._raw_start = None
        self._pp_left = 0
        return True

    def _run(self, out: list[Message]) -> None:
        while True:
            if out and self._single:
                self._state = _DONE
                return
            state = self._state
            if state is _NODES:  # most reads of a big push/pull land here
                if not self._read_node_states():
                    return
                self._need = self._pp_user_len
                self._state = _RAW
            elif state is _START or state is _TYPE:
                b = self._take(1)
                if b is None:
                    return
                t = b[0]
                if state is _START and t == LABEL_TYPE:
                    self._state = _LABEL
                    continue
                if state is _START and not (self._skip_label_check or self._any_label):
                    self._check_label(b"")
                self._begin(t)
            elif state is _LABEL:
                n = self._take(1)
                if n is None:
                    return
                if n[0] == 0:
                    self._label_error(LabelMismatch("label header with an empty label"))
                if self._skip_label_check:
                    self._label_error(LabelMismatch("unexpected double label header"))
                self._need = n[0]
                self._state = _LABEL_BODY
            elif state is _LABEL_BODY:
                label = self._take(self._need)
                if label is None:
                    return
                if self._any_label:
                    self._label = label
                else:
                    self._check_label(label)
                self._received_label = label
                if self._trace is not None:
                    text = label.decode(errors="replace")
                    self._trace.append(Peeled("label", 0, {"label": text}))
                self._state = _TYPE
            elif state is _ENC_LEN:
                b = self._take(4)
                if b is None:
                    return
                length = int.from_bytes(b, "big")
                if self._trace is not None:
                    self._trace.append(Peeled("encrypt", self._depth, {"len": length}))
                if length > MAX_ENCRYPTED_STREAM_LEN:
                    raise SizeLimitExceeded(f"Remote node state is larger than limit ({length})")
                self._enc_header = ENCRYPT_HEADER + b
                self._need = length
                self._state = _ENC_BLOB
            elif state is _ENC_BLOB:
                blob = self._take(self._need)
                if blob is None:
                    return
                assert self._keyring is not None
                plain, index = self._keyring.decrypt_indexed(blob, self._enc_header + self._label)
                if self._trace is not None:
                    info = {"version": blob[0], "plainLen": len(plain), "keyIndex": index}
                    self._trace[-1].info.update(info, nonce=blob[1:13].hex())
                self._depth += 1
                out.append(self._decode_complete(plain))
                self._state = _TYPE
            elif state is _MAP:
                ok, obj = self._next_object()
                if not ok:
                    return
                self._on_map(obj, out)
            elif state is _RAW:
                raw = self._take(self._need) if self._need else b""
                if raw is None:
                    return
                if self._type == MessageType.PUSH_PULL:
                    out.append(PushPull(self._pp_join, tuple(self._pp_states), raw))
                    self._pp_states = []
                else:
                    out.append(UserMsg(raw))
                self._state = _TYPE
            else:  # DONE or FAILED
                return

    def _begin(self, t: int) -> None:
        encrypted_ring = self._keyring is not None and len(self._keyring) > 0
        if t == ENCRYPT_TYPE:
            if not encrypted_ring:
                if self._trace is not None:
                    self._trace.append(Peeled("encrypt", self._depth, {"error": MSG_NO_KEYRING}))
                raise DecryptionFailed(MSG_NO_KEYRING)
            self._state = _ENC_LEN
            return
        if encrypted_ring and self._verify_incoming:
            raise DecryptionFailed(MSG_NOT_ENCRYPTED)
        if t in _MAP_TYPES:
            if self._trace is not None and t != COMPRESS_TYPE:
                start = self._unpacker.tell() - 1
                self._trace.append(Peeled("message", self._depth, {"offset": start}))
            self._type = t
            self._state = _MAP
            return
        raise UnknownMessageType(t)

    def _check_label(self, received: bytes) -> None:
        try:
            check_label(received, self._label)
        except LabelMismatch as exc:
            self._label_error(exc)

    def _label_error(self, exc: LabelMismatch) -> NoReturn:
        if self._trace is not None:
            self._trace.append(Peeled("label", 0, {"error": str(exc)}))
        raise exc

    def _on_map(self, obj: Any, out: list[Message]) -> None:
        t = self._type
        if t == COMPRESS_TYPE:
            plain = decompress_map(obj, self._max_decompressed)
            if self._trace is not None:
                self._trace_compress(obj, plain)
            out.append(decode_stream_message(plain))
            self._state = _TYPE
        elif t == MessageType.PUSH_PULL:
            header = push_pull_header_from_map(obj)
            self._pp_join = header.join
            self._pp_left = header.nodes
            self._pp_user_len = header.user_state_len
            self._pp_states = []
            if header.nodes:
                self._state = _NODES
            else:
                self._need = header.user_state_len
                self._state = _RAW
        elif t == MessageType.USER:
            self._need = user_msg_len_from_map(obj)
            self._state = _RAW
        else:
            out.append(MAP_DECODERS[t](obj))
            self._state = _TYPE

    def _decode_complete(self, buf: bytes) -> Message:
        """Decode a whole stream message held in memory (a decrypted or compressed body)."""
        if buf and buf[0] == COMPRESS_TYPE:
            plain = open_compressed(buf, self._max_decompressed)
            if self._trace is not None:
                self._trace_compress(unpack(buf[1:]), plain)
            buf = plain
        elif self._trace is not None:
            self._trace.append(Peeled("message", self._depth, data=buf))
        return decode_stream_message(buf)

    def _trace_compress(self, obj: Any, plain: bytes) -> None:
        """Record a compress wrapper (``obj`` its decoded map) and the message inside."""
        assert self._trace is not None
        d = obj if isinstance(obj, dict) else {}
        buf = d.get(b"Buf", b"")
        info = {
            "Algo": d.get(b"Algo", 0),
            "compressedLen": len(buf) if isinstance(buf, bytes) else 0,
            "plainLen": len(plain),
        }
        self._trace.append(Peeled("compress", self._depth, info))
        self._trace.append(Peeled("message", self._depth + 1, data=plain))


def decode_stream(
    data: bytes | memoryview,
    *,
    keyring: Keyring | None = None,
    label: bytes = b"",
    label_header: bool = True,
    skip_label_check: bool = False,
    verify_incoming: bool = True,
) -> list[Message]:
    """Decode every message of a complete captured stream (one direction)."""
    decoder = StreamDecoder(
        keyring=keyring,
        label=label,
        label_header=label_header,
        skip_label_check=skip_label_check,
        verify_incoming=verify_incoming,
    )
    out = decoder.feed(data)
    out += decoder.feed(b"")
    return out
