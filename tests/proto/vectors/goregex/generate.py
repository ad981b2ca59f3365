"""Regenerate go1.19.8.json: Go's own verdicts on a table of regular expressions.

Needs Go 1.19 (Debian: ``apt-get install golang-1.19-go``), the toolchain of Debian's serf
0.9.4. Run from the repository root::

    python3 tests/proto/vectors/goregex/generate.py /usr/lib/go-1.19/bin/go

The table is the hand-picked cases below plus seeded random concatenations of syntax pieces
(RE2-only, Python-only and invalid ones included); every case gets Go's compile error text, or
its MatchString answer for each text in TEXTS.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# fmt: off
TEXTS = [
    "", "a", "ab", "aaa", "py1", "PY1", "py[1", "web", "web\n", "\nweb", "a\nb", "wéb", "日本",
    "A1_", "a-b", " x ", "\x00", "{2}", "\\", "*+", "😀", "ǅ", "K", "\u212a", "ſ", "S", "alive", "failed",
]

CURATED = [
    # the agent's anchoring and the query's plain search
    "^py[[:digit:]]$", "py[[:digit:]]", "^[[:alpha:]]+$", "^[[:^alpha:]]+$", "[[:word:]]",
    "[[:foo:]]", r"p\pLx?1", r"^p\pL\d$", r"\pN", r"\p{Greek}", r"\p{^Greek}", r"\PL",
    r"\p{Han}", r"\p{Any}", r"\p{Kawi}", r"\p{Foo}", r"\pX", "(?i)PY1", "(?i)k", "(?i:PY)1",
    "(?s)a.b", "(?m)^b", "(?m)a$", "a$", "^web$", "web$", r"web\z", r"\Aweb", "(?U)a+", "a+?",
    "a*?", "a??", "a{2}", "a{2,}", "a{,2}", "a{1,3}", "a{1001}", "a{3,1}", "a{2}{3}", "a**",
    "a*+", "a++", "a?+", "(a+)+$", "(a|aa)+$", "(a*)*b", ".", "^.$", "^..$", r"\w+", r"\d",
    r"\s", r"\S+", r"\b", r"\Bb", "[^a]", "[]a]", "[a-]", "[z-a]", "[a", "(a", "a)", ")", "*",
    "+a", "?", "\\", r"\C", r"\Z", r"\z", r"\1", r"\12", r"\0", r"\8", r"\x41", r"\x{1F600}",
    r"\x{110000}", r"\Q*+\E", r"\Qa.b", r"\e", r"\v", r"\a", r"\G", r"\X", r"\R", r"\h", r"\k",
    "(?P<n>a)", "(?P<n>a)(?P<n>b)", "(?<n>a)", "(?'n'a)", "(?P=n)", "(?P>n)", "(?P<>a)",
    "(?P<1a>a)", "(?=a)", "(?!a)", "(?<=a)", "(?<!a)", "(?#c)", "(?>a)", "(?|a)", "(?z)",
    "(?i-i)a", "(?-)a", "(?i", "(?:a|b)", "a|b", "w|cach", "^w|cach$", "", "|", "()", "(|)",
    "[[:digit:]-z]", r"[\d-z]", r"[a-\d]", r"[\pL-]", r"[\p{Greek}]", "[\\]", "x{", "x{1",
    "x{1,", "x{,}", r"\pL{1000}", "((((((((((a))))))))))", "(?i)ǆ", "\u00e9", "é+",
    "(?P<é>a)", "(?P<٣>a)", "(?P<a_1>a)", "(?P<a", "(?i)s", "(?i)ſ", "(?i)k", "(?i)\u212a",
    r"\pZ", r"\p{Lu}", r"\p{Zs}", "(?i)[k-s]", r"(?i)\x{212A}", r"[^\x00-\x{10FFFF}]",
]

PIECES = [
    "a", "b", "py", "1", ".", "^", "$", "*", "+", "?", "??", "*?", "+?", "*+", "**", "{2}",
    "{1,3}", "{,2}", "{2,}", "{1001}", "{3,1}", "(", ")", "(?:", "(?i)", "(?m)", "(?s)", "(?U)",
    "(?-i)", "(?i-s:", "(?P<n>", "(?<n>", "(?P=n)", "(?=", "(?!", "(?<=", "(?<!", "(?#", "|",
    "[", "]", "[^", "[:alpha:]", "[[:digit:]]", "[[:foo:]]", "[a-z]", "[z-a]", "\\", r"\d",
    r"\D", r"\s", r"\w", r"\W", r"\b", r"\B", r"\A", r"\z", r"\Z", r"\C", r"\pL", r"\pN",
    r"\p{Greek}", r"\p{^Greek}", r"\PL", r"\p{Kawi}", r"\p{Foo}", r"\pX", r"\1", r"\12", r"\0",
    r"\8", r"\x41", r"\x{1F600}", r"\Q*+\E", r"\Q", r"\E", r"\n", r"\t", r"\e", r"\-", r"\.",
    "-", ":", "é", "日", " ", "{", "}", ",", r"\p", r"\p{", r"\p{Any}",
]
# fmt: on


def cases() -> list[str]:
    rng = random.Random(20261208)
    generated = ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8))) for _ in range(600)]
    return list(dict.fromkeys(CURATED + generated))


def main() -> None:
    go = sys.argv[1] if len(sys.argv) > 1 else "go"
    binary = HERE / "oracle.bin"
    subprocess.run([go, "build", "-o", str(binary), str(HERE / "oracle.go")], check=True)
    try:
        version = subprocess.run(
            [str(binary), "-version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        exprs = cases()
        feed = "".join(json.dumps({"p": p, "t": TEXTS}) + "\n" for p in exprs)
        lines = subprocess.run(
            [str(binary)], input=feed, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    finally:
        binary.unlink(missing_ok=True)
    table = [{"p": p, **json.loads(line)} for p, line in zip(exprs, lines, strict=True)]
    rows = ",\n".join(json.dumps(case, ensure_ascii=False) for case in table)
    head = f'{{"go": {json.dumps(version)}, "texts": {json.dumps(TEXTS, ensure_ascii=False)},'
    out = HERE / f"{version}.json"
    out.write_text(f'{head}\n"cases": [\n{rows}\n]}}\n')
    print(f"{out}: {len(table)} cases")


if __name__ == "__main__":
    main()
