"""Text formats Go's ``serf`` command prints, reproduced exactly.

* :func:`go_json` is ``json.MarshalIndent(v, "", "  ")``: map keys sorted, struct fields in
  declaration order (:class:`GoStruct`), ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as
  ``\\u003c``-style sequences, invalid UTF-8 replaced by U+FFFD. Python's ``json`` module
  escapes differently (``ensure_ascii``) and has no struct/map distinction;
* :func:`columnize` is ``ryanuber/columnize.SimpleFormat`` (``|``-separated cells, two-space
  glue, widths measured in bytes but padded in runes, as the version Serf vendors does);
* :func:`go_sharp_v` is ``fmt``'s ``%#v`` for values go-msgpack decodes into ``interface{}``
  (what ``serf monitor`` prints for event records).

Strings that came off the wire may hold undecodable bytes as ``surrogateescape`` code points
(U+DC80..U+DCFF); each stands for one raw byte, as in a Go string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from serf_proto.gocompat.strconv import go_quote, go_trim_space


def _go_float(value: float) -> str:
    """``%v`` of a float64 (shortest representation, Go's exponent form)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = "-" if exp.startswith("-") else "+"
        digits = exp.lstrip("+-").rjust(2, "0")
        mantissa = mantissa.removesuffix(".0")
        return f"{mantissa}e{sign}{digits}"
    return text.removesuffix(".0")


def go_sharp_v(value: object, *, nested: bool = False) -> str:
    """``%#v`` of a value as go-msgpack decodes it into ``interface{}``.

    Integers up to 127 arrive as msgpack fixints and decode to ``int64`` (printed in
    decimal); larger ones are sent with unsigned markers and decode to ``uint64`` (printed as
    ``0x..``); negatives are ``int64``. Nested ``[]byte`` prints as ``[]uint8``, a nested nil as
    ``interface {}(nil)``, a top-level nil as ``<nil>``.
    """
    if value is None:
        return "interface {}(nil)" if nested else "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"0x{value:x}" if value >= 128 else str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bytes | bytearray):
        kind = "[]uint8" if nested else "[]byte"
        return kind + "{" + ", ".join(f"0x{b:x}" for b in value) + "}"
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: (str(type(kv[0])), kv[0]))
        inner = ", ".join(
            f"{go_sharp_v(k, nested=True)}:{go_sharp_v(v, nested=True)}" for k, v in items
        )
        return "map[interface {}]interface {}{" + inner + "}"
    if isinstance(value, Sequence):
        return "[]interface {}{" + ", ".join(go_sharp_v(v, nested=True) for v in value) + "}"
    return str(value)


def _json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        cp = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif cp < 0x20 or ch in "<>&" or cp in (0x2028, 0x2029):
            out.append(f"\\u{cp:04x}")
        elif 0xD800 <= cp <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class GoStruct(dict[str, object]):
    """A JSON object whose keys keep their insertion order (a Go struct), not sorted."""


def _json(value: object, indent: str) -> str:
    deeper = indent + "  "
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        keys = list(value) if isinstance(value, GoStruct) else sorted(value)
        body = ",\n".join(
            f"{deeper}{_json_string(str(k))}: {_json(value[k], deeper)}" for k in keys
        )
        return "{\n" + body + "\n" + indent + "}"
    if isinstance(value, Sequence):
        if not value:
            return "[]"
        body = ",\n".join(deeper + _json(v, deeper) for v in value)
        return "[\n" + body + "\n" + indent + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def go_json(value: object) -> str:
    """``json.MarshalIndent(value, "", "  ")``; dicts sort their keys, ``GoStruct`` keeps order."""
    return _json(value, "")


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def columnize(lines: Sequence[str]) -> str:
    """``columnize.SimpleFormat``: align ``|``-separated cells with two-space glue."""
    rows = [[go_trim_space(cell) for cell in line.split("|")] for line in lines]
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row):
            size = _byte_len(cell)
            if i >= len(widths):
                widths.append(size)
            elif widths[i] < size:
                widths[i] = size
    out: list[str] = []
    for row in rows:
        parts: list[str] = []
        for i, cell in enumerate(row):
            if i == len(row) - 1:
                parts.append(cell)
            else:
                parts.append(cell + " " * max(0, widths[i] - len(cell)) + "  ")
        out.append("".join(parts))
    return "\n".join(out)
