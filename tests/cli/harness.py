"""Agents on loopback and side-by-side runs of Go's ``serf`` CLI and ours.

An *agent factory* is the command that starts ``serf agent`` with Go's flags: Go Serf
(``/usr/bin/serf agent``) or ours (``python -m serf_cli.main agent``). Tests get RPC addresses
from clusters built with it, so the same comparisons run against either agent.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from serf_cli.rpc_client import RPCClient

from tests.loopback import free_port

GO_SERF = "/usr/bin/serf"
#: How to start an agent, by factory name.
AGENT_COMMANDS: dict[str, list[str]] = {
    "go": [GO_SERF, "agent"],
    "pyserf": [sys.executable, "-m", "serf_cli.main", "agent"],
}
#: How to run each CLI.
GO_CLI = [GO_SERF]
PY_CLI = [sys.executable, "-m", "serf_cli.main"]

#: Query handler: answers queries named ``echo`` with ``resp-from-NODE payload=PAYLOAD``.
HANDLER_SCRIPT = """#!/bin/sh
if [ "$SERF_EVENT" = "query" ] && [ "$SERF_QUERY_NAME" = "echo" ]; then
  printf 'resp-from-%s payload=' "$SERF_SELF_NAME"
  cat
fi
"""


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until it holds; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Agent:
    """One running agent process."""

    name: str
    bind: str
    rpc: str
    proc: subprocess.Popen[bytes]
    log: Path
    auth: str = ""

    def stop(self) -> None:
        """Stop the process by PID (SIGTERM, then SIGKILL after 5 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Cluster:
    """Agents started by one factory; stop them all with :meth:`stop`."""

    factory: list[str]
    workdir: Path
    agents: list[Agent] = field(default_factory=list)

    def start(
        self,
        name: str,
        *extra: str,
        join: Agent | None = None,
        auth: str = "",
    ) -> Agent:
        """Start ``serf agent -node=NAME`` on fresh loopback ports; wait for its RPC."""
        bind = f"127.0.0.1:{free_port()}"
        rpc = f"127.0.0.1:{free_port()}"
        args = [f"-node={name}", f"-bind={bind}", f"-rpc-addr={rpc}", "-profile=local", *extra]
        if auth:
            config = self.workdir / f"{name}-auth.json"
            config.write_text(json.dumps({"rpc_auth": auth}))
            args.append(f"-config-file={config}")
        if join is not None:
            args.append(f"-join={join.bind}")
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*self.factory, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
            )
        agent = Agent(name, bind, rpc, proc, log, auth)
        self.agents.append(agent)

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"agent {name} exited:\n{log.read_text()}")
            try:
                with RPCClient.connect(rpc, auth, timeout=1.0) as client:
                    client.members()
            except OSError:
                return False
            return True

        wait_until(ready, 20, f"agent {name} RPC")
        return agent

    def wait_for_members(self, agent: Agent, count: int) -> None:
        """Wait until ``agent`` sees ``count`` alive members."""

        def converged() -> bool:
            with RPCClient.connect(agent.rpc, agent.auth, timeout=2.0) as client:
                return sum(m.status == "alive" for m in client.members()) == count

        wait_until(converged, 20, f"{count} alive members on {agent.name}")

    def stop(self) -> None:
        """Stop every agent this cluster started."""
        for agent in self.agents:
            agent.stop()


@contextlib.contextmanager
def cluster(factory: list[str], workdir: Path) -> Iterator[Cluster]:
    """A :class:`Cluster` whose agents are stopped on exit."""
    handler = workdir / "handler.sh"
    handler.write_text(HANDLER_SCRIPT)
    handler.chmod(0o755)
    c = Cluster(factory, workdir)
    try:
        yield c
    finally:
        c.stop()


@dataclass(frozen=True)
class Run:
    """Exit code and output of one CLI run."""

    code: int
    out: str
    err: str


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERF_")}
    env.update(extra or {})
    return env


def run_both(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[Run, Run]:
    """Run Go's CLI and ours with the same arguments at the same time; (go, ours)."""
    results: dict[str, Run] = {}

    def one(key: str, cli: list[str]) -> None:
        proc = subprocess.run(
            [*cli, *args],
            capture_output=True,
            env=_env(env),
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        results[key] = Run(
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
        )

    threads = [
        threading.Thread(target=one, args=("go", GO_CLI)),
        threading.Thread(target=one, args=("py", PY_CLI)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results["go"], results["py"]


#: Help lines for flags Go lacks (ours are opt-in additions); dropped before comparing help.
_OUR_HELP_ADDITIONS = re.compile(r"^  -early-exit .*?\n\n", re.MULTILINE | re.DOTALL)


def without_our_additions(text: str) -> str:
    """``text`` minus the help entries of flags only our CLI has."""
    return _OUR_HELP_ADDITIONS.sub("", text)


_KV_LIST = re.compile(r"^[^\s,=]+=[^\s,]*(?:,[^\s,=]+=[^\s,]*)+$")


def sort_kv_lists(line: str) -> str:
    """Sort ``k=v,k=v`` lists inside a line (Go prints map entries in random order)."""
    return " ".join(
        ",".join(sorted(tok.split(","))) if _KV_LIST.match(tok) else tok for tok in line.split(" ")
    )


def unordered(text: str) -> list[str]:
    """Lines with random-order parts normalised, trailing spaces dropped, sorted."""
    return sorted(sort_kv_lists(line).rstrip() for line in text.splitlines())


def ordered(text: str) -> list[str]:
    """Lines in order, with ``k=v`` lists sorted and trailing spaces dropped."""
    return [sort_kv_lists(line).rstrip() for line in text.splitlines()]


def canonical_json(text: str) -> object:
    """Parsed JSON with every list sorted (member and ack order is random)."""

    def canon(value: object) -> object:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in value.items()}
        if isinstance(value, list):
            return sorted((canon(v) for v in value), key=json.dumps)
        return value

    return canon(json.loads(text))
