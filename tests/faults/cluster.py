"""Serf agents running inside a `NetLab`, driven and observed from outside.

Every agent runs in its own node namespace with gossip on ``<lab addr>:7946`` and RPC on
``127.0.0.1:7373`` *of that namespace* (each namespace has its own loopback, so the ports never
collide). The agent binary is a parameter (`AgentKind`): Go Serf and our ``serf agent`` accept the
same flags, so one scenario runs on Go-only, Python-only and mixed clusters.

Observation goes through the public interfaces only:

- the agent's RPC, queried with Go's own ``serf`` CLI inside the namespace
  (``ip netns exec <ns> /usr/bin/serf members -format=json``);
- an event handler script that appends one line per invocation to a file (``EVENT|NAME|LTIME|
  stdin``, stdin newlines turned into ``;``), which records *every* event the agent delivered,
  so "no member was ever reported failed" is checked exhaustively rather than by sampling;
- the agent's log (Go's message texts, e.g. ``Suspect n3 has failed``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tests.faults.netlab import NetLab, NetLabError, Node

REPO_ROOT = Path(__file__).resolve().parents[2]
GO_SERF = Path("/usr/bin/serf")
PY_SERF = REPO_ROOT / ".venv" / "bin" / "serf"
GOSSIP_PORT = 7946
RPC_ADDR = "127.0.0.1:7373"

T = TypeVar("T")


@dataclass(frozen=True)
class AgentKind:
    """Which ``serf agent`` implementation to run: a name and the command prefix."""

    name: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return self.name


GO = AgentKind("go", (str(GO_SERF), "agent"))
PY = AgentKind("py", (str(PY_SERF), "agent"))

HANDLER_SCRIPT = """#!/bin/sh
# Records one line per invocation: EVENT|NAME|LTIME|stdin (newlines as ';', tabs as ' ').
body=$(cat | tr '\\n\\t' '; ')
printf '%s|%s|%s|%s\\n' "$SERF_EVENT" "$SERF_USER_EVENT$SERF_QUERY_NAME" \\
    "$SERF_USER_LTIME$SERF_QUERY_LTIME" "$body" >> {log}
"""


def wait_until(
    check: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.5
) -> T:
    """Poll `check` until it returns something other than None/False; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = check()
        if last is not None and last is not False:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class HandlerRecord:
    """One handler invocation as the handler script logged it."""

    event: str
    name: str
    ltime: str
    body: str

    def member_names(self) -> list[str]:
        """Names of the members in a member-* event (first field of each stdin line)."""
        return [line.split(" ", 1)[0] for line in self.body.split(";") if line.strip()]


@dataclass
class Agent:
    """One agent process in one node namespace."""

    lab: NetLab
    node: Node
    kind: AgentKind
    workdir: Path
    handler_filter: str = ""
    extra_config: dict[str, object] = field(default_factory=dict)
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def name(self) -> str:
        return f"n{self.node.index}"

    @property
    def gossip_addr(self) -> str:
        return f"{self.node.addr}:{GOSSIP_PORT}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "agent.log"

    @property
    def handler_log(self) -> Path:
        return self.workdir / "handler.log"

    @property
    def snapshot_path(self) -> Path:
        return self.workdir / "snapshot"

    def command(self, join: Sequence[str]) -> list[str]:
        """The full ``serf agent`` command line for this agent."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        script = self.workdir / "handler.sh"
        script.write_text(HANDLER_SCRIPT.format(log=self.handler_log))
        script.chmod(0o755)
        config = self.workdir / "config.json"
        config.write_text(json.dumps({"reconnect_interval": "3s", **self.extra_config}))
        spec = f"{self.handler_filter}={script}" if self.handler_filter else str(script)
        argv = [
            *self.kind.argv,
            f"-node={self.name}",
            f"-bind={self.gossip_addr}",
            f"-rpc-addr={RPC_ADDR}",
            "-profile=lan",
            "-log-level=info",
            f"-snapshot={self.snapshot_path}",
            f"-config-file={config}",
            f"-event-handler={spec}",
            *self.extra_args,
        ]
        argv += [f"-join={addr}" for addr in join]
        return argv

    def start(self, join: Sequence[str] = ()) -> None:
        """Start (or restart, keeping the snapshot) the agent, joining `join` addresses."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.name} is already running")
        self.starts += 1
        argv = self.command(join)
        with self.log_path.open("a") as log:
            log.write(f"==== start #{self.starts} ({self.kind}): {' '.join(argv)}\n")
        self.proc = self.lab.spawn(self.node.ns, argv, log=self.log_path)

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill9(self) -> None:
        """SIGKILL the agent (no leave, no snapshot flush) and reap it."""
        assert self.proc is not None
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def rss_kib(self) -> int:
        """Resident memory of the agent process in KiB (from /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmRSS for {self.name}")

    # -- RPC through Go's CLI ----------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 15.0) -> str:
        """Run ``/usr/bin/serf <args> -rpc-addr=...`` inside this agent's namespace."""
        cmd, *rest = args
        return self.lab.ns_run(
            self.node.ns, [str(GO_SERF), cmd, f"-rpc-addr={RPC_ADDR}", *rest], timeout=timeout
        )

    def members(self) -> dict[str, str]:
        """Member name -> status (``alive``, ``failed``, ``left``...) as this agent sees it."""
        data = json.loads(self.cli("members", "-format=json"))
        return {m["name"]: m["status"] for m in data.get("members") or []}

    def try_members(self) -> dict[str, str] | None:
        """Like `members`, but None when the agent does not answer (paused, restarting)."""
        try:
            return self.members()
        except (NetLabError, subprocess.TimeoutExpired):
            # The CLI exited non-zero (no agent answering) or hung past its timeout; any other
            # error (bad JSON, a bug here) is not "no answer" and propagates.
            return None

    def info(self) -> dict[str, dict[str, str]]:
        data: dict[str, dict[str, str]] = json.loads(self.cli("info", "-format=json"))
        return data

    def event(self, name: str, payload: str = "") -> None:
        """Send a user event (not coalesced) through this agent."""
        self.cli("event", "-coalesce=false", name, payload)

    # -- what the agent delivered and logged -------------------------------------------------

    def handler_records(self) -> list[HandlerRecord]:
        if not self.handler_log.exists():
            return []
        records = []
        for line in self.handler_log.read_text(errors="replace").splitlines():
            parts = line.split("|", 3)
            if len(parts) == 4:
                records.append(HandlerRecord(*parts))
        return records

    def user_events(self) -> list[HandlerRecord]:
        return [r for r in self.handler_records() if r.event == "user"]

    def failed_reports(self) -> set[str]:
        """Names this agent's handler was ever told had failed."""
        return {
            name
            for rec in self.handler_records()
            if rec.event == "member-failed"
            for name in rec.member_names()
        }

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Cluster:
    """A set of agents in one lab, with whole-cluster observations."""

    lab: NetLab
    agents: list[Agent]

    def start(self) -> None:
        """Start the first agent, then every other one joining it; wait until all converge."""
        seed = self.agents[0]
        seed.start()

        def seed_answers() -> dict[str, str] | None:
            self.check_running()
            return seed.try_members()

        wait_until(seed_answers, timeout=30, what=f"{seed.name} RPC to answer")
        for agent in self.agents[1:]:
            agent.start(join=[seed.gossip_addr])
        self.wait_all_alive(timeout=60)

    def names(self) -> set[str]:
        return {a.name for a in self.agents}

    def views(self, agents: Sequence[Agent] | None = None) -> dict[str, dict[str, str] | None]:
        return {a.name: a.try_members() for a in (self.agents if agents is None else agents)}

    def wait_all_alive(
        self, *, timeout: float, observers: Sequence[Agent] | None = None
    ) -> dict[str, dict[str, str] | None]:
        """Wait until every observer sees every agent of the cluster as ``alive``."""
        expected = {name: "alive" for name in self.names()}
        last: dict[str, dict[str, str] | None] = {}

        def converged() -> bool:
            nonlocal last
            self.check_running()
            last = self.views(observers)
            return all(v == expected for v in last.values())

        try:
            wait_until(converged, timeout=timeout, what="every member alive everywhere")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last views: {last}") from None
        return last

    def check_running(self) -> None:
        """Fail with the tail of its log if any started agent has exited."""
        for agent in self.agents:
            if agent.proc is not None and not agent.running():
                tail = "\n".join(agent.log_text().splitlines()[-15:])
                raise AssertionError(
                    f"{agent.kind} agent {agent.name} exited with {agent.proc.poll()}:\n{tail}"
                )

    def all_failed_reports(self) -> dict[str, set[str]]:
        return {a.name: a.failed_reports() for a in self.agents}


def build_cluster(
    kinds: Sequence[AgentKind],
    workdir: Path,
    *,
    handler_filter: str = "",
    extra_config: dict[str, object] | None = None,
) -> Cluster:
    """Create a lab with one node per kind and an (unstarted) agent in each.

    The caller owns ``cluster.lab`` and must call ``lab.destroy()`` (also on failure).
    """
    lab = NetLab(size=len(kinds))
    try:
        lab.create()
    except Exception:
        lab.destroy()
        raise
    agents = [
        Agent(
            lab=lab,
            node=node,
            kind=kind,
            workdir=workdir / f"n{node.index}",
            handler_filter=handler_filter,
            extra_config=dict(extra_config or {}),
        )
        for node, kind in zip(lab.nodes, kinds, strict=True)
    ]
    return Cluster(lab=lab, agents=agents)


@contextmanager
def running_cluster(
    kinds: Sequence[AgentKind],
    workdir: Path,
    *,
    handler_filter: str = "",
    extra_config: dict[str, object] | None = None,
) -> Iterator[Cluster]:
    """A started cluster that is torn down (processes, rules, namespaces) on exit."""
    cluster = build_cluster(
        kinds, workdir, handler_filter=handler_filter, extra_config=extra_config
    )
    try:
        cluster.start()
        yield cluster
    finally:
        errors = cluster.lab.destroy()
        if errors:
            raise RuntimeError(f"lab teardown failed: {errors}")
