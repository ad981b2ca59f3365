"""The agent's logging: Go-like lines, levels, a start-up gate, JSON, syslog and a log tap.

Every pyserf module logs through the standard :mod:`logging` package. The agent turns each
record into Go Serf's line format, ``2024/01/01 00:00:00 [INFO] serf: EventMemberJoin: a
127.0.0.1``, where the subsystem comes from the logger name (``serf_proto.serf`` is
``serf``, ``serf_proto.memberlist`` and ``serf_asyncio`` are ``memberlist``, ``serf_agent.rpc``
is ``agent.ipc``, ``serf_agent.discovery`` is ``agent.mdns``, other ``serf_agent`` loggers are
``agent``). Levels are Go's: TRACE, DEBUG, INFO, WARN, ERR.

Three sinks receive the records:

* the console: lines at or above the configured level, each printed with four leading spaces
  on stdout; held back by a gate until the start-up banner is complete, as Go does;
  ``-log-json`` prints one JSON object per line instead, without the indent, and the
  command's own messages (the banner, "Caught signal", ...) become JSON objects too
  (:class:`JsonUi`), so every stdout line parses on its own;
* the :class:`LogTap`: every line at DEBUG or above (TRACE while a monitor asks for it),
  whatever the console level, kept in a ring of the last 512 and fanned out to RPC
  ``monitor`` subscribers, each with its own level;
* syslog, when enabled, at the console level.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import BinaryIO, TextIO

from serf_proto.gocompat import Ui

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: Go level names, lowest first, and their :mod:`logging` numbers.
GO_LEVELS: dict[str, int] = {
    "TRACE": TRACE,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERR": logging.ERROR,
}
#: Lines the tap keeps for new monitors (Go keeps 512).
TAP_BUFFER_LINES = 512
#: The logger trees the agent configures.
ROOT_LOGGERS = ("serf_proto", "serf_asyncio", "serf_agent")

_SUBSYSTEMS: tuple[tuple[str, str], ...] = (
    ("serf_proto.memberlist", "memberlist"),
    ("serf_proto.serf", "serf"),
    ("serf_asyncio", "memberlist"),
    ("serf_agent.rpc", "agent.ipc"),
    ("serf_agent.ipc", "agent.ipc"),
    ("serf_agent.http", "agent.http"),
    ("serf_agent.discovery", "agent.mdns"),
    ("serf_agent", "agent"),
)

_SYSLOG_FACILITIES = logging.handlers.SysLogHandler.facility_names


def go_level_name(levelno: int) -> str:
    """The Go level name of a :mod:`logging` level number."""
    if levelno >= logging.ERROR:
        return "ERR"
    if levelno >= logging.WARNING:
        return "WARN"
    if levelno >= logging.INFO:
        return "INFO"
    if levelno >= logging.DEBUG:
        return "DEBUG"
    return "TRACE"


def level_number(go_level: str) -> int:
    """The :mod:`logging` number of a Go level name (any case); raises ``KeyError``."""
    return GO_LEVELS[go_level.upper()]


def subsystem(logger_name: str) -> str:
    """The Go subsystem label for a logger name (``serf_proto.serf.x`` -> ``serf``)."""
    for prefix, label in _SUBSYSTEMS:
        if logger_name == prefix or logger_name.startswith(prefix + "."):
            return label
    return logger_name.rsplit(".", 1)[-1]


class GoFormatter(logging.Formatter):
    """``YYYY/MM/DD HH:MM:SS [LEVEL] subsystem: message`` in local time, like Go's log."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(record.created))
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}: {self.formatException(record.exc_info)}"
        return f"{stamp} [{go_level_name(record.levelno)}] {subsystem(record.name)}: {text}"


def json_line(created: float, level: str, module: str, message: str) -> str:
    """One log object: ``@timestamp`` (UTC, milliseconds), ``@level``, ``@module``, ``@message``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    millis = int((created % 1) * 1000)
    return json.dumps(
        {
            "@timestamp": f"{stamp}.{millis:03d}Z",
            "@level": level,
            "@module": module,
            "@message": message,
        },
        ensure_ascii=False,
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``@timestamp``, ``@level``, ``@module``, ``@message``."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text = f"{text}: {self.formatException(record.exc_info)}"
        return json_line(
            record.created, go_level_name(record.levelno).lower(), subsystem(record.name), text
        )


class JsonUi(Ui):
    """The agent's UI under ``-log-json``: each message one JSON object on stdout.

    ``@module`` is ``agent.ui``; the text loses Go's alignment padding and trailing newlines
    (``"Node name: 'a'"``); empty messages print nothing. stderr (help, flag errors) stays text.
    """

    def __init__(self, stdout: BinaryIO, stderr: BinaryIO) -> None:
        super().__init__(stdout, stderr, ignore_write_errors=True)

    def _json(self, level: str, text: str) -> None:
        text = text.strip()
        if text:
            line = json_line(time.time(), level, "agent.ui", text) + "\n"
            self.write_bytes(line.encode("utf-8", "surrogateescape"))

    def output(self, text: str = "") -> None:
        self._json("info", text)

    def info(self, text: str = "") -> None:
        self._json("info", text)

    def error(self, text: str = "") -> None:
        self._json("error", text)


class ConsoleHandler(logging.Handler):
    """Writes formatted records with a prefix; holds them until :meth:`open_gate`."""

    def __init__(self, stream: TextIO, prefix: str = "    ") -> None:
        super().__init__()
        self._stream = stream
        self._prefix = prefix
        self._held: list[str] | None = []

    def open_gate(self) -> None:
        """Print everything held so far and write later lines directly."""
        held, self._held = self._held, None
        for line in held or []:
            self._write(line)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if self._held is not None:
            self._held.append(line)
        else:
            self._write(line)

    def _write(self, line: str) -> None:
        try:
            self._stream.write(f"{self._prefix}{line}\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass


Subscriber = Callable[[str], None]


class LogTap(logging.Handler):
    """Keeps the last 512 Go-format lines and streams new ones to subscribers (RPC monitor).

    Each subscriber has its own minimum level. The tap lowers the agent's logger levels while
    a subscriber wants more detail than the console shows, so debug lines exist only when
    someone reads them.
    """

    def __init__(self, on_levels_changed: Callable[[], None] | None = None) -> None:
        super().__init__(level=TRACE)
        self.setFormatter(GoFormatter())
        self._recent: deque[tuple[int, str]] = deque(maxlen=TAP_BUFFER_LINES)
        self._subscribers: dict[int, tuple[int, Subscriber]] = {}
        self._next_id = 0
        self._on_levels_changed = on_levels_changed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._recent.append((record.levelno, line))
        for level, callback in list(self._subscribers.values()):
            if record.levelno >= level:
                try:
                    callback(line)
                except Exception:  # a broken subscriber must not break logging
                    continue

    def subscribe(
        self, go_level: str, callback: Subscriber, *, replay: bool = True
    ) -> Callable[[], None]:
        """Send buffered lines at ``go_level`` or above to ``callback`` (unless ``replay`` is
        false), then new ones.

        Raises ``KeyError`` for an unknown level. Returns a function that unsubscribes.
        """
        level = level_number(go_level)
        if replay:
            for levelno, line in list(self._recent):
                if levelno >= level:
                    callback(line)
        sub_id = self._next_id
        self._next_id += 1
        self._subscribers[sub_id] = (level, callback)
        if self._on_levels_changed:
            self._on_levels_changed()

        def unsubscribe() -> None:
            if self._subscribers.pop(sub_id, None) and self._on_levels_changed:
                self._on_levels_changed()

        return unsubscribe

    def lowest_level(self) -> int | None:
        """The most detailed level any subscriber wants, or ``None`` without subscribers."""
        return min((level for level, _cb in self._subscribers.values()), default=None)

    def recent_lines(self) -> list[str]:
        """The buffered lines, oldest first."""
        return [line for _level, line in self._recent]


class SyslogError(Exception):
    """Syslog could not be set up; ``str()`` is the reason Go prints."""


class AgentLogging:
    """Owns the agent's log handlers: console (with gate), tap and optional syslog."""

    def __init__(
        self,
        level: str = "INFO",
        *,
        stream: TextIO | None = None,
        json_lines: bool = False,
        syslog_facility: str | None = None,
    ) -> None:
        self.console_level = level_number(level)
        self.console = ConsoleHandler(stream or sys.stdout, prefix="" if json_lines else "    ")
        self.console.setFormatter(JsonFormatter() if json_lines else GoFormatter())
        self.console.setLevel(self.console_level)
        self.tap = LogTap(self._update_logger_levels)
        self.syslog: logging.Handler | None = None
        if syslog_facility is not None:
            self.syslog = _syslog_handler(syslog_facility)
            self.syslog.setLevel(self.console_level)

    def install(self) -> None:
        """Attach the handlers to the pyserf logger trees (replacing earlier agent handlers)."""
        for name in ROOT_LOGGERS:
            log = logging.getLogger(name)
            for handler in list(log.handlers):
                if isinstance(handler, ConsoleHandler | LogTap | logging.handlers.SysLogHandler):
                    log.removeHandler(handler)
            log.addHandler(self.console)
            log.addHandler(self.tap)
            if self.syslog is not None:
                log.addHandler(self.syslog)
            log.propagate = False
        self._update_logger_levels()

    def uninstall(self) -> None:
        """Detach the handlers again (tests, shutdown)."""
        for name in ROOT_LOGGERS:
            log = logging.getLogger(name)
            for handler in (self.console, self.tap, self.syslog):
                if handler is not None:
                    log.removeHandler(handler)
            log.propagate = True
            log.setLevel(logging.NOTSET)
        if self.syslog is not None:
            self.syslog.close()

    def open_gate(self) -> None:
        """Start printing log lines (after the banner)."""
        self.console.open_gate()

    def set_level(self, level: str) -> None:
        """Change the console (and syslog) level; raises ``KeyError`` for an unknown one."""
        self.console_level = level_number(level)
        self.console.setLevel(self.console_level)
        if self.syslog is not None:
            self.syslog.setLevel(self.console_level)
        self._update_logger_levels()

    def _update_logger_levels(self) -> None:
        # The tap keeps DEBUG lines for later monitors whatever the console shows (as Go's
        # log ring does); TRACE only while a monitor asks for it.
        lowest = self.tap.lowest_level()
        level = min(self.console_level, logging.DEBUG)
        if lowest is not None:
            level = min(level, lowest)
        for name in ROOT_LOGGERS:
            logging.getLogger(name).setLevel(level)


#: Where a local syslog daemon listens (the places Go's syslog package tries).
SYSLOG_SOCKETS = ("/dev/log", "/var/run/syslog", "/var/run/log")


def _syslog_socket() -> str | None:
    """The first syslog socket that accepts a connection, or ``None``."""
    for path in SYSLOG_SOCKETS:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_UNIX, kind) as probe:
                try:
                    probe.connect(path)
                except OSError:
                    continue
                return path
    return None


def _syslog_handler(facility: str) -> logging.Handler:
    code = _SYSLOG_FACILITIES.get(facility.lower())
    if code is None:
        raise SyslogError(f"invalid syslog facility: {facility}")
    path = _syslog_socket()
    if path is None:
        raise SyslogError("Unix syslog delivery error")
    try:
        handler = logging.handlers.SysLogHandler(address=path, facility=code)
    except OSError:
        raise SyslogError("Unix syslog delivery error") from None
    handler.ident = "serf: "
    handler.setFormatter(GoFormatter())
    return handler
