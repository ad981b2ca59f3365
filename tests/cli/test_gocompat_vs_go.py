"""Flag, integer and duration parsing side by side with Go's ``serf`` on tricky inputs.

Go runs as real processes (all at once); ours runs in-process through the same dispatcher as
the ``serf`` command. Every case fails or stops before any network traffic: ``serf agent`` is
given a config directory that does not exist (Go reads it right after parsing the flags and the
durations) or a bind port that does not exist, ``serf query`` a closed loopback RPC port.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from serf_cli.main import dispatch
from serf_proto.gocompat import Ui

from tests.cli.harness import GO_SERF, Run, _env, without_our_additions

pytestmark = pytest.mark.interop

MISSING_DIR = "/nonexistent/pyserf-gocompat"
CLOSED_RPC = "-rpc-addr=127.0.0.1:1"

INTS = [
    "0", "00", "42", "+42", "-42", "+-1", "", " 1", "1.5", "1e3", "\u0663",
    "1_000", "1__0", "_1", "1_", "0_17", "0x10", "0X1f", "0x", "0x_1f", "0x_", "0o17", "0O17",
    "017", "08", "0b101", "0b2", "0b_1_0", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "0x8000000000000000",
    "18446744073709551616", "99999999999999999999x", "9223372036854775808x",
]  # fmt: skip
DURATIONS = [
    "0", "-0", "+0", "1s", "+1s", "-1.5s", ".5s", "1.s", ".s", "1", "30", "1x", "1 s", "1s2",
    "1us", "1\u00b5s", "1\u03bcs", "1\u00b5", "1ns", "1h1h", "1e3s", "\u0663s", "-", "abc",
    "0.3333333333333333333333h", "2562047h", "2562048h", "2562047h47m16.854775807s",
    "2562047h47m16.854775808s", "-2562047h47m16.854775808s", "9223372036854775807ns",
    "9223372036854775808ns", "99999999999999999999s",
]  # fmt: skip
#: Bind addresses Go refuses while setting up the agent (none of them may be valid: a valid
#: one would start an agent; a run that outlives its timeout is killed). Not listed: a
#: bracketed host followed by anything but ``:port`` (``[::1]x:1``), on which Go's agent loops
#: forever appending the default port; ours refuses it with "missing port in address".
BAD_BINDS = [
    "127.0.0.1:abc", "127.0.0.1:1x", "127.0.0.1:+-1", "127.0.0.1:70000", "127.0.0.1:-1",
    "127.0.0.1:99999999999999999999", "127.0.0.1:-99999999999", "::1", "[::1", "a:b:c",
    "[::1]:1:2", "a[b:1", "ab]:1",
]  # fmt: skip
#: Encryption keys that are not Go base64.
BAD_KEYS = ["abc$def", "YQ", "YQ=", "ab==cdef", "abcde=", "=", "YWJj YWJj", "YWJjé"]
#: Flag syntax around ``serf query`` (each ends in positionals or fails in the parser).
QUERY_LINES = [
    ["-timeout", "1s", "q"],
    ["--timeout=1s", "q"],
    ["-timeout"],
    ["-relay-factor"],
    ["-relay-factor", "0x10", "q"],
    ["-relay-factor=256", "q"],
    ["-relay-factor=-1", "q"],
    ["-no-ack", "false", "q"],
    ["-no-ack=false", "q"],
    ["-no-ack=maybe", "q"],
    ["-no-ack=", "q"],
    ["-no-ack=T", "q"],
    ["-bogus", "q"],
    ["---timeout=1s", "q"],
    ["-=1", "q"],
    ["--", "-timeout=x", "q"],
    ["-", "q"],
    ["q", "-timeout=x"],
    ["-tag", "a=1", "-tag=b=2", "-tag", "c", "q"],
    ["-node=a", "-node", "b", "q"],
]


def _go(args: list[str]) -> Run:
    proc = subprocess.run(
        [GO_SERF, *args],
        capture_output=True,
        env=_env(None),
        timeout=10,
        stdin=subprocess.DEVNULL,
        cwd=Path("/"),
    )
    return Run(
        proc.returncode,
        proc.stdout.decode("utf-8", "surrogateescape"),
        proc.stderr.decode("utf-8", "surrogateescape"),
    )


def run_go_all(lines: list[list[str]]) -> list[Run]:
    """Run Go's ``serf`` once per argument list, several at a time."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(_go, lines))


@contextlib.contextmanager
def _captured_process_streams() -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """Point ``sys.stdout``/``sys.stderr`` at byte buffers (the agent writes to them)."""
    out, err = io.BytesIO(), io.BytesIO()
    out_text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    err_text = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    with contextlib.redirect_stdout(out_text), contextlib.redirect_stderr(err_text):
        yield out, err


def run_ours(args: list[str]) -> Run:
    """Run our ``serf`` in-process with ``args`` (help entries Go lacks removed)."""
    with _captured_process_streams() as (out, err):
        code = dispatch(args, Ui(out, err))
        return Run(
            code,
            without_our_additions(out.getvalue().decode("utf-8", "surrogateescape")),
            err.getvalue().decode("utf-8", "surrogateescape"),
        )


def agent_args(flag: str) -> list[str]:
    return ["agent", flag, f"-config-dir={MISSING_DIR}"]


def query_args(*flags: str) -> list[str]:
    return ["query", *flags, CLOSED_RPC, "q"]


def setup_args(flag: str, empty_dir: Path) -> list[str]:
    """An agent that fails while resolving its settings (empty config dir, closed RPC)."""
    return ["agent", "-bind=127.0.0.1:0", flag, f"-config-dir={empty_dir}", CLOSED_RPC]


def agent_verdict(run: Run) -> tuple[int, str, str]:
    """Exit code, the flag error (stderr) and the first stdout line (our help text differs)."""
    return run.code, run.err, run.out.split("\n", 1)[0]


#: What our agent adds to Go's duration errors, naming the setting (docs/differences.md).
_WHERE = re.compile(r" \((?:flag -[\w-]+|key '[\w.]+')\)$")


def our_agent_verdict(run: Run) -> tuple[int, str, str]:
    """``agent_verdict`` of our run with the documented ``(flag -x)`` / ``(key 'x')`` suffix of a
    duration error taken off (the suffix must be there)."""
    code, err, first = agent_verdict(run)
    if "time: " in first:
        assert _WHERE.search(first), f"no setting named in {first!r}"
        first = _WHERE.sub("", first)
    return code, err, first


def test_integer_flags_accept_and_refuse_like_go() -> None:
    agent_lines = [agent_args(f"-retry-max={text}") for text in INTS]
    query_lines = [query_args(f"-relay-factor={text}") for text in INTS]
    go_runs = run_go_all(agent_lines + query_lines)
    mismatches = []
    for args, go in zip(agent_lines, go_runs[: len(INTS)], strict=True):
        if agent_verdict(run_ours(args)) != agent_verdict(go):
            mismatches.append((args, agent_verdict(go), agent_verdict(run_ours(args))))
    for args, go in zip(query_lines, go_runs[len(INTS) :], strict=True):
        if run_ours(args) != go:
            mismatches.append((args, go, run_ours(args)))
    assert mismatches == []
    # The table exercises both outcomes and both error reasons.
    texts = "".join(run.err for run in go_runs)
    assert "parse error" in texts and "value out of range" in texts
    assert any(MISSING_DIR in run.out for run in go_runs)


def test_durations_accept_and_refuse_like_go() -> None:
    agent_lines = [agent_args(f"-retry-interval={text}") for text in DURATIONS]
    agent_lines += [agent_args(f"-broadcast-timeout={text}") for text in DURATIONS[:8]]
    query_lines = [query_args(f"-timeout={text}") for text in DURATIONS]
    go_runs = run_go_all(agent_lines + query_lines)
    mismatches = []
    for args, go in zip(agent_lines, go_runs[: len(agent_lines)], strict=True):
        if our_agent_verdict(run_ours(args)) != agent_verdict(go):
            mismatches.append((args, agent_verdict(go), our_agent_verdict(run_ours(args))))
    for args, go in zip(query_lines, go_runs[len(agent_lines) :], strict=True):
        if run_ours(args) != go:
            mismatches.append((args, go, run_ours(args)))
    assert mismatches == []
    outs = "".join(run.out for run in go_runs)
    assert "time: missing unit" in outs and "time: unknown unit" in outs
    assert "connection refused" in outs


def test_config_file_durations_decode_like_go(tmp_path: Path) -> None:
    lines = []
    for i, text in enumerate(DURATIONS):
        path = tmp_path / f"c{i}.json"
        path.write_text(json.dumps({"broadcast_timeout": text}), encoding="utf-8")
        # An unknown bind port stops every agent that gets past its config.
        lines.append(["agent", f"-config-file={path}", "-bind=127.0.0.1:1x", CLOSED_RPC])
    go_runs = run_go_all(lines)
    mismatches = []
    for args, go in zip(lines, go_runs, strict=True):
        if our_agent_verdict(run_ours(args)) != agent_verdict(go):
            mismatches.append((args, agent_verdict(go), our_agent_verdict(run_ours(args))))
    assert mismatches == []
    outs = "".join(run.out for run in go_runs)
    assert "time: invalid duration" in outs and "unknown port" in outs


def test_addresses_and_keys_are_refused_like_go(tmp_path: Path) -> None:
    lines = [
        ["agent", f"-bind={addr}", f"-config-dir={tmp_path}", CLOSED_RPC] for addr in BAD_BINDS
    ]
    lines += [setup_args(f"-advertise={addr}", tmp_path) for addr in BAD_BINDS[:8]]
    lines += [setup_args(f"-encrypt={key}", tmp_path) for key in BAD_KEYS]
    go_runs = run_go_all(lines)
    mismatches = []
    for args, go in zip(lines, go_runs, strict=True):
        if agent_verdict(run_ours(args)) != agent_verdict(go):
            mismatches.append((args, agent_verdict(go), agent_verdict(run_ours(args))))
    assert mismatches == []
    outs = "".join(run.out for run in go_runs)
    for text in ("unknown port", "invalid port", "too many colons", "illegal base64 data"):
        assert text in outs


def test_flag_syntax_matches_go() -> None:
    lines = [["query", *line[:-1], CLOSED_RPC, line[-1]] for line in QUERY_LINES]
    lines += [["query", CLOSED_RPC, *line] for line in QUERY_LINES if len(line) == 1]
    go_runs = run_go_all(lines)
    mismatches = [(a, go, run_ours(a)) for a, go in zip(lines, go_runs, strict=True)]
    assert [m for m in mismatches if m[1] != m[2]] == []
    errs = "".join(run.err for run in go_runs)
    assert "flag needs an argument" in errs and "flag provided but not defined" in errs
