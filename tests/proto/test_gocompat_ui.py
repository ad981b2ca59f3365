"""The command UI: Go's ``BasicUi`` (all on stdout) and the agent's ``PrefixedUi``."""

from __future__ import annotations

import io

import pytest
from serf_proto.gocompat import Ui


def test_a_basic_ui_writes_every_kind_on_stdout_and_flag_text_on_stderr() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    ui = Ui(out, err)
    ui.output("one")
    ui.info("two")
    ui.error("three")
    ui.stderr("usage")
    assert out.getvalue() == b"one\ntwo\nthree\n"
    assert err.getvalue() == b"usage\n"


def test_a_prefixed_ui_prefixes_the_first_line_and_leaves_empty_messages_bare() -> None:
    out = io.BytesIO()
    ui = Ui.prefixed(out, io.BytesIO())
    ui.output("Starting Serf agent...")
    ui.info("Node name: 'a'")
    ui.error("bad\nsecond line")
    ui.info("")
    assert out.getvalue() == (
        b"==> Starting Serf agent...\n    Node name: 'a'\n==> bad\nsecond line\n\n"
    )


def test_undecodable_bytes_are_written_back_unchanged() -> None:
    out = io.BytesIO()
    Ui(out, io.BytesIO()).output(b"caf\xe9".decode("utf-8", "surrogateescape"))
    assert out.getvalue() == b"caf\xe9\n"


def test_only_the_agent_ui_ignores_a_closed_stream() -> None:
    closed = io.BytesIO()
    closed.close()
    Ui.prefixed(closed, closed).output("lost")  # no exception: the agent keeps running
    with pytest.raises(ValueError):
        Ui(closed, closed).output("lost")
