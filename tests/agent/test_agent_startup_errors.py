"""A misconfigured `serf agent` process prints Go's message on stdout and exits 1 at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT = 60


def run_agent(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "serf_agent", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (["-tag", "foo"], "==> Error: Invalid tag: 'foo'\n"),
        (
            ["-retry-interval=abc"],
            '==> Error: time: invalid duration "abc" (flag -retry-interval)\n',
        ),
        (
            ["-event-handler=bogus=/bin/true"],
            "==> Invalid event script: Event 'bogus' invoking '/bin/true'\n",
        ),
        (
            ["-iface=nope0"],
            "==> Invalid network interface: route ip+net: no such network interface\n",
        ),
        (
            ["-log-level=bogus"],
            "==> Invalid log level: BOGUS. Valid log levels are: [TRACE DEBUG INFO WARN ERR]\n",
        ),
        (["-profile=bogus"], "==> Unknown profile: bogus\n"),
        (
            ["-encrypt=abcdefghi"],
            "==> Invalid encryption key: illegal base64 data at input byte 8\n",
        ),
        (
            ["-config-file=nope.json"],
            "==> Error reading 'nope.json': open nope.json: no such file or directory\n",
        ),
        (
            ["-protocol=1"],
            "==> Starting Serf agent...\n==> Failed to start the Serf agent: Error creating Serf: "
            "Protocol version '1' too low. Must be in range: [2, 5]\n",
        ),
        (
            ["-protocol=6"],
            "==> Starting Serf agent...\n==> Failed to start the Serf agent: Error creating Serf: "
            "Protocol version '6' too high. Must be in range: [2, 5]\n",
        ),
        (
            ["-encrypt=abcdefghij=="],
            "==> Starting Serf agent...\n==> Failed to start the Serf agent: Error creating Serf: "
            "Failed to create memberlist: key size must be 16, 24 or 32 bytes\n",
        ),
        (
            ["-encrypt=YS029FLySwr2lkH4HAqaxcLwAK+j3pl2HNISYL8BHDQ=", "-keyring-file=k.json"],
            "==> Starting Serf agent...\n==> Failed to setup the Serf agent: "
            "Encryption key not allowed while using a keyring\n",
        ),
        (
            ["-keyring-file=/nonexistent/k.json"],
            "==> Starting Serf agent...\n==> Failed to setup the Serf agent: "
            "stat /nonexistent/k.json: no such file or directory\n",
        ),
        (
            ["-snapshot=/nonexistent/dir/snap"],
            "==> Starting Serf agent...\n==> Failed to start the Serf agent: Error creating Serf: "
            "Failed to setup snapshot: failed to open snapshot: open /nonexistent/dir/snap: "
            "no such file or directory\n",
        ),
        (
            ["-tag", "a=b", "-tags-file=t.json"],
            "==> Starting Serf agent...\n==> Failed to setup the Serf agent: "
            "Tags config not allowed while using tag files\n",
        ),
    ],
)
def test_bad_settings_exit_1_with_gos_message(tmp_path: Path, args: list[str], stdout: str) -> None:
    result = run_agent("-node=n", "-bind=127.0.0.1:0", "-rpc-addr=127.0.0.1:0", *args, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, stdout)


def test_a_bad_config_file_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "typeerr.json").write_text(json.dumps({"protocol": "5"}))
    result = run_agent("-config-file=typeerr.json", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == (
        "==> Error decoding 'typeerr.json': 1 error(s) decoding:\n\n"
        "* 'protocol' expected type 'int', got unconvertible type 'string', value: '5'\n"
    )


def test_validate_node_names_refuses_a_bad_name_with_gos_text(tmp_path: Path) -> None:
    (tmp_path / "validate.json").write_text(json.dumps({"Validate_Node_Names": True}))
    result = run_agent(
        "-node=web_1", "-config-file=validate.json", "-bind=127.0.0.1:0", cwd=tmp_path
    )
    assert (result.returncode, result.stdout) == (
        1,
        "==> Starting Serf agent...\n==> Failed to start the Serf agent: Error creating Serf: "
        "Node name contains invalid characters web_1 , Valid characters include "
        "all alpha-numerics and dashes and '.' \n",
    )


def test_an_unknown_flag_goes_to_stderr_with_the_help_on_stdout() -> None:
    result = run_agent("-bogus")
    assert result.returncode == 1
    assert result.stderr == "flag provided but not defined: -bogus\n"
    assert result.stdout.startswith("==> Usage: serf agent [options]")


def test_help_is_printed_on_stderr_with_status_0() -> None:
    result = run_agent("-h")
    assert result.returncode == 0
    assert result.stderr.startswith("Usage: serf agent [options]")


def test_the_serf_command_dispatches_to_the_agent() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from serf_cli.main import main; sys.exit(main())",
            "agent",
            "-profile=bogus",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "==> Unknown profile: bogus\n")


@pytest.mark.skipif(Path("/dev/log").exists(), reason="a syslog socket exists here")
def test_syslog_without_a_syslog_socket_fails_like_go(tmp_path: Path) -> None:
    result = run_agent("-node=n", "-syslog", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (
        1,
        "==> Syslog setup failed: Unix syslog delivery error\n",
    )
