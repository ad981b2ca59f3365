"""Event handlers: Go Serf's handler specs, environment, stdin formats and invocation.

A handler spec is ``[FILTERS=]COMMAND``, split at the first ``=``; FILTERS is a comma list of
``member-join``, ``member-leave``, ``member-failed``, ``member-update``, ``member-reap``,
``user``, ``user:NAME``, ``query``, ``query:NAME`` or ``*`` (no filter means ``*``).

Each matching handler runs as ``/bin/sh -c COMMAND`` in the agent's working directory with the
agent's environment plus ``SERF_EVENT``, ``SERF_SELF_NAME``, ``SERF_SELF_ROLE``,
``SERF_TAG_<NAME>`` and, for user events and queries, ``SERF_USER_EVENT``/``SERF_USER_LTIME`` or
``SERF_QUERY_NAME``/``SERF_QUERY_LTIME``; pyserf adds ``SERF_MEMBERS_ALIVE`` and
``SERF_MEMBERS_TOTAL`` (members alive, and known in any state, when the handler starts).
Member events write one
``NAME<TAB>IP<TAB>ROLE<TAB>TAGS`` line per member on stdin; user events and queries write the
payload (with a newline added when it lacks one). stdout and stderr share one buffer that keeps
the last 8 KiB; for a query that exits 0 with output, that buffer is the response.

Scheduling: like Go, the default runs every handler of every event one at a time, in
configuration order. With ``concurrent=True`` each event type (``member-join``, ``user``,
``query``...) gets its own queue: events of one type still run in order, different types
overlap. Either way the gossip loop only enqueues; a slow, hanging or failing handler is logged
(``slow`` warning after 1 s, exit status as an error) and never blocks the node. A hung
handler does block the handlers queued behind it, as in Go, unless a ``timeout`` is set
(pyserf's ``-handler-timeout``): a handler still running then is killed with its process
group, logged with its event, reported with the outcome ``timeout``, and the next one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from serf_proto import MemberEvent, Query, UserEvent

logger = logging.getLogger("serf_agent.handlers")

#: Output kept from a handler (stdout and stderr together), in bytes; older output is dropped.
OUTPUT_LIMIT = 8 * 1024
#: A handler still running after this many seconds is reported as slow (it is not killed).
SLOW_WARNING = 1.0
#: Every time this many more events wait for handlers, a warning is logged.
BACKLOG_WARNING = 128

VALID_EVENTS = frozenset(
    {
        "member-join",
        "member-leave",
        "member-failed",
        "member-update",
        "member-reap",
        "user",
        "query",
        "*",
    }
)

HandlerEvent = MemberEvent | UserEvent | Query

_TAG_ENV_INVALID = re.compile(r"[^A-Z0-9_]")


class InvalidHandlerError(ValueError):
    """A handler spec names an unknown event; ``str()`` is Go's ``Invalid event script`` text."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a handler runs for: an event type, optionally one user-event/query name."""

    event: str
    name: str = ""

    def valid(self) -> bool:
        """True when the event type is one Serf knows."""
        return self.event in VALID_EVENTS

    def matches(self, event: HandlerEvent) -> bool:
        """True when ``event`` passes this filter."""
        if self.event == "*":
            return True
        if self.event != event_type(event):
            return False
        if isinstance(event, UserEvent | Query):
            return not self.name or self.name == event.name
        return True

    def key(self) -> str:
        """The filter as ``serf info`` lists it (``*:``, ``member-join:``, ``query:load``)."""
        return f"{self.event}:{self.name}"


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One filter and the shell command it runs."""

    filter: EventFilter
    command: str

    def describe(self) -> str:
        """Go's ``Event 'x' invoking 'cmd'`` text."""
        event = f"{self.filter.event}:{self.filter.name}" if self.filter.name else self.filter.event
        return f"Event '{event}' invoking '{self.command}'"


def parse_filters(text: str) -> list[EventFilter]:
    """Parse a comma list of filters; an empty string means every event."""
    filters = []
    for part in (text or "*").split(","):
        for prefix in ("user:", "query:"):
            if part.startswith(prefix):
                filters.append(EventFilter(prefix[:-1], part[len(prefix) :]))
                break
        else:
            filters.append(EventFilter(part))
    return filters


def parse_handler_spec(spec: str) -> list[HandlerSpec]:
    """Parse one ``[FILTERS=]COMMAND`` spec into one :class:`HandlerSpec` per filter."""
    filters, sep, command = spec.partition("=")
    if not sep:
        filters, command = "", spec
    return [HandlerSpec(f, command) for f in parse_filters(filters)]


def parse_handler_specs(specs: Sequence[str]) -> list[HandlerSpec]:
    """Parse and validate every spec, in order.

    Raises :class:`InvalidHandlerError` (``Invalid event script: Event 'bogus' invoking
    '/bin/true'``) for the first unknown event type.
    """
    result: list[HandlerSpec] = []
    for spec in specs:
        for handler in parse_handler_spec(spec):
            if not handler.filter.valid():
                raise InvalidHandlerError(f"Invalid event script: {handler.describe()}")
            result.append(handler)
    return result


def handlers_info(specs: Sequence[HandlerSpec]) -> dict[str, str]:
    """``serf info``'s ``event_handlers`` section: filter key to command (duplicates collapse)."""
    return {spec.filter.key(): spec.command for spec in specs}


# --------------------------------------------------------------------------- environment/stdin


def event_type(event: HandlerEvent) -> str:
    """The ``SERF_EVENT`` value of an event."""
    if isinstance(event, MemberEvent):
        return str(event.type.value)
    if isinstance(event, UserEvent):
        return "user"
    return "query"


def tag_env_name(tag: str) -> str:
    """``SERF_TAG_<NAME>``: the tag upper-cased, every char outside ``[A-Z0-9_]`` as ``_``."""
    return "SERF_TAG_" + _TAG_ENV_INVALID.sub("_", tag.upper())


def handler_env(
    event: HandlerEvent,
    self_name: str,
    self_tags: Mapping[str, str],
    counts: tuple[int, int] | None = None,
) -> dict[str, str]:
    """The ``SERF_*`` variables for one invocation (added to the agent's environment);
    ``counts`` is (alive, total) members for ``SERF_MEMBERS_ALIVE``/``SERF_MEMBERS_TOTAL``."""
    env = {
        "SERF_EVENT": event_type(event),
        "SERF_SELF_NAME": self_name,
        "SERF_SELF_ROLE": self_tags.get("role", ""),
    }
    if counts is not None:
        env["SERF_MEMBERS_ALIVE"] = str(counts[0])
        env["SERF_MEMBERS_TOTAL"] = str(counts[1])
    for tag, value in self_tags.items():
        env[tag_env_name(tag)] = value
    if isinstance(event, UserEvent):
        env["SERF_USER_EVENT"] = event.name
        env["SERF_USER_LTIME"] = str(event.ltime)
    elif isinstance(event, Query):
        env["SERF_QUERY_NAME"] = event.name
        env["SERF_QUERY_LTIME"] = str(event.ltime)
    return env


def _clean(text: str) -> str:
    return text.replace("\t", "\\t").replace("\n", "\\n")


def handler_stdin(event: HandlerEvent) -> bytes:
    """The bytes a handler reads on stdin for ``event``."""
    if isinstance(event, MemberEvent):
        lines = []
        for member in event.members:
            tags = ",".join(f"{k}={v}" for k, v in member.tags.items())
            role = member.tags.get("role", "")
            lines.append(
                f"{_clean(member.name)}\t{member.addr.host}\t{_clean(role)}\t{_clean(tags)}\n"
            )
        return "".join(lines).encode("utf-8", "surrogateescape")
    payload = event.payload
    if payload and not payload.endswith(b"\n"):
        payload += b"\n"
    return payload


# --------------------------------------------------------------------------- invocation


@dataclass(frozen=True, slots=True)
class HandlerResult:
    """How one invocation ended: exit status (negative: killed by that signal) and its output;
    ``timed_out``: killed because it outlived the timeout."""

    returncode: int
    output: bytes
    total_written: int
    timed_out: bool = False


async def _read_tail(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, int]:
    buf = bytearray()
    total = 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        buf += chunk
        if len(buf) > limit:
            del buf[: len(buf) - limit]
    return bytes(buf), total


async def _feed_stdin(stream: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        if data:
            stream.write(data)
            await stream.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, OSError):
        stream.close()
        await stream.wait_closed()


async def run_handler(
    command: str,
    env: Mapping[str, str],
    stdin: bytes,
    *,
    output_limit: int = OUTPUT_LIMIT,
    timeout: float | None = None,
) -> HandlerResult:
    """Run ``/bin/sh -c command`` with ``env`` added to the agent's environment.

    Feeds ``stdin`` (then closes it), collects stdout and stderr into one buffer keeping the last
    ``output_limit`` bytes, waits for exit and logs a warning when it takes longer than
    :data:`SLOW_WARNING` seconds. Without ``timeout`` it waits for ever, as Go does; with one,
    a handler still running after ``timeout`` seconds is killed (``timed_out`` is set). The
    handler runs in its own session and process group, so a cancelled or timed-out invocation
    stops it with its children.
    """
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **env},
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    slow = asyncio.get_running_loop().call_later(
        SLOW_WARNING,
        lambda: logger.warning("Script '%s' slow, execution exceeding %ss", command, 1),
    )
    stdout = proc.stdout
    feeder = asyncio.ensure_future(_feed_stdin(proc.stdin, stdin))

    async def finish() -> tuple[bytes, int, int]:
        output, total = await _read_tail(stdout, output_limit)
        returncode = await proc.wait()
        await feeder
        return output, total, returncode

    try:
        output, total, returncode = await asyncio.wait_for(finish(), timeout)
    except TimeoutError:
        _kill_group(proc.pid)
        returncode = await proc.wait()
        feeder.cancel()
        return HandlerResult(returncode, b"", 0, timed_out=True)
    except asyncio.CancelledError:
        # Stop the whole process group: children of the shell hold the output pipe too.
        _kill_group(proc.pid)
        feeder.cancel()
        await proc.wait()
        raise
    finally:
        slow.cancel()
    return HandlerResult(returncode, output, total)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


RespondFn = Callable[[Query, bytes], Awaitable[None]]
SelfInfoFn = Callable[[], tuple[str, Mapping[str, str]]]
#: ``(alive, total)`` members, for ``SERF_MEMBERS_ALIVE`` and ``SERF_MEMBERS_TOTAL``.
CountsFn = Callable[[], tuple[int, int]]
#: ``on_result(event_type, outcome, seconds)`` after each invocation; outcome is ``ok``,
#: ``failed`` or ``timeout``.
ResultFn = Callable[[str, str, float], None]


class HandlerRunner:
    """Runs the configured handlers for each event, serially (Go) or per event type.

    ``self_info()`` returns the local node name and its *current* tags (read at each
    invocation); ``respond(query, payload)`` answers a query with a handler's output.
    ``submit`` never blocks: events wait in a queue until their handlers ran. ``timeout``
    (seconds, None: never) kills a handler that runs longer; ``member_counts`` fills
    ``SERF_MEMBERS_ALIVE``/``SERF_MEMBERS_TOTAL``.
    """

    def __init__(
        self,
        specs: Sequence[HandlerSpec],
        self_info: SelfInfoFn,
        respond: RespondFn,
        *,
        concurrent: bool = False,
        on_result: ResultFn | None = None,
        timeout: float | None = None,
        member_counts: CountsFn | None = None,
    ) -> None:
        self._specs = list(specs)
        self._timeout = timeout
        self._member_counts = member_counts
        self._on_result = on_result
        self._self_info = self_info
        self._respond = respond
        self._concurrent = concurrent
        self._queues: dict[str, asyncio.Queue[HandlerEvent | None]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        #: Invocations that exited non-zero or could not start (for stats and tests).
        self.failures = 0
        #: Invocations started.
        self.invocations = 0
        #: Invocations killed at the timeout.
        self.timeouts = 0

    @property
    def specs(self) -> list[HandlerSpec]:
        """The handlers in use, in order."""
        return list(self._specs)

    def update_specs(self, specs: Sequence[HandlerSpec]) -> None:
        """Replace the handlers (SIGHUP); events already queued use the new list."""
        self._specs = list(specs)

    def submit(self, event: HandlerEvent) -> None:
        """Queue ``event`` for its handlers; returns at once."""
        if self._closed or not any(s.filter.matches(event) for s in self._specs):
            return
        lane = event_type(event) if self._concurrent else "*"
        queue = self._queues.get(lane)
        if queue is None:
            queue = self._queues[lane] = asyncio.Queue()
            self._workers[lane] = asyncio.create_task(self._work(queue), name=f"handlers-{lane}")
        queue.put_nowait(event)
        backlog = queue.qsize()
        if backlog >= BACKLOG_WARNING and backlog % BACKLOG_WARNING == 0:
            logger.warning(
                "%d events are waiting for event handlers (a handler is slow or hung)", backlog
            )

    def pending(self) -> int:
        """Events queued and not yet finished."""
        return sum(q.qsize() for q in self._queues.values())

    async def drain(self) -> None:
        """Wait until every queued event has been handled."""
        for queue in list(self._queues.values()):
            await queue.join()

    async def close(self) -> None:
        """Stop accepting events, cancel running handlers and wait for the workers."""
        self._closed = True
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._queues.clear()

    async def _work(self, queue: asyncio.Queue[HandlerEvent | None]) -> None:
        while True:
            event = await queue.get()
            try:
                if event is not None:
                    await self._dispatch(event)
            except asyncio.CancelledError:
                raise
            except Exception:  # a handler bug must never stop the worker
                logger.exception("Unexpected error running event handlers")
            finally:
                queue.task_done()

    async def _dispatch(self, event: HandlerEvent) -> None:
        for spec in self._specs:
            if spec.filter.matches(event):
                await self._invoke(spec, event)

    def _report(self, event: HandlerEvent, outcome: str, started: float) -> None:
        if self._on_result is not None:
            elapsed = asyncio.get_running_loop().time() - started
            try:
                self._on_result(event_type(event), outcome, elapsed)
            except Exception:
                logger.exception("handler result callback failed")

    async def _invoke(self, spec: HandlerSpec, event: HandlerEvent) -> None:
        name, tags = self._self_info()
        counts = self._member_counts() if self._member_counts is not None else None
        env = handler_env(event, name, tags, counts)
        self.invocations += 1
        started = asyncio.get_running_loop().time()
        try:
            result = await run_handler(
                spec.command, env, handler_stdin(event), timeout=self._timeout
            )
        except (OSError, ValueError) as exc:
            self.failures += 1
            logger.error("Error invoking script '%s': %s", spec.command, exc)
            self._report(event, "failed", started)
            return
        if result.timed_out:
            self.timeouts += 1
            logger.error(
                "Event '%s' handler '%s' killed after the %ss handler timeout",
                event_type(event),
                spec.command,
                f"{self._timeout:g}",
            )
            self._report(event, "timeout", started)
            return
        self._report(event, "ok" if result.returncode == 0 else "failed", started)
        logger.debug(
            "Event '%s' script output: %s",
            event_type(event),
            result.output.decode("utf-8", "replace"),
        )
        if result.returncode != 0:
            self.failures += 1
            status = (
                f"signal: {-result.returncode}"
                if result.returncode < 0
                else f"exit status {result.returncode}"
            )
            logger.error("Error invoking script '%s': %s", spec.command, status)
            return
        if isinstance(event, Query) and result.total_written > 0:
            try:
                await self._respond(event, result.output)
            except Exception as exc:
                logger.warning("Failed to respond to query 'query: %s': %s", event.name, exc)
