"""Help texts, usage, version and dispatch errors: ours byte for byte like Go's CLI."""

from __future__ import annotations

import pytest

from tests.cli.harness import free_port, run_both, without_our_additions

pytestmark = pytest.mark.interop

CLIENT_COMMANDS = [
    "event",
    "force-leave",
    "info",
    "join",
    "keygen",
    "keys",
    "leave",
    "members",
    "monitor",
    "query",
    "reachability",
    "rtt",
    "tags",
    "version",
]
#: Our usage lists commands Go does not have; they are dropped before comparing.
OUR_EXTRA_USAGE_LINES = ("    dissect ", "    simulate ")


def usage_as_go(text: str) -> str:
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith(OUR_EXTRA_USAGE_LINES)
    )


@pytest.mark.parametrize("command", CLIENT_COMMANDS)
@pytest.mark.parametrize(
    "placement",
    [["-h"], ["--help"], ["-help"], ["x", "-h"], ["-rpc-addr=127.0.0.1:1", "y", "--help"]],
    ids=["h", "dash-dash-help", "help", "after-positional", "after-flags"],
)
def test_help_is_printed_on_stderr_with_exit_zero_like_go(
    command: str, placement: list[str]
) -> None:
    go, ours = run_both([command, *placement])
    assert (ours.code, ours.out, without_our_additions(ours.err)) == (go.code, go.out, go.err)
    assert ours.code == 0 and ours.out == ""


@pytest.mark.parametrize(
    "args",
    [[], ["bogus"], ["-h"], ["--help"], ["-h", "bogus"], ["--"], ["--", "members"], ["-version"]],
    ids=[
        "none",
        "unknown",
        "h",
        "help",
        "h-unknown",
        "dashdash",
        "dashdash-members",
        "version-flag",
    ],
)
def test_top_level_usage_and_exit_codes_match_go(args: list[str]) -> None:
    go, ours = run_both(args)
    assert (ours.code, ours.out, usage_as_go(ours.err)) == (go.code, go.out, go.err)
    assert ours.code in (0, 127)


@pytest.mark.parametrize(
    "args",
    [
        ["version"],
        ["-v"],
        ["--version"],
        ["version", "extra", "args"],
        ["event", "deploy", "-v"],
        ["members", "--", "--version"],
        ["-v", "-h"],
        ["version", "-h"],
        ["keygen", "-h"],
    ],
    ids=[
        "version",
        "v",
        "dashdash-version",
        "args",
        "v-late",
        "after-dashdash",
        "v-h",
        "ver-h",
        "keygen-h",
    ],
)
def test_version_is_printed_from_anywhere_like_go(args: list[str]) -> None:
    """Byte for byte like Go, except that ours adds exactly one last line: ``pyserf X``."""
    from serf_proto import __version__

    go, ours = run_both(args)
    pyserf_line = f"pyserf {__version__}\n"
    out = ours.out
    if go.out:
        assert out.endswith(pyserf_line), out
        out = out.removesuffix(pyserf_line)
    assert (ours.code, out, ours.err) == (go.code, go.out, go.err)


def test_a_flag_before_the_command_is_refused_like_go() -> None:
    go, ours = run_both(["-x", "members"])
    assert (ours.code, ours.out, ours.err) == (go.code, go.out, go.err)
    assert ours.code == 1 and ours.err.startswith("Invalid flags before the subcommand.")


FLAG_ERRORS = [
    ["members", "-bogus"],
    ["members", "--bogus=1"],
    ["members", "-format"],
    ["members", "---x"],
    ["members", "-=x"],
    ["members", "-h=1"],
    ["event", "-coalesce=maybe", "x"],
    ["query", "-relay-factor=abc", "x"],
    ["query", "-relay-factor=99999999999999999999", "x"],
    ["query", "-timeout=1.5q", "x"],
    ["keys", "-list=2"],
    ["tags", "-set"],
    ["monitor", "-log-level"],
]


@pytest.mark.parametrize("args", FLAG_ERRORS, ids=[" ".join(a) for a in FLAG_ERRORS])
def test_flag_errors_print_go_s_message_and_the_help(args: list[str]) -> None:
    go, ours = run_both(args)
    assert (ours.code, without_our_additions(ours.out), ours.err) == (go.code, go.out, go.err)
    assert ours.code == 1


def test_keygen_prints_a_fresh_32_byte_key_like_go() -> None:
    import base64

    go, ours = run_both(["keygen", "ignored"])
    assert (ours.code, len(ours.out), ours.err) == (go.code, len(go.out), go.err)
    assert len(base64.b64decode(ours.out.strip(), validate=True)) == 32
    assert ours.out != go.out


def test_flags_after_the_first_positional_are_positionals_like_go() -> None:
    from_env, from_flag = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    go, ours = run_both(["event", "deploy", f"-rpc-addr={from_flag}"], {"SERF_RPC_ADDR": from_env})
    assert (ours.code, ours.out, ours.err) == (go.code, go.out, go.err)
    assert (
        ours.out
        == f"Error connecting to Serf agent: dial tcp {from_env}: connect: connection refused\n"
    )
