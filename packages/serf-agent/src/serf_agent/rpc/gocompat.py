"""Small pieces of Go's standard library whose exact behaviour RPC clients can observe.

* ``go_base64_decode``: ``base64.StdEncoding.DecodeString``, including the byte offset in its
  ``illegal base64 data at input byte N`` error (key commands send that text back).
* ``compile_anchored``: the agent's member/tag filters compile ``"^" + expr + "$"`` with Go's
  regexp (:mod:`serf_proto.goregex`: RE2 syntax, Go's error texts, linear-time matching);
  ``$`` never matches before a trailing newline, and alternation stays half-anchored exactly
  as in Go (``w|cach`` matches ``web``).
"""

from __future__ import annotations

import string

from serf_proto.goregex import GoRegex, compile_go

_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
_DECODE = {ord(c): i for i, c in enumerate(_ALPHABET)}
_PAD = ord("=")
_NEWLINES = (ord("\n"), ord("\r"))


class Base64Error(ValueError):
    """Go's ``base64.CorruptInputError``; ``str()`` is Go's text."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def go_base64_decode(text: str) -> bytes:
    """Decode padded standard base64 exactly as Go does; raises ``Base64Error``."""
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


def compile_anchored(expr: str) -> GoRegex:
    """Compile ``^expr$`` as Go's agent does; raises ``GoRegexError`` (Go's text) if invalid."""
    return compile_go("^" + expr + "$")


def matches(pattern: GoRegex, text: str) -> bool:
    """Go's ``Regexp.MatchString``: true if the pattern matches anywhere in ``text``."""
    return pattern.search(text)
