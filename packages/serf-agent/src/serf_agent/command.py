"""``serf agent``: load and check the configuration, start the agent, print Go's banner, wait.

The command follows Go's sequence and prints Go's texts on stdout (``==> `` for status and
errors, four spaces for details and log lines):

1. parse the flags, read the config files, merge, check (exit 1 on any error, nothing bound);
2. ``==> Starting Serf agent...``, load the tags and keyring files, create and bind the node;
3. start the RPC listener (``==> Starting Serf agent RPC...``), and the HTTP endpoint if asked;
4. print the banner, join ``-join`` addresses (exit 1 if none answers), open the log gate;
5. run ``-retry-join`` in the background and wait for a signal:

   * SIGINT leaves gracefully (unless ``skip_leave_on_interrupt``) and exits 0, else exits 1;
   * SIGTERM exits 1 without leaving, or leaves and exits 0 with ``leave_on_terminate``;
   * a second signal, or a leave that takes more than 3 s, exits 1 at once;
   * SIGHUP re-reads the same command line and files and applies the log level, handlers,
     tags and leave-on-signal settings;
   * an agent that shuts down by itself (RPC ``leave``) exits 0; exhausted retry joins exit 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from serf_proto.gocompat import (
    SECOND,
    FlagError,
    HelpRequestedError,
    Ui,
    format_duration,
    join_host_port,
)

from serf_agent.config import AgentConfig, ConfigError, default_config, merge, read_config_paths
from serf_agent.flags import agent_help, parse_agent_flags
from serf_agent.handlers import HandlerSpec
from serf_agent.keyring_file import StateFileError, load_startup_state
from serf_agent.logging_setup import AgentLogging, JsonUi, SyslogError
from serf_agent.settings import (
    NetworkSettings,
    check_config,
    check_log_level,
    check_serf_limits,
    resolve_network,
)

if TYPE_CHECKING:  # the runtime import waits until the networking runtime is known to exist
    from serf_agent.agent import Agent

#: Seconds a graceful leave may take before the command gives up and exits 1 (Go: 3 s).
GRACEFUL_TIMEOUT = 3.0
HELP_ARGS = ("-h", "-help", "--help")


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """The merged, checked configuration and the handlers it names."""

    config: AgentConfig
    handlers: list[HandlerSpec]
    notices: list[str]


def load_config(argv: list[str], hostname: str | None = None) -> LoadedConfig:
    """Flags, then config files, merged as Go merges them, then Go's ``readConfig`` checks.

    Raises :class:`FlagError`, :class:`HelpRequestedError` or :class:`ConfigError`.
    """
    flags = parse_agent_flags(argv)
    config = default_config()
    if flags.config_paths:
        config = merge(config, read_config_paths(flags.config_paths))
    config = merge(config, flags.layer)
    config = config.model_copy(update={"enable_compression": flags.layer.enable_compression})
    checked = check_config(config, hostname)
    return LoadedConfig(checked.config, checked.handlers, checked.notices)


def missing_runtime() -> str | None:
    """Why the networking runtime cannot run here, or ``None`` when it can."""
    for module in ("serf_proto.serf", "serf_asyncio.transport", "serf_agent.agent"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"{module} cannot be imported: {exc}"
    return None


def main(argv: list[str]) -> int:
    """Run ``serf agent`` with ``argv`` (the arguments after ``agent``); return the exit code."""
    ui = Ui.prefixed(sys.stdout.buffer, sys.stderr.buffer)
    if any(arg in HELP_ARGS for arg in argv):
        ui.stderr(agent_help())
        return 0
    try:
        loaded = load_config(argv)
    except HelpRequestedError:
        ui.stderr(agent_help())
        return 0
    except FlagError as exc:
        ui.stderr(str(exc))
        ui.output(agent_help())
        return 1
    except ConfigError as exc:
        ui.error(str(exc))
        return 1
    config = loaded.config
    if config.log_json:
        ui = JsonUi(sys.stdout.buffer, sys.stderr.buffer)
    for notice in loaded.notices:
        ui.output(notice)
    try:
        level = check_log_level(config.log_level)
    except ConfigError as exc:
        ui.error(str(exc))
        return 1
    try:
        logs = AgentLogging(
            level,
            json_lines=config.log_json,
            syslog_facility=config.syslog_facility if config.enable_syslog else None,
        )
    except SyslogError as exc:
        ui.error(f"Syslog setup failed: {exc}")
        return 1
    logs.install()
    try:
        return _start(ui, argv, loaded, logs)
    except KeyboardInterrupt:
        return 1
    finally:
        logs.uninstall()


def _start(ui: Ui, argv: list[str], loaded: LoadedConfig, logs: AgentLogging) -> int:
    """Go's ``setupAgent`` and ``startAgent`` up to the running loop."""
    config = loaded.config
    try:
        network = resolve_network(config)
    except ConfigError as exc:
        ui.error(str(exc))
        return 1
    for notice in network.notices:
        ui.output(notice)
    ui.output("Starting Serf agent...")
    try:
        state = load_startup_state(
            dict(config.tags), config.tags_file, network.encrypt_key, config.keyring_file
        )
    except StateFileError as exc:
        ui.error(f"Failed to setup the Serf agent: {exc}")
        return 1
    try:
        check_serf_limits(config, network.encrypt_key)
    except ConfigError as exc:
        ui.error(f"Failed to start the Serf agent: Error creating Serf: {exc}")
        return 1
    reason = missing_runtime()
    if reason is not None:
        ui.error(f"Failed to start the Serf agent: the networking runtime is missing: {reason}")
        return 1
    from serf_agent.agent import Agent

    agent = Agent(config, network, loaded.handlers, state, logs)
    return _run_loop(AgentCommand(ui, argv, loaded, network, logs, agent).run())


def _run_loop(coro: Coroutine[Any, Any, int]) -> int:
    """Run the agent on uvloop when installed; ``PYSERF_EVENT_LOOP=asyncio`` forces asyncio's."""
    from serf_asyncio.runner import run

    use_uvloop = False if os.environ.get("PYSERF_EVENT_LOOP") == "asyncio" else None
    return run(coro, use_uvloop=use_uvloop)


class AgentCommand:
    """The running part of ``serf agent``: start, banner, joins, signals, reload, shutdown."""

    def __init__(
        self,
        ui: Ui,
        argv: list[str],
        loaded: LoadedConfig,
        network: NetworkSettings,
        logs: AgentLogging,
        agent: Agent,
    ) -> None:
        self.ui = ui
        self.argv = argv
        self.config = loaded.config
        self.network = network
        self.logs = logs
        self.agent = agent
        self._signals: asyncio.Queue[signal.Signals] = asyncio.Queue()
        self._retry_failed = asyncio.Event()

    async def run(self) -> int:
        """Start everything, then wait for the end; returns the exit code."""
        from serf_agent.agent import AgentStartError

        agent = self.agent
        try:
            await agent.start()
        except AgentStartError as exc:
            self.ui.error(f"Failed to start the Serf agent: {exc}")
            return 1
        try:
            return await self._serve()
        finally:
            await agent.shutdown()

    async def _serve(self) -> int:
        from serf_agent.agent import AgentStartError

        agent, config = self.agent, self.config
        try:
            await agent.start_discovery()
        except AgentStartError as exc:
            self.ui.error(f"Error starting mDNS listener: {exc}")
            return 1
        try:
            await agent.start_rpc()
        except AgentStartError as exc:
            self.ui.error(f"Error starting RPC listener: {exc}")
            return 1
        self.ui.output("Starting Serf agent RPC...")
        if config.http_addr:
            try:
                await agent.start_http()
            except AgentStartError as exc:
                self.ui.error(f"Error starting HTTP listener: {exc}")
                return 1
        self._banner()
        if config.start_join:
            self.ui.output(f"Joining cluster...(replay: {_go_bool(config.replay_on_join)})")
            try:
                joined = await agent.join(list(config.start_join), config.replay_on_join)
            except Exception as exc:
                self.ui.error(str(exc))
                return 1
            self.ui.info(f"Join completed. Synced with {joined} initial agents")
        self.ui.info("")
        self.ui.output("Log data will now stream in as it occurs:\n")
        self.logs.open_gate()
        retry = asyncio.create_task(self._retry_join(), name="retry-join")
        self._install_signal_handlers()
        try:
            return await self._wait_for_exit()
        finally:
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
            self._remove_signal_handlers()

    def _banner(self) -> None:
        config, agent = self.config, self.agent
        self.ui.output("Serf agent running!")
        self.ui.info(f"                  Node name: '{config.node_name}'")
        self.ui.info(f"                  Bind addr: '{agent.bind_display}'")
        if self.network.advertise_host is not None:
            advertise = join_host_port(
                self.network.advertise_host, self.network.advertise_port or 0
            )
            self.ui.info(f"Advertise addr: '{advertise}'")
        self.ui.info(f"                   RPC addr: '{agent.rpc_display}'")
        if agent.http_display:
            self.ui.info(f"                  HTTP addr: '{agent.http_display}'")
        self.ui.info(f"                  Encrypted: {_go_bool(agent.encrypted)}")
        self.ui.info(f"                   Snapshot: {_go_bool(bool(config.snapshot_path))}")
        self.ui.info(f"                    Profile: {config.profile}")
        self.ui.info(f"Message Compression Enabled: {_go_bool(config.enable_compression)}")
        if config.label:
            self.ui.info(f"              Cluster label: {config.label}")
        if config.discover:
            self.ui.info(f"               mDNS cluster: {config.discover}")

    async def _retry_join(self) -> None:
        config = self.config
        if not config.retry_join:
            return
        attempt = 0
        while True:
            self.agent.logger.info(
                "Joining cluster...(replay: %s)", _go_bool(config.replay_on_join)
            )
            try:
                joined = await self.agent.join(list(config.retry_join), config.replay_on_join)
            except Exception as exc:
                attempt += 1
                if 0 < config.retry_max_attempts < attempt:
                    self.agent.logger.error("maximum retry join attempts made, exiting")
                    self._retry_failed.set()
                    return
                self.agent.logger.warning(
                    "Join failed: %s, retrying in %s", exc, _go_duration(config.retry_interval)
                )
                await asyncio.sleep(config.retry_interval)
                continue
            self.agent.logger.info("Join completed. Synced with %d initial agents", joined)
            return

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._signals.put_nowait, sig)
        loop.add_signal_handler(signal.SIGUSR1, self.agent.dump_metrics, sys.stderr)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)

    async def _wait_for_exit(self) -> int:
        while True:
            outcome = await _first_of(
                {
                    "signal": self._signals.get(),
                    "retry": self._retry_failed.wait(),
                    "shutdown": self.agent.wait_shutdown(),
                }
            )
            kind, value = outcome
            if kind == "retry":
                return 1
            if kind == "shutdown":
                return 0
            assert isinstance(value, signal.Signals)
            self.ui.output(f"Caught signal: {_signal_name(value)}")
            if value == signal.SIGHUP:
                self._reload()
                continue
            graceful = (value == signal.SIGINT and not self.config.skip_leave_on_interrupt) or (
                value == signal.SIGTERM and self.config.leave_on_terminate
            )
            if not graceful:
                return 1
            return await self._graceful_leave()

    async def _graceful_leave(self) -> int:
        self.ui.output("Gracefully shutting down agent...")
        leave = asyncio.ensure_future(self.agent.leave())
        second = asyncio.ensure_future(self._signals.get())
        try:
            done, _pending = await asyncio.wait(
                {leave, second}, timeout=GRACEFUL_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            second.cancel()
        if leave in done:
            error = leave.exception()
            if error is None:
                return 0
            self.ui.error(f"Error: {error}")
            # Go waits for the graceful timeout or another signal after a failed leave.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._signals.get(), GRACEFUL_TIMEOUT)
            return 1
        leave.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await leave
        return 1

    def _reload(self) -> None:
        self.ui.output("Reloading configuration...")
        try:
            loaded = load_config(self.argv)
        except (FlagError, HelpRequestedError, ConfigError) as exc:
            # Go prints why (``Error decoding '<file>': ...``), then that the reload failed,
            # and keeps running on the old configuration.
            if str(exc):
                self.ui.error(str(exc))
            self.ui.error("Failed to reload configs")
            return
        new = loaded.config
        try:
            self.logs.set_level(check_log_level(new.log_level))
        except ConfigError as exc:
            self.ui.error(str(exc))
            new = new.model_copy(update={"log_level": self.config.log_level})
        self.agent.update_handlers(loaded.handlers)
        self.config = new
        task = asyncio.ensure_future(self.agent.set_tags(dict(new.tags)))
        task.add_done_callback(self._tags_reloaded)

    def _tags_reloaded(self, task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.ui.error(f"Failed to update tags: {task.exception()}")


async def _first_of(waiters: dict[str, Awaitable[object]]) -> tuple[str, object]:
    """Await several awaitables; return ``(name, result)`` of the first to finish."""
    tasks = {asyncio.ensure_future(w): name for name, w in waiters.items()}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first = next(iter(done))
        return tasks[first], first.result()
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def _go_duration(seconds: float) -> str:
    return format_duration(round(seconds * SECOND))


_SIGNAL_NAMES: dict[int, str] = {
    signal.SIGINT: "interrupt",
    signal.SIGTERM: "terminated",
    signal.SIGHUP: "hangup",
}


def _signal_name(sig: signal.Signals) -> str:
    """Go's ``os.Signal`` text (``interrupt``, ``terminated``, ``hangup``)."""
    return _SIGNAL_NAMES.get(sig, sig.name.lower())


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
