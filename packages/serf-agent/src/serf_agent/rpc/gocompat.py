"""The agent's member and tag filters, as Go's agent compiles them.

``compile_anchored``: the agent's member/tag filters compile ``"^" + expr + "$"`` with RE2.
Python's ``re`` is used with ASCII classes and ``\\Z`` so ``$`` never matches before a
trailing newline; alternation stays half-anchored exactly as in Go (``w|cach`` matches
``web``). (Go's base64 key decoding lives in :mod:`serf_proto.gocompat`.)
"""

from __future__ import annotations

import re


def compile_anchored(expr: str) -> re.Pattern[str]:
    """Compile ``^expr$`` as Go's agent does; raises ``re.error`` for an invalid pattern."""
    return re.compile("^" + expr + r"\Z", re.ASCII)


def matches(pattern: re.Pattern[str], text: str) -> bool:
    """Go's ``Regexp.MatchString``: true if the pattern matches anywhere in ``text``."""
    return pattern.search(text) is not None
