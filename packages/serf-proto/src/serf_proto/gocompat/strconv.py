"""Go's ``strconv`` scalars as Serf's commands see them.

* :func:`parse_bool` is ``strconv.ParseBool``;
* :func:`parse_int` is ``strconv.ParseInt(s, 0, 64)``: an optional sign, base prefixes
  ``0x``/``0o``/``0b`` (either case), a leading ``0`` for octal, ``_`` only between digits (or
  right after a base prefix), and the int64 range;
* :func:`go_quote` is ``strconv.Quote`` (``%q``), :func:`go_trim_space` is ``strings.TrimSpace``.

Failures raise :class:`GoParseError` whose text is the short reason Go's ``flag`` package
prints (``parse error`` or ``value out of range``). Python's ``int(s, 0)`` differs from Go on
leading-zero octal, on ``_`` placement and on range, so the rules are written out here.

Strings that came off the wire may hold undecodable bytes as ``surrogateescape`` code points
(U+DC80..U+DCFF); each stands for one raw byte, as in a Go string.
"""

from __future__ import annotations

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

INT64_MAX = (1 << 63) - 1
INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1

#: Characters ``unicode.IsSpace`` accepts.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


class GoParseError(ValueError):
    """A value Go's ``strconv`` rejects; ``str()`` is the ``flag`` package's short reason."""


def parse_bool(text: str) -> bool:
    """Parse ``text`` as Go's ``strconv.ParseBool`` does."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise GoParseError("parse error")


def _underscores_ok(text: str) -> bool:
    """Go's ``underscoreOK``: each ``_`` between two digits (a base prefix counts as one)."""
    saw = "^"
    i = 0
    if text and text[0] in "+-":
        text = text[1:]
    hexa = False
    if len(text) >= 2 and text[0] == "0" and text[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = text[1].lower() == "x"
    while i < len(text):
        ch = text[i]
        if ("0" <= ch <= "9") or (hexa and ch.lower() in "abcdef"):
            saw = "0"
        elif ch == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_int(text: str) -> int:
    """Parse ``text`` as ``strconv.ParseInt(text, 0, 64)``."""
    if not text:
        raise GoParseError("parse error")
    body = text
    negative = False
    if body[0] in "+-":
        negative = body[0] == "-"
        body = body[1:]
    base = 10
    digits = body
    if len(body) >= 2 and body[0] == "0":
        prefix = body[1].lower()
        if prefix in "box":
            base = {"b": 2, "o": 8, "x": 16}[prefix]
            digits = body[2:]
        else:
            base = 8
            digits = body[1:]
    underscores = False
    value = 0
    seen_digit = False
    for ch in digits:
        if ch == "_":
            underscores = True
            continue
        digit = int(ch, 36) if ch.isascii() and ch.isalnum() else 99
        if digit >= base:
            raise GoParseError("parse error")
        value = value * base + digit
        if value > _UINT64_MAX:  # Go stops at the first overflow, before later syntax errors
            raise GoParseError("value out of range")
        seen_digit = True
    if not seen_digit and base != 8:
        raise GoParseError("parse error")
    if underscores and not _underscores_ok(text):
        raise GoParseError("parse error")
    if negative:
        value = -value
    if value > INT64_MAX or value < INT64_MIN:
        raise GoParseError("value out of range")
    return value


def _raw_byte(ch: str) -> int | None:
    """The raw byte a surrogateescape code point stands for, else ``None``."""
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:
        return cp - 0xDC00
    return None


def go_trim_space(text: str) -> str:
    """``strings.TrimSpace``: strip Go's Unicode white space from both ends."""
    return text.strip(_GO_SPACE)


def go_quote(text: str) -> str:
    """``strconv.Quote``: a double-quoted Go string literal."""
    out = ['"']
    for ch in text:
        raw = _raw_byte(ch)
        cp = ord(ch)
        if raw is not None:
            out.append(f"\\x{raw:02x}")
        elif ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif cp < 0x20 or cp == 0x7F:
            out.append(f"\\x{cp:02x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\\ufffd")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)
