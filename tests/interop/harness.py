"""Mixed clusters on loopback: Go Serf agents (processes) and Python nodes (the async API).

Go agents run ``/usr/bin/serf agent`` with the ``local`` timing profile and an event handler
that logs user events to a file and answers queries with ``go:<name>``; they are inspected with
Go's own CLI (``serf members -format=json`` ...). Python nodes run in this process through
``serf_asyncio.SerfNode`` with the same profile, log their events, and answer queries with
``py:<name>``; a Python node that must be SIGKILLed runs in a child process
(``tests/interop/node_process.py``). Every process is stopped by PID when the cluster closes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serf_asyncio import SerfNode, node_config
from serf_proto.events import MemberEvent, Query, UserEvent
from serf_proto.types import MemberStatus

from tests.loopback import free_port

GO_SERF = "/usr/bin/serf"
REPO_ROOT = Path(__file__).resolve().parents[2]
#: How long cluster-wide convergence may take on loopback with the local profile (seconds).
CONVERGE = 45.0
#: Failure detection bound with the local profile (probe 1 s, suspicion ×3, Lifeguard).
DETECT_FAILURE = 40.0


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    timeout: float = CONVERGE,
    interval: float = 0.1,
    what: str = "condition",
) -> None:
    """Poll ``check`` until it holds; raise ``AssertionError`` naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(interval)


async def cli(*args: str, timeout: float = 15.0) -> tuple[int, str]:
    """Run Go's ``serf`` CLI; returns (exit code, stdout+stderr)."""
    proc = await asyncio.create_subprocess_exec(
        GO_SERF,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


@dataclass
class GoAgent:
    """One ``/usr/bin/serf agent`` process."""

    name: str
    port: int
    rpc_port: int
    workdir: Path
    host: str = "127.0.0.1"
    proc: asyncio.subprocess.Process | None = None

    @property
    def addr(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def rpc(self) -> str:
        return f"-rpc-addr=127.0.0.1:{self.rpc_port}"

    @property
    def event_log(self) -> Path:
        return self.workdir / f"{self.name}.events"

    @property
    def output_log(self) -> Path:
        return self.workdir / f"{self.name}.out"

    def handler_script(self) -> Path:
        script = self.workdir / f"{self.name}.handler.sh"
        script.write_text(
            "#!/bin/sh\n"
            'if [ "$SERF_EVENT" = "user" ]; then\n'
            f'  printf "%s\\n" "$SERF_USER_EVENT" >> "{self.event_log}"\n'
            "  cat > /dev/null\n"
            'elif [ "$SERF_EVENT" = "query" ]; then\n'
            "  cat > /dev/null\n"
            '  printf "go:%s" "$SERF_SELF_NAME"\n'
            "else\n"
            "  cat > /dev/null\n"
            "fi\n"
        )
        script.chmod(0o755)
        return script

    async def start(self, *extra: str, join: str | None = None, wait: bool = True) -> None:
        args = [
            "agent",
            f"-node={self.name}",
            f"-bind={self.addr}",
            self.rpc,
            "-profile=local",
            f"-event-handler={self.handler_script()}",
            *extra,
        ]
        if join is not None:
            args.append(f"-join={join}")
        out = self.output_log.open("ab")
        try:
            self.proc = await asyncio.create_subprocess_exec(
                GO_SERF, *args, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        finally:
            out.close()
        if wait:
            await eventually(self._rpc_up, timeout=15.0, what=f"Go agent {self.name} RPC")

    async def _rpc_up(self) -> bool:
        if self.proc is not None and self.proc.returncode is not None:
            raise AssertionError(
                f"Go agent {self.name} exited {self.proc.returncode}:\n{self.output()}"
            )
        code, _ = await cli("members", self.rpc)
        return code == 0

    def output(self) -> str:
        return self.output_log.read_text(errors="replace") if self.output_log.exists() else ""

    async def members(self) -> dict[str, dict[str, Any]]:
        code, out = await cli("members", "-format=json", self.rpc)
        assert code == 0, out
        listed = json.loads(out)["members"] or []
        return {m["name"]: m for m in listed}

    async def statuses(self) -> dict[str, str]:
        return {name: m["status"] for name, m in (await self.members()).items()}

    async def event(self, name: str, payload: str = "") -> None:
        code, out = await cli("event", self.rpc, "-coalesce=false", name, payload)
        assert code == 0, out

    async def query(self, name: str, payload: str = "", timeout: str = "3s") -> dict[str, Any]:
        code, out = await cli(
            "query", self.rpc, "-format=json", f"-timeout={timeout}", name, payload
        )
        assert code == 0, out
        result: dict[str, Any] = json.loads(out)
        return result

    async def set_tags(self, **tags: str) -> None:
        sets = [f"-set={k}={v}" for k, v in tags.items()]
        code, out = await cli("tags", self.rpc, *sets)
        assert code == 0, out

    async def join(self, addr: str) -> tuple[int, str]:
        return await cli("join", self.rpc, addr)

    async def keys(self, *args: str) -> tuple[int, str]:
        return await cli("keys", self.rpc, *args)

    async def leave(self) -> None:
        code, out = await cli("leave", self.rpc)
        assert code == 0, out
        if self.proc is not None:
            await asyncio.wait_for(self.proc.wait(), 15.0)

    def user_events(self) -> list[str]:
        if not self.event_log.exists():
            return []
        return self.event_log.read_text().splitlines()

    async def kill(self) -> None:
        """SIGKILL the agent and reap it."""
        if self.proc is not None:
            if self.proc.returncode is None:
                self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        await self.kill()


@dataclass
class PyNode:
    """One in-process Python node with event logs; answers queries with ``py:<name>``."""

    node: SerfNode
    user_events: list[str] = field(default_factory=list)
    member_events: list[MemberEvent] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def addr(self) -> str:
        return str(self.node.address)

    async def start(self) -> None:
        await self.node.start()
        self.task = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        async with self.node.events() as events:
            async for event in events:
                if isinstance(event, UserEvent):
                    self.user_events.append(event.name)
                elif isinstance(event, MemberEvent):
                    self.member_events.append(event)
                elif isinstance(event, Query):
                    self.queries.append(event.name)
                    if event.name.startswith("q-"):
                        self.node.respond(event, f"py:{self.name}".encode())

    def statuses(self) -> dict[str, str]:
        return {m.name: str(m.status) for m in self.node.members()}

    def tags_of(self) -> dict[str, dict[str, str]]:
        return {m.name: dict(m.tags) for m in self.node.members()}

    async def stop(self) -> None:
        await self.node.shutdown()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5.0)


@dataclass
class PyProcess:
    """A Python node in a child process (so the test can SIGKILL it)."""

    name: str
    port: int
    proc: asyncio.subprocess.Process | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, join: str, *extra: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).with_name("node_process.py")),
            self.name,
            self.addr,
            join,
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20.0)
        assert line.startswith(b"ready"), line + await self.proc.stdout.read()

    async def kill(self) -> None:
        """SIGKILL the node process and reap it."""
        if self.proc is not None:
            if self.proc.returncode is None:
                self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> None:
        await self.kill()


@dataclass
class Cluster:
    """Owns every agent and node of one test; ``close()`` stops them all by PID."""

    workdir: Path
    go: list[GoAgent] = field(default_factory=list)
    py: list[PyNode] = field(default_factory=list)
    children: list[PyProcess] = field(default_factory=list)

    async def start_go(
        self,
        name: str,
        *extra: str,
        join: str | None = None,
        wait: bool = True,
        host: str = "127.0.0.1",
    ) -> GoAgent:
        agent = GoAgent(name, free_port(host), free_port(), self.workdir, host)
        self.go.append(agent)
        await agent.start(*extra, join=join, wait=wait)
        return agent

    async def start_py(
        self,
        name: str,
        *,
        tags: dict[str, str] | None = None,
        keys: Iterable[str] = (),
        bind: str = "127.0.0.1:0",
        **serf: Any,
    ) -> PyNode:
        config = node_config(
            name,
            bind=bind,
            profile="local",
            tags=tags or {},
            keys=keys,
            agent_defaults=True,
            **serf,
        )
        node = PyNode(SerfNode(config, leave_on_exit=False))
        self.py.append(node)
        await node.start()
        return node

    async def start_child(self, name: str, join: str, *extra: str) -> PyProcess:
        child = PyProcess(name, free_port())
        self.children.append(child)
        await child.start(join, *extra)
        return child

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.go] + [n.name for n in self.py]

    async def views(self) -> dict[str, dict[str, str]]:
        """Every node's view: observer name -> {member name -> status}."""
        out: dict[str, dict[str, str]] = {}
        for agent in self.go:
            if agent.proc is not None and agent.proc.returncode is None:
                out[agent.name] = await agent.statuses()
        for node in self.py:
            if node.node.running:
                out[node.name] = node.statuses()
        return out

    async def wait_status(
        self, member: str, status: str, *, timeout: float = CONVERGE, observers: Iterable[str] = ()
    ) -> None:
        """Wait until every running observer (or those named) lists ``member`` as ``status``."""
        wanted = set(observers)
        last: dict[str, dict[str, str]] = {}

        async def check() -> bool:
            last.clear()
            last.update(await self.views())
            return all(
                view.get(member) == status
                for name, view in last.items()
                if (not wanted or name in wanted) and name != member
            )

        try:
            await eventually(check, timeout=timeout, what=f"{member} {status} everywhere")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; views: {last}") from None

    async def wait_converged(self, names: Iterable[str] | None = None) -> None:
        """Wait until every running node lists every node in ``names`` as alive."""
        expected = set(names if names is not None else self.names)
        last: dict[str, dict[str, str]] = {}

        async def check() -> bool:
            last.clear()
            last.update(await self.views())
            return all(
                {n for n, s in view.items() if s == str(MemberStatus.ALIVE)} >= expected
                for view in last.values()
            )

        try:
            await eventually(check, what=f"every node to see {sorted(expected)} alive")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; views: {last}") from None

    async def close(self) -> None:
        for node in self.py:
            await node.stop()
        for agent in self.go:
            await agent.stop()
        for child in self.children:
            await child.stop()
