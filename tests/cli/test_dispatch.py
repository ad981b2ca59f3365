"""Dispatch without an agent: usage, help, version, unknown commands, delegation, lazy imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from serf_cli.main import COMMANDS, dispatch, usage_text
from serf_cli.ui import Ui

from tests.cli.harness import free_port


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.BytesIO(), io.BytesIO()
    code = dispatch(args, Ui(out, err))
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_no_command_prints_the_usage_on_stderr_and_exits_127() -> None:
    assert run([]) == (127, "", usage_text() + "\n")
    assert run(["bogus", "-h"]) == (127, "", usage_text() + "\n")


def test_the_usage_lists_every_command_with_its_synopsis() -> None:
    text = usage_text()
    assert text.startswith(
        "Usage: serf [--version] [--help] <command> [<args>]\n\nAvailable commands are:\n"
    )
    assert "    reachability    Test network reachability\n" in text
    assert "    agent           Runs a Serf agent\n" in text
    assert len(text.splitlines()) == 3 + len(COMMANDS)


def test_help_anywhere_prints_the_command_help_on_stderr() -> None:
    code, out, err = run(["members", "-name=x", "--help"])
    assert (code, out) == (0, "")
    assert err.startswith("Usage: serf members [options]\n")
    assert run(["-h"]) == (0, "", usage_text() + "\n")


def test_version_anywhere_wins_over_the_command() -> None:
    expected = "0.8.2-dev\nAgent Protocol: 5 (Understands back to: 2)\n"
    assert run(["event", "deploy", "-v"]) == (0, expected, "")
    assert run(["--version"]) == (0, expected, "")
    assert run(["version", "-h"]) == (0, "", "\n")


def test_flags_before_the_command_are_refused_with_its_help() -> None:
    code, out, err = run(["-x", "tags"])
    assert (code, out) == (1, "")
    assert err.startswith(
        "Invalid flags before the subcommand. If these flags are for\n"
        "the subcommand, please put them after the subcommand.\n\nUsage: serf tags"
    )


def test_argument_errors_go_to_stdout_with_the_help() -> None:
    code, out, err = run(["force-leave"])
    assert (code, err) == (1, "")
    assert out.startswith(
        "A node name must be specified to force leave.\n\nUsage: serf force-leave"
    )


def test_an_unknown_flag_prints_go_s_message_on_stderr_and_help_on_stdout() -> None:
    code, out, err = run(["join", "-bogus"])
    assert (code, err) == (1, "flag provided but not defined: -bogus\n")
    assert out.startswith("Usage: serf join [options] address ...\n")


def test_an_unreachable_agent_is_an_error_on_stdout() -> None:
    port = free_port()
    assert run(["members", f"-rpc-addr=127.0.0.1:{port}"]) == (
        1,
        f"Error connecting to Serf agent: dial tcp 127.0.0.1:{port}: connect: connection refused\n",
        "",
    )


def test_keygen_prints_a_base64_key_of_32_bytes() -> None:
    import base64

    code, out, _ = run(["keygen"])
    assert code == 0
    assert len(base64.b64decode(out.strip(), validate=True)) == 32


def test_a_delegated_command_without_its_module_reports_it_clearly() -> None:
    from serf_cli.commands._delegate import delegate

    out, err = io.BytesIO(), io.BytesIO()
    code = delegate("serf_agent.no_such_module", "agent", ["-node=x"], Ui(out, err))
    assert code == 1
    assert out.getvalue().decode() == (
        "Error: serf agent is not available: No module named 'serf_agent.no_such_module'\n"
    )
    assert err.getvalue() == b""


def test_a_delegated_command_gets_its_arguments_and_returns_its_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    seen: list[list[str]] = []
    fake = types.ModuleType("serf_agent.command")

    def fake_main(argv: list[str]) -> int:
        seen.append(argv)
        return 3

    fake.main = fake_main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "serf_agent.command", fake)
    assert run(["agent", "-x", "file.json"])[0] == 3
    assert run(["agent", "-h"])[0] == 3
    assert seen == [["-x", "file.json"], ["-h"]]


HEAVY = ["cryptography", "uvloop", "pydantic", "serf_agent", "serf_asyncio", "h11", "zeroconf"]


@pytest.mark.parametrize(
    "args", [["version"], ["members"], ["query", "x"], ["keygen"], ["members", "-h"]]
)
def test_client_commands_import_no_agent_and_no_heavy_dependency(args: list[str]) -> None:
    code = (
        "import json, sys\n"
        "from serf_cli.main import main\n"
        f"main({args!r} + ['-rpc-addr=127.0.0.1:{free_port()}'] if {args!r}[0] not in ('version', 'keygen') and '-h' not in {args!r} else {args!r})\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, check=False
    )
    loaded = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert loaded == []
