"""LZW exactly as Go's ``compress/lzw`` writes and reads it with order LSB and literal width 8.

The format (GIF-style variable-width LZW):

* codes 0-255 are literals, 256 is CLEAR, 257 is EOF, the first dictionary code is 258;
* codes start 9 bits wide and grow to 12: the width grows when the next code to assign reaches
  ``2**width`` (no "early change");
* codes are packed least-significant bit first; the last partial byte is zero-padded;
* the writer emits CLEAR first; when the next code would be 4095 it emits CLEAR (at the current
  width) and starts a fresh table; it ends with EOF. Empty input gives CLEAR, EOF.
* the reader stops adding entries at width 12 until it sees CLEAR.

``compress`` reproduces Go's writer byte for byte. ``decompress`` follows Go's reader, refuses
codes Go refuses, and stops with ``SizeLimitExceeded`` as soon as the output would pass
``max_size`` (so a compression bomb cannot allocate unbounded memory). Input that ends before
EOF raises ``TruncatedInput``.
"""

from __future__ import annotations

from serf_proto.errors import MalformedMessage, SizeLimitExceeded, TruncatedInput
from serf_proto.wire.limits import MAX_DECOMPRESSED_SIZE

_CLEAR = 256
_EOF = 257
_MAX_WIDTH = 12
_MAX_CODE = (1 << _MAX_WIDTH) - 1  # 4095


def compress(data: bytes | memoryview) -> bytes:
    """Compress ``data`` into Go ``compress/lzw`` (LSB, 8) output."""
    out = bytearray()
    bits = 0
    nbits = 0
    width = 9
    hi = _EOF
    overflow = 1 << width
    table: dict[int, int] = {}

    # The writer starts with a CLEAR code (9 bits).
    bits |= _CLEAR << nbits
    nbits += width

    if not data:
        bits |= _EOF << nbits
        nbits += width
        while nbits > 0:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
        return bytes(out)

    view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    code = view[0]
    for i in range(1, len(view)):
        literal = view[i]
        key = (code << 8) | literal
        found = table.get(key)
        if found is not None:
            code = found
            continue
        # Emit the current code; the literal starts the next one.
        bits |= code << nbits
        nbits += width
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
        code = literal
        hi += 1
        if hi == overflow:
            width += 1
            overflow <<= 1
        if hi == _MAX_CODE:
            bits |= _CLEAR << nbits
            nbits += width
            while nbits >= 8:
                out.append(bits & 0xFF)
                bits >>= 8
                nbits -= 8
            width = 9
            hi = _EOF
            overflow = 1 << width
            table.clear()
            continue
        table[key] = hi

    # Close: the pending code, then (after Go's incHi, which may emit CLEAR) EOF.
    bits |= code << nbits
    nbits += width
    hi += 1
    if hi == overflow:
        width += 1
        overflow <<= 1
    if hi == _MAX_CODE:
        bits |= _CLEAR << nbits
        nbits += width
        width = 9
    bits |= _EOF << nbits
    nbits += width
    while nbits > 0:
        out.append(bits & 0xFF)
        bits >>= 8
        nbits -= 8
    return bytes(out)


def decompress(data: bytes | memoryview, max_size: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Decompress Go ``compress/lzw`` (LSB, 8) data; at most ``max_size`` output bytes.

    Raises ``TruncatedInput`` (no EOF code), ``MalformedMessage`` (an invalid code) or
    ``SizeLimitExceeded`` (output above ``max_size``).
    """
    out = bytearray()
    # Entry i of the current table (i >= 258) expands to entries[i - 258].
    entries: list[bytes] = []
    width = 9
    hi = _EOF
    overflow = 1 << width
    last: bytes | None = None  # expansion of the previous code; None = invalid
    bits = 0
    nbits = 0
    pos = 0
    n = len(data)
    mask = (1 << width) - 1
    while True:
        while nbits < width:
            if pos >= n:
                raise TruncatedInput("LZW data ends before the EOF code")
            bits |= data[pos] << nbits
            pos += 1
            nbits += 8
        code = bits & mask
        bits >>= width
        nbits -= width

        if code < _CLEAR:
            cur = bytes((code,))
        elif code == _CLEAR:
            width = 9
            mask = (1 << width) - 1
            hi = _EOF
            overflow = 1 << width
            last = None
            entries.clear()
            continue
        elif code == _EOF:
            return bytes(out)
        elif code <= hi:
            idx = code - 258
            if idx < len(entries):
                cur = entries[idx]
            elif code == hi and last is not None:
                cur = last + last[:1]
            else:
                raise MalformedMessage(f"LZW: invalid code {code}")
        else:
            raise MalformedMessage(f"LZW: invalid code {code}")
        if len(out) + len(cur) > max_size:
            raise SizeLimitExceeded(f"LZW output exceeds {max_size} bytes")
        out += cur
        if last is not None:
            entries.append(last + cur[:1])
        last = cur
        hi += 1
        if hi >= overflow:
            if width == _MAX_WIDTH:
                last = None
                hi -= 1
            else:
                width += 1
                mask = (1 << width) - 1
                overflow = 1 << width
