"""Go's ``base64.StdEncoding.DecodeString``, as Serf decodes gossip encryption keys.

Keys arrive as padded standard base64 in flags, config files, keyring files and RPC requests.
Go skips ``\\r``/``\\n`` anywhere and reports the first bad byte's offset
(``illegal base64 data at input byte 4``), which users see in ``serf agent`` and ``serf keys``
errors; Python's ``base64`` module gives neither the same acceptance nor the offset.
"""

from __future__ import annotations

import string

#: Key lengths memberlist accepts (AES-128, AES-192, AES-256).
KEY_SIZES = (16, 24, 32)
#: Go's error for a key of another length.
KEY_SIZE_ERROR = "key size must be 16, 24 or 32 bytes"

_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
_DECODE = {ord(c): i for i, c in enumerate(_ALPHABET)}
_PAD = ord("=")
_NEWLINES = (ord("\n"), ord("\r"))


class Base64Error(ValueError):
    """Go's ``base64.CorruptInputError``; ``str()`` is Go's text."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def decode_base64(text: str) -> bytes:
    """Decode padded standard base64 exactly as Go does; raises :class:`Base64Error`."""
    src = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    si = 0
    while True:
        si, chunk, done = _decode_quantum(src, si)
        out += chunk
        if done:
            return bytes(out)


def _decode_quantum(src: bytes, si: int) -> tuple[int, bytes, bool]:
    """One 4-character quantum (Go's ``decodeQuantum``): next index, bytes, finished."""
    dbuf = [0, 0, 0, 0]
    dlen = 4
    j = 0
    while j < 4:
        if si == len(src):
            if j == 0:
                return si, b"", True
            raise Base64Error(si - j)
        ch = src[si]
        si += 1
        value = _DECODE.get(ch)
        if value is not None:
            dbuf[j] = value
            j += 1
            continue
        if ch in _NEWLINES:
            continue
        if ch != _PAD or j in (0, 1):
            raise Base64Error(si - 1)
        if j == 2:
            while si < len(src) and src[si] in _NEWLINES:
                si += 1
            if si == len(src):
                raise Base64Error(len(src))
            if src[si] != _PAD:
                raise Base64Error(si - 1)
            si += 1
        while si < len(src) and src[si] in _NEWLINES:
            si += 1
        if si < len(src):
            raise Base64Error(si)
        dlen = j
        break
    value = dbuf[0] << 18 | dbuf[1] << 12 | dbuf[2] << 6 | dbuf[3]
    chunk = value.to_bytes(3, "big")[: dlen - 1]
    return si, chunk, dlen < 4
