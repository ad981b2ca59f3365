"""A private network of Linux network namespaces for fault tests.

Layout: one *bridge* namespace holds a Linux bridge; every node gets its own namespace with a
single interface ``eth0``, the node end of a veth pair whose other end (``p<i>``) is enslaved to
the bridge. Both ends are created directly inside our namespaces (``ip link add ... netns``), so
nothing is ever added to the host's namespace. Nodes get addresses ``10.213.0.<i+1>/24``, a
range that exists only on these veths: the namespaces have no route anywhere else, so no packet
can leave the lab.

Faults are iptables rules inside the node namespaces, in two chains of our own that are hooked
into INPUT and OUTPUT for ``eth0`` only (loopback, where each agent's RPC listens, is never
touched):

- ``PYSERF_LOSS``: ``-m statistic --mode random --probability P -j DROP`` on INPUT, i.e. every
  link loses a fraction P of the packets it delivers (the kernel here has no netem);
- ``PYSERF_PART``: DROP on arrival from the addresses on the other side of a partition.

`NetLab.destroy` kills what `NetLab.spawn` started (by PID and process group), flushes the
chains and deletes every namespace it created, which removes the veths and rules with them.
Namespace names carry the creating PID (``pyserf-<pid>-<tag>-...``) so `sweep_stale` can remove
leftovers of a crashed run without touching anything else.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SUBNET_PREFIX = "10.213.0."
NS_PREFIX = "pyserf-"
LOSS_CHAIN = "PYSERF_LOSS"
PART_CHAIN = "PYSERF_PART"


class NetLabError(RuntimeError):
    """A command that builds or changes the lab failed."""


def _run(argv: Sequence[str], *, timeout: float = 20.0) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise NetLabError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def list_namespaces() -> list[str]:
    """Names of every network namespace known to ``ip netns``."""
    out = _run(["ip", "netns", "list"])
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def sweep_stale() -> list[str]:
    """Delete lab namespaces whose creating process no longer exists; return their names."""
    removed = []
    for name in list_namespaces():
        if not name.startswith(NS_PREFIX):
            continue
        pid_part = name[len(NS_PREFIX) :].split("-", 1)[0]
        if not pid_part.isdigit() or Path(f"/proc/{pid_part}").exists():
            continue
        with contextlib.suppress(NetLabError):
            _run(["ip", "netns", "del", name])
            removed.append(name)
    return removed


@dataclass
class Node:
    """One node namespace: its name, index and address on the lab subnet."""

    index: int
    ns: str
    addr: str


@dataclass
class NetLab:
    """Builds, alters and tears down the namespace network (see the module docstring)."""

    size: int
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    nodes: list[Node] = field(default_factory=list)
    bridge_ns: str = ""
    _created: list[str] = field(default_factory=list)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"{NS_PREFIX}{os.getpid()}-{self.tag}"

    # -- construction ------------------------------------------------------------------------

    def create(self) -> NetLab:
        """Create the bridge namespace and `size` node namespaces; return self."""
        if self.size > 250:
            raise NetLabError("at most 250 nodes fit the lab subnet")
        self.bridge_ns = f"{self.base}-br"
        self._add_ns(self.bridge_ns)
        self.ns_run(self.bridge_ns, ["ip", "link", "add", "br0", "type", "bridge"])
        self.ns_run(self.bridge_ns, ["ip", "link", "set", "br0", "up"])
        for i in range(self.size):
            node = Node(index=i, ns=f"{self.base}-n{i}", addr=f"{SUBNET_PREFIX}{i + 1}")
            self._add_ns(node.ns)
            # Both veth ends are born inside our namespaces: the host never sees them.
            _run(
                [
                    "ip", "link", "add", "eth0", "netns", node.ns,
                    "type", "veth", "peer", "name", f"p{i}", "netns", self.bridge_ns,
                ]
            )  # fmt: skip
            self.ns_run(self.bridge_ns, ["ip", "link", "set", f"p{i}", "master", "br0"])
            self.ns_run(self.bridge_ns, ["ip", "link", "set", f"p{i}", "up"])
            self.ns_run(node.ns, ["ip", "addr", "add", f"{node.addr}/24", "dev", "eth0"])
            self.ns_run(node.ns, ["ip", "link", "set", "eth0", "up"])
            self._install_chains(node.ns)
            self.nodes.append(node)
        return self

    def _add_ns(self, name: str) -> None:
        _run(["ip", "netns", "add", name])
        self._created.append(name)
        self.ns_run(name, ["ip", "link", "set", "lo", "up"])

    def _install_chains(self, ns: str) -> None:
        for chain in (LOSS_CHAIN, PART_CHAIN):
            self.ns_run(ns, ["iptables", "-w", "-N", chain])
            self.ns_run(ns, ["iptables", "-w", "-A", "INPUT", "-i", "eth0", "-j", chain])
            self.ns_run(ns, ["iptables", "-w", "-A", "OUTPUT", "-o", "eth0", "-j", chain])

    # -- running things inside ---------------------------------------------------------------

    def ns_run(self, ns: str, argv: Sequence[str], *, timeout: float = 20.0) -> str:
        """Run `argv` inside namespace `ns`, wait for it and return its stdout."""
        return _run(["ip", "netns", "exec", ns, *argv], timeout=timeout)

    def spawn(
        self, ns: str, argv: Sequence[str], *, log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `argv` inside `ns` in its own session, output appended to `log`.

        ``ip netns exec`` execs the command, so the returned PID is the command's own.
        """
        with log.open("ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        self._procs.append(proc)
        return proc

    # -- faults ------------------------------------------------------------------------------

    def set_loss(self, probability: float, nodes: Sequence[Node] | None = None) -> None:
        """Drop a random `probability` of the packets each node receives on eth0 (0 clears)."""
        for node in self.nodes if nodes is None else nodes:
            self.ns_run(node.ns, ["iptables", "-w", "-F", LOSS_CHAIN])
            if probability > 0:
                self.ns_run(
                    node.ns,
                    [
                        "iptables", "-w", "-A", LOSS_CHAIN, "-i", "eth0",
                        "-m", "statistic", "--mode", "random",
                        "--probability", f"{probability:.4f}", "-j", "DROP",
                    ],
                )  # fmt: skip

    def partition(self, side_a: Sequence[Node], side_b: Sequence[Node]) -> None:
        """Drop every packet between a node of `side_a` and a node of `side_b`, both ways.

        Packets are dropped where they arrive, so senders see no error, as on a real network
        whose link went away (an OUTPUT DROP would make ``sendto`` fail with EPERM instead).
        """
        for mine, theirs in ((side_a, side_b), (side_b, side_a)):
            for node in mine:
                for other in theirs:
                    rule = ["-A", PART_CHAIN, "-i", "eth0", "-s", other.addr, "-j", "DROP"]
                    self.ns_run(node.ns, ["iptables", "-w", *rule])

    def heal(self) -> None:
        """Remove every partition rule."""
        for node in self.nodes:
            self.ns_run(node.ns, ["iptables", "-w", "-F", PART_CHAIN])

    def dropped(self, node: Node) -> int:
        """Packets the loss chain of `node` has dropped so far."""
        out = self.ns_run(node.ns, ["iptables", "-w", "-L", LOSS_CHAIN, "-v", "-n", "-x"])
        return sum(
            int(line.split()[0])
            for line in out.splitlines()[2:]
            if line.split() and line.split()[2] == "DROP"
        )

    def rules(self, node: Node) -> str:
        """The node's iptables rules, as ``iptables -S`` prints them."""
        return self.ns_run(node.ns, ["iptables", "-w", "-S"])

    # -- teardown ----------------------------------------------------------------------------

    def stop_all(self) -> None:
        """SIGKILL every process `spawn` started (and its process group) and reap it, then
        every process still running inside one of our namespaces (by PID)."""
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self._procs.clear()
        # Anything else still inside our namespaces (a handler script in its own session).
        for name in self._created:
            with contextlib.suppress(NetLabError):
                for pid in _run(["ip", "netns", "pids", name]).split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)

    def destroy(self) -> list[str]:
        """Stop all processes, flush our chains and delete our namespaces; return failures."""
        errors = []
        self.stop_all()
        for node in self.nodes:
            for chain in (LOSS_CHAIN, PART_CHAIN):
                with contextlib.suppress(NetLabError):
                    self.ns_run(node.ns, ["iptables", "-w", "-F", chain])
        for name in reversed(self._created):
            try:
                _run(["ip", "netns", "del", name])
            except NetLabError as exc:
                errors.append(str(exc))
        self._created.clear()
        return errors
