"""Start real `serf agent` processes (ours or Go's) on loopback for the process-level tests.

Every process is started with free ports, its stdout and stderr go to files, readiness is
polled with a deadline (never a fixed sleep), and ``stop()`` ends it by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.loopback import free_port

GO_SERF = "/usr/bin/serf"
READY_LINE = "==> Log data will now stream in as it occurs:"
DEADLINE = 60.0  # generous: only a failing or very slow run waits this long


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE, what: str = "") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


class AgentProcess:
    """One agent process: ``python -m serf_agent`` (ours) or ``/usr/bin/serf agent`` (Go)."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        *extra: str,
        go: bool = False,
        bind_port: int | None = None,
        rpc_port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.name = name
        self.go = go
        self.bind_port = bind_port or free_port()
        self.rpc_port = rpc_port or free_port()
        self.extra = list(extra)
        self.stdout_path = workdir / f"{name}.{'go' if go else 'py'}.out"
        self.stderr_path = workdir / f"{name}.{'go' if go else 'py'}.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def bind_addr(self) -> str:
        return f"127.0.0.1:{self.bind_port}"

    @property
    def rpc_addr(self) -> str:
        return f"127.0.0.1:{self.rpc_port}"

    def command(self) -> list[str]:
        base = [GO_SERF, "agent"] if self.go else [sys.executable, "-m", "serf_agent"]
        return [
            *base,
            f"-node={self.name}",
            f"-bind={self.bind_addr}",
            f"-rpc-addr={self.rpc_addr}",
            *self.extra,
        ]

    def start(self, *, wait: bool = True) -> AgentProcess:
        """Start the process (appending to its output files); wait for the log gate."""
        self.starts += 1
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            out.write(f"--- start {self.starts}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.command(), cwd=self.workdir, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )
        if wait:
            wait_until(
                lambda: self.output().count(READY_LINE) >= self.starts or self.exited(),
                what=f"{self.name} to start",
            )
            assert not self.exited(), self.output() + self.stderr()
        return self

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def last_run_output(self) -> str:
        return self.output().rsplit(f"--- start {self.starts}\n", 1)[-1]

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = DEADLINE) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """Kill the process by PID if it still runs (teardown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE)

    def serf(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run Go's ``serf`` CLI against this agent's RPC address."""
        command, rest = args[0], args[1:]
        return subprocess.run(
            [GO_SERF, command, f"-rpc-addr={self.rpc_addr}", *rest],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )

    def member_status(self, name: str) -> str | None:
        """``name``'s status as this agent reports it (Go CLI), or None if not listed."""
        result = self.serf("members")
        for line in result.stdout.splitlines():
            fields = line.split()
            if fields and fields[0] == name:
                return fields[2]
        return None
