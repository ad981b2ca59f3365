"""The agent's member and tag filters, as Go's agent compiles them.

``compile_anchored``: the agent's member/tag filters compile ``"^" + expr + "$"`` with Go's
regexp (:mod:`serf_proto.goregex`: RE2 syntax, Go's error texts, linear-time matching); ``$``
never matches before a trailing newline, and alternation stays half-anchored exactly as in Go
(``w|cach`` matches ``web``). (Go's base64 key decoding lives in :mod:`serf_proto.gocompat`.)
"""

from __future__ import annotations

from serf_proto import GoRegex, compile_go


def compile_anchored(expr: str) -> GoRegex:
    """Compile ``^expr$`` as Go's agent does; raises ``GoRegexError`` (Go's text) if invalid."""
    return compile_go("^" + expr + "$")


def matches(pattern: GoRegex, text: str) -> bool:
    """Go's ``Regexp.MatchString``: true if the pattern matches anywhere in ``text``."""
    return pattern.search(text)
