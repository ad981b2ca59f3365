"""Agent logging: Go's line format, the start-up gate, levels, JSON lines and the monitor tap."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from serf_agent.logging_setup import TRACE, AgentLogging, subsystem

GO_LINE = re.compile(r"^    \d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(TRACE|DEBUG|INFO|WARN|ERR)\] ")


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def agent_logging(stream: io.StringIO) -> Iterator[AgentLogging]:
    logs = AgentLogging("INFO", stream=stream)
    logs.install()
    yield logs
    logs.uninstall()


def test_lines_look_like_gos_and_wait_for_the_gate(
    agent_logging: AgentLogging, stream: io.StringIO
) -> None:
    logging.getLogger("serf_proto.serf").info("EventMemberJoin: a 127.0.0.1")
    assert stream.getvalue() == ""  # held until the banner is printed
    agent_logging.open_gate()
    logging.getLogger("serf_agent.agent").warning("something")
    lines = stream.getvalue().splitlines()
    assert GO_LINE.match(lines[0]) and lines[0].endswith(
        "[INFO] serf: EventMemberJoin: a 127.0.0.1"
    )
    assert lines[1].endswith("[WARN] agent: something")


def test_levels_filter_the_console_and_can_change(
    agent_logging: AgentLogging, stream: io.StringIO
) -> None:
    agent_logging.open_gate()
    log = logging.getLogger("serf_proto.memberlist")
    log.debug("hidden")
    agent_logging.set_level("debug")
    log.debug("shown")
    log.log(TRACE, "still hidden")
    assert "hidden" not in stream.getvalue()
    assert stream.getvalue().strip().endswith("[DEBUG] memberlist: shown")


def test_the_tap_streams_lines_at_each_subscribers_level(agent_logging: AgentLogging) -> None:
    logging.getLogger("serf_agent").debug("before")  # below the console level, still kept
    got: list[str] = []
    unsubscribe = agent_logging.tap.subscribe("trace", got.append)
    assert got[0].endswith("[DEBUG] agent: before")  # the buffer comes first
    logging.getLogger("serf_agent.rpc").log(TRACE, "client connected")
    unsubscribe()
    logging.getLogger("serf_agent").info("after")
    assert len(got) == 2
    assert got[1].endswith("[TRACE] agent.ipc: client connected")
    assert logging.getLogger("serf_agent").level == logging.DEBUG  # TRACE off again


def test_json_lines_carry_level_module_and_message(stream: io.StringIO) -> None:
    logs = AgentLogging("INFO", stream=stream, json_lines=True)
    logs.install()
    try:
        logs.open_gate()
        logging.getLogger("serf_proto.serf").error("boom")
    finally:
        logs.uninstall()
    record = json.loads(stream.getvalue().strip())
    assert (record["@level"], record["@module"], record["@message"]) == ("err", "serf", "boom")


def test_subsystems_follow_go_names() -> None:
    assert subsystem("serf_proto.memberlist.state") == "memberlist"
    assert subsystem("serf_asyncio.transport") == "memberlist"
    assert subsystem("serf_agent.rpc.server") == "agent.ipc"
    assert subsystem("serf_agent.discovery") == "agent.mdns"
    assert subsystem("serf_agent.handlers") == "agent"


def test_syslog_receives_go_lines_at_the_console_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: io.StringIO
) -> None:
    import socket

    from serf_agent import logging_setup

    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(5)
        monkeypatch.setattr(logging_setup, "SYSLOG_SOCKETS", (path,))
        logs = AgentLogging("WARN", stream=stream, syslog_facility="LOCAL0")
        logs.install()
        try:
            logging.getLogger("serf_agent").info("not sent")
            logging.getLogger("serf_agent").warning("sent")
            datagram = server.recv(4096).decode()
        finally:
            logs.uninstall()
    assert datagram.startswith("<132>serf: ")  # LOCAL0 (16) * 8 + warning (4)
    assert datagram.rstrip("\x00").endswith("[WARN] agent: sent")


def test_with_log_json_every_stdout_line_of_a_real_agent_is_one_json_object(
    tmp_path: Path,
) -> None:
    """Banner, log lines, a handler's output and the shutdown: all parse with json.loads."""
    import signal
    import subprocess
    import sys

    from tests.agent.agentproc import free_port, wait_until

    bind, rpc = free_port(), free_port()
    out_path = tmp_path / "agent.out"
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "serf_agent",
                "-node=j1",
                f"-bind=127.0.0.1:{bind}",
                f"-rpc-addr=127.0.0.1:{rpc}",
                "-log-json",
                "-log-level=debug",
                "-event-handler=user:deploy=echo handled",
            ],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_until(lambda: "Log data will now stream in" in out_path.read_text(), what="agent")
        subprocess.run(
            [sys.executable, "-m", "serf_cli", "event", f"-rpc-addr=127.0.0.1:{rpc}", "deploy"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        wait_until(lambda: "handled" in out_path.read_text(), what="the handler's output")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None and proc.stderr.read() == b""
    proc.stderr.close()
    lines = out_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(
        isinstance(r, dict) and set(r) >= {"@timestamp", "@level", "@message"} for r in records
    )
    messages = [r["@message"] for r in records]
    assert "Serf agent running!" in messages and "Node name: 'j1'" in messages
    assert any("handled" in m for m in messages)
    assert "Gracefully shutting down agent..." in messages
