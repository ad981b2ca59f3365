"""The complete example in docs/library.md runs and prints what the page says."""

from __future__ import annotations

import contextlib
import io
import re

from tests.conftest import REPO_ROOT

DOC = REPO_ROOT / "docs" / "library.md"


def test_the_library_page_example_runs_and_prints_its_documented_output() -> None:
    text = DOC.read_text()
    section = text.split("## A complete example", 1)[1]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    code = next(body for lang, body in blocks if lang == "python")
    expected = next(body for lang, body in blocks if lang == "text")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "library_example"})
    assert out.getvalue() == expected
