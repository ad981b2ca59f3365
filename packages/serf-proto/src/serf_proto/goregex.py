"""Go's ``regexp`` as Go Serf 0.9.4 evaluates it, on the RE2 library (linear-time matching).

Go Serf filters members (``members -name/-status/-tag``) and answers queries (``query -tag``)
with Go's ``regexp`` package: RE2 syntax, UTF-8 text, matching in time linear in the input.
This module is the one place pyserf compiles such an expression. It uses the RE2 C++ library
(``google-re2``), which shares Go's syntax, and closes the gaps between the two so our
answers are Go's (Go 1.19, the toolchain of Debian's Serf 0.9.4):

* Errors carry Go's text, ``error parsing regexp: <code>: `<expr>```, with Go's code names
  (``missing closing ]`` where RE2 says ``missing ]``).
* Syntax RE2 accepts and Go 1.19 refuses is refused with Go's error: ``\\C`` (any byte),
  ``(?<name>...)`` (Go 1.22 added it), and Unicode class names newer than Go's Unicode 13
  tables (``\\p{Kawi}``).
* A text with bytes that are not UTF-8 matches as Go does: each such byte is one U+FFFD rune.
* Matches start only at rune boundaries, as in Go (RE2 may try ``\\B`` inside a rune).

Semantics shared by both and relied on: no multi-line mode by default (``$`` matches only at
the very end of the text, never before a trailing newline; ``(?m)`` changes that), ``.``
matches one rune but not ``\\n``, ``\\d \\s \\w \\b`` and ``[[:alpha:]]`` are ASCII, ``\\pL``
is Unicode, and look-arounds and back-references are refused.

Compiled expressions, and the errors of expressions that do not compile, are kept in a
bounded LRU cache: a peer that repeats a query with a hostile filter costs one compilation.
RE2 logs nothing (``log_errors`` off) and bounds a program's memory (``max_mem``, 2 MiB); an
expression over that bound is refused with ``expression too large`` (Go 1.20's text for its
own, larger bound). Go 1.19 accepts some of these, such as ``\\pL{200}``: the one known
kind of expression we refuse and Go accepts. (The binding keeps its own cache of the last
128 compiled expressions besides ours.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import re2  # type: ignore[import-untyped]

__all__ = ["GoRegex", "GoRegexError", "compile_go", "match_string"]

#: How many compiled expressions (or compile errors) the cache keeps.
CACHE_SIZE = 128
#: RE2's memory budget for one compiled expression (RE2's default is 8 MiB). It bounds what a
#: cached expression keeps (about half of it) and the time one compilation takes (under
#: 0.1 s on a small machine), so distinct hostile filters cost bounded memory and time. Go's
#: own bound is larger.
MAX_MEM = 2 << 20

#: RE2's error code texts -> Go's ``regexp/syntax`` ``ErrorCode`` texts.
_CODES = {
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
}
_CODES_LONGEST_FIRST = sorted(_CODES, key=len, reverse=True)
TOO_LARGE = "expression too large"

#: Unicode general categories and scripts Go 1.19's ``unicode`` package knows (Unicode 13.0),
#: the names ``\\p{...}`` accepts besides ``Any``.
_GO_CATEGORIES_TEXT = (
    "C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So"
    " Z Zl Zp Zs"
)
_GO_SCRIPTS_TEXT = """
    Adlam Ahom Anatolian_Hieroglyphs Arabic Armenian Avestan Balinese Bamum Bassa_Vah Batak
    Bengali Bhaiksuki Bopomofo Brahmi Braille Buginese Buhid Canadian_Aboriginal Carian
    Caucasian_Albanian Chakma Cham Cherokee Chorasmian Common Coptic Cuneiform Cypriot Cyrillic
    Deseret Devanagari Dives_Akuru Dogra Duployan Egyptian_Hieroglyphs Elbasan Elymaic Ethiopic
    Georgian Glagolitic Gothic Grantha Greek Gujarati Gunjala_Gondi Gurmukhi Han Hangul
    Hanifi_Rohingya Hanunoo Hatran Hebrew Hiragana Imperial_Aramaic Inherited
    Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kannada Katakana Kayah_Li
    Kharoshthi Khitan_Small_Script Khmer Khojki Khudawadi Lao Latin Lepcha Limbu Linear_A
    Linear_B Lisu Lycian Lydian Mahajani Makasar Malayalam Mandaic Manichaean Marchen
    Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs
    Miao Modi Mongolian Mro Multani Myanmar Nabataean Nandinagari New_Tai_Lue Newa Nko Nushu
    Nyiakeng_Puachue_Hmong Ogham Ol_Chiki Old_Hungarian Old_Italic Old_North_Arabian Old_Permic
    Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Oriya Osage Osmanya Pahawh_Hmong
    Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Runic Samaritan Saurashtra
    Sharada Shavian Siddham SignWriting Sinhala Sogdian Sora_Sompeng Soyombo Sundanese
    Syloti_Nagri Syriac Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet Takri Tamil Tangut Telugu
    Thaana Thai Tibetan Tifinagh Tirhuta Ugaritic Vai Wancho Warang_Citi Yezidi Yi
    Zanabazar_Square"""
_GO_UNICODE_NAMES = frozenset(_GO_CATEGORIES_TEXT.split() + _GO_SCRIPTS_TEXT.split() + ["Any"])


#: The characters Go allows in a capture group's name.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class GoRegexError(ValueError):
    """An expression Go's ``regexp.Compile`` refuses; ``str()`` is Go's error text."""

    def __init__(self, code: str, expr: str) -> None:
        super().__init__(f"error parsing regexp: {code}: `{expr}`")
        self.code = code
        self.expr = expr


@dataclass(frozen=True, slots=True)
class GoRegex:
    """A compiled expression; ``search`` is Go's ``Regexp.MatchString``."""

    pattern: str
    _compiled: Any

    def search(self, text: str) -> bool:
        """Whether the expression matches anywhere in ``text`` (unanchored, like Go)."""
        return self._compiled.search(_go_text(text)) is not None


def compile_go(expr: str) -> GoRegex:
    """Compile ``expr`` as Go's ``regexp.Compile`` would; raises :class:`GoRegexError`."""
    result = _compile_cached(expr)
    if isinstance(result, GoRegexError):
        raise GoRegexError(result.code, result.expr)  # a fresh one: no traceback piles up
    return result


def match_string(expr: str, text: str) -> bool:
    """Go's ``regexp.MatchString(expr, text)``; raises :class:`GoRegexError`."""
    return compile_go(expr).search(text)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile_cached(expr: str) -> GoRegex | GoRegexError:
    try:
        encoded = expr.encode("utf-8")
    except UnicodeEncodeError as exc:  # a str that carries bytes that are not UTF-8
        return GoRegexError("invalid UTF-8", expr[exc.start :])
    refusal = _go_only_refusal(expr)
    if refusal is not None:
        # Go parses left to right: an error RE2 finds before the refused construct comes first
        # (an unclosed group in that prefix is only the cut).
        at, error = refusal
        earlier = _re2_error(expr[:at], expr)
        if earlier is not None and earlier.code not in _CUT_ERRORS:
            return earlier
        return error
    try:
        compiled = re2.compile(encoded, _OPTIONS)
    except re2.error as exc:
        return _translate(exc, expr)
    if "\\B" in expr:
        # RE2 searches from every byte, so a match that is only \B can sit inside a multi-byte
        # rune, where Go never looks; start the search at rune boundaries instead.
        closing = "\\E)" if _open_quote(expr) else ")"
        compiled = re2.compile(("^(?s:.)*?(?:" + expr + closing).encode("utf-8"), _OPTIONS)
    return GoRegex(expr, compiled)


def _open_quote(expr: str) -> bool:
    """Whether ``expr`` ends inside a ``\\Q`` literal that has no ``\\E``."""
    i = expr.find("\\")
    while 0 <= i < len(expr):
        if expr.startswith("Q", i + 1):
            end = expr.find("\\E", i + 2)
            if end < 0:
                return True
            i = end + 2
        else:
            i += 2
        i = expr.find("\\", i)
    return False


#: Errors that a prefix of an expression may show only because it was cut short.
_CUT_ERRORS = ("missing closing )", "missing closing ]")


def _re2_error(prefix: str, expr: str) -> GoRegexError | None:
    """RE2's verdict on ``prefix`` of ``expr``, as Go's error."""
    try:
        re2.compile(prefix.encode("utf-8"), _OPTIONS)
    except re2.error as exc:
        return _translate(exc, expr)
    return None


def _translate(exc: Exception, expr: str) -> GoRegexError:
    """RE2's ``"<code>: <arg>"`` error text as Go's error for ``expr``."""
    message = exc.args[0] if exc.args else ""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    for code in _CODES_LONGEST_FIRST:
        if text == code:
            return GoRegexError(_CODES[code], "")
        if text.startswith(code + ": "):
            error = GoRegexError(_CODES[code], text[len(code) + 2 :])
            return _unicode_class_quirks(_repeat_quirks(error), expr)
    return GoRegexError(TOO_LARGE, expr)  # RE2: "pattern too large - compile failed"


def _unicode_class_quirks(error: GoRegexError, expr: str) -> GoRegexError:
    """Go's texts for a bad ``\\p``: a ``\\p`` that ends the expression is a bad class, not a
    bad escape, and an unclosed ``\\p{`` is reported with the rest of the expression."""
    arg = error.expr
    if error.code == "invalid escape sequence" and arg in ("\\p", "\\P") and expr.endswith(arg):
        return GoRegexError("invalid character class range", arg)
    if error.code == "invalid character class range" and arg[:3] in ("\\p{", "\\P{"):
        if "}" not in arg:
            at = expr.find(arg[:3])
            while at >= 0 and ("}" in expr[at:] or _escaped(expr, at)):
                at = expr.find(arg[:3], at + 1)
            if at >= 0:
                return GoRegexError(error.code, expr[at:])
    return error


def _escaped(expr: str, at: int) -> bool:
    """Whether the backslash at ``expr[at]`` is itself escaped (an odd run precedes it)."""
    run = len(expr[:at]) - len(expr[:at].rstrip("\\"))
    return run % 2 == 1


def _repeat_quirks(error: GoRegexError) -> GoRegexError:
    """Go checks a ``{n,m}`` on its own before anything around it.

    So a count out of range is reported alone (RE2 adds a following ``?``), and before the
    stacking of repetition operators (``*{1001}`` is a bad count in Go, a bad stack in RE2).
    """
    if error.code not in ("invalid repeat count", "invalid nested repetition operator"):
        return error
    last = error.expr.rfind("{")
    if last < 0:
        return error
    counted = error.expr[last:].removesuffix("?")
    if counted.endswith("}") and not _valid_count(counted[1:-1]):
        return GoRegexError("invalid repeat count", counted)
    return error


def _valid_count(body: str) -> bool:
    """Whether ``n``, ``n,`` or ``n,m`` (the inside of ``{}``) is a count Go accepts."""
    low, _, high = body.partition(",")
    if not low.isdigit() or (high and not high.isdigit()):
        return True  # not a count at all: leave RE2's verdict
    lo, hi = int(low), int(high) if high else -1
    return lo <= 1000 and hi <= 1000 and (hi < 0 or lo <= hi)


def _make_options() -> Any:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = MAX_MEM
    return options


_OPTIONS = _make_options()


def _go_text(text: str) -> str:
    """``text`` as Go sees it: a byte that is not UTF-8 (held as a surrogate) is U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def _go_only_refusal(expr: str) -> tuple[int, GoRegexError] | None:
    """The first construct RE2 accepts but Go 1.19 refuses: (position, Go's error); else None.

    A small scanner of Go's syntax: it skips ``\\Q...\\E`` literals and walks character
    classes, and looks only at escapes (``\\C``, ``\\p`` names) and ``(?`` groups, which Go
    parses with its own rules (flags ``imsU``, an optional ``-``, then ``:`` or ``)``; named
    groups only as ``(?P<name>``).
    """
    i, n, depth = 0, len(expr), 0
    while i < n:
        ch = expr[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None  # Go stops at this parenthesis, and so does RE2
        if ch == "\\":
            if expr.startswith("Q", i + 1):
                end = expr.find("\\E", i + 2)
                i = n if end < 0 else end + 2
                continue
            found = _escape_refusal(expr, i)
            if found is not None:
                return i, found
            i += 2
        elif ch == "[":
            i, found_at = _scan_class(expr, i)
            if found_at is not None:
                return found_at
        elif expr.startswith("(?", i):
            found = _perl_group_refusal(expr, i)
            if found is not None:
                return i, found
            i += 2
        else:
            i += 1
    return None


def _escape_refusal(expr: str, i: int) -> GoRegexError | None:
    """Go's refusal of the escape at ``expr[i]`` (a backslash) where RE2 accepts it."""
    kind = expr[i + 1 : i + 2]
    if kind == "C":
        return GoRegexError("invalid escape sequence", "\\C")
    if kind in ("p", "P"):
        if expr.startswith("{", i + 2):
            end = expr.find("}", i + 3)
            if end < 0:
                return None  # RE2 refuses it too
            name = expr[i + 3 : end].removeprefix("^")
            text = expr[i : end + 1]
        else:
            name = expr[i + 2 : i + 3]
            text = expr[i : i + 3]
        if name and name not in _GO_UNICODE_NAMES:
            return GoRegexError("invalid character class range", text)
    return None


def _scan_class(expr: str, start: int) -> tuple[int, tuple[int, GoRegexError] | None]:
    """Walk the class opening at ``expr[start]``: (index after it, a Go-only refusal)."""
    i, n = start + 1, len(expr)
    if expr.startswith("^", i):
        i += 1
    if expr.startswith("]", i):  # a leading ] is a literal
        i += 1
    while i < n and expr[i] != "]":
        if expr.startswith("[:", i):
            end = expr.find(":]", i + 2)
            if end >= 0:
                i = end + 2
                continue
        if expr[i] == "\\":
            found = _escape_refusal(expr, i)
            if found is not None:
                return n, (i, found)
            i += 2
            continue
        i += 1
    return i + 1, None


def _perl_group_refusal(expr: str, i: int) -> GoRegexError | None:
    """Go's refusal of the ``(?`` group at ``expr[i]``, where RE2 may accept it."""
    t = expr[i:]
    if len(t) > 4 and t[2] == "P" and t[3] == "<":
        # A named group: Go allows only ASCII letters, digits and _ in the name, RE2 any word
        # character (``(?P<é>x)``); an unclosed one both refuse alike.
        end = t.find(">")
        name = t[4:end]
        if end >= 0 and not (name and all(c in _NAME_CHARS for c in name)):
            return GoRegexError("invalid named capture", t[: end + 1])
        return None
    j, sign, saw_flag = 2, 1, False
    while j < len(t):
        c = t[j]
        j += 1
        if c in "imsU":
            saw_flag = True
        elif c == "-":
            if sign < 0:
                break
            sign, saw_flag = -1, False
        elif c in ":)":
            if sign < 0 and not saw_flag:
                break
            return None
        else:
            break
    return GoRegexError("invalid or unsupported Perl syntax", t[:j])
