"""Handler scheduling: Go's serial order by default, per-type order when concurrent, failures
logged, query answers from output, and a gossip loop that never waits for a handler."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path

import pytest
from serf_agent.handlers import (
    HandlerRunner,
    handlers_info,
    parse_handler_spec,
    parse_handler_specs,
    run_handler,
)
from serf_proto.events import MemberEvent, MemberEventType, Query, UserEvent
from serf_proto.types import Address, Member

TIMEOUT = 20.0


def self_info() -> tuple[str, Mapping[str, str]]:
    return "n1", {"role": "web"}


def a_query(name: str = "q") -> Query:
    return Query(
        ltime=1,
        id=1,
        name=name,
        payload=b"in",
        source_node="n2",
        addr=Address("127.0.0.1", 1),
        deadline=0.0,
    )


class Responses:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def __call__(self, query: Query, payload: bytes) -> None:
        if self.sent:
            raise RuntimeError("response already sent")
        self.sent.append((query.name, payload))


async def wait_for(condition: object, timeout: float = TIMEOUT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_specs_parse_filters_and_commands() -> None:
    [spec] = parse_handler_spec("user:deploy=echo a=b")
    assert (spec.filter.event, spec.filter.name, spec.command) == ("user", "deploy", "echo a=b")
    specs = parse_handler_specs(["member-join,member-leave=h.sh", "h2.sh", "=h3.sh"])
    assert [s.filter.event for s in specs] == ["member-join", "member-leave", "*", "*"]
    assert handlers_info(specs) == {"member-join:": "h.sh", "member-leave:": "h.sh", "*:": "h3.sh"}


def test_filters_match_types_and_names() -> None:
    [deploy] = parse_handler_spec("user:deploy=x")
    [load] = parse_handler_spec("query:load=x")
    [joins] = parse_handler_spec("member-join=x")
    assert deploy.filter.matches(UserEvent(1, "deploy", b"", False))
    assert not deploy.filter.matches(UserEvent(1, "other", b"", False))
    assert load.filter.matches(a_query("load")) and not load.filter.matches(a_query("x"))
    member = Member("a", Address("127.0.0.1", 1))
    assert joins.filter.matches(MemberEvent(MemberEventType.JOIN, (member,)))
    assert not joins.filter.matches(MemberEvent(MemberEventType.LEAVE, (member,)))


def test_output_keeps_the_last_8_kib_of_stdout_and_stderr() -> None:
    result = asyncio.run(
        run_handler("head -c 10000 /dev/zero | tr '\\0' a; echo -n END >&2", {}, b"")
    )
    assert result.total_written == 10003
    assert len(result.output) == 8192
    assert result.output.endswith(b"aEND")


def test_handlers_run_one_at_a_time_in_configuration_order_by_default(tmp_path: Path) -> None:
    log = tmp_path / "order.log"
    cmd = f'echo "start $SERF_USER_EVENT $H" >> {log}; sleep 0.05; echo "end $SERF_USER_EVENT $H" >> {log}'
    specs = parse_handler_specs([f"user=H=a; {cmd}", f"user=H=b; {cmd}"])

    async def main() -> None:
        runner = HandlerRunner(specs, self_info, Responses())
        for name in ("e1", "e2"):
            runner.submit(UserEvent(1, name, b"", False))
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        await runner.close()

    asyncio.run(main())
    assert log.read_text().split("\n")[:-1] == [
        "start e1 a",
        "end e1 a",
        "start e1 b",
        "end e1 b",
        "start e2 a",
        "end e2 a",
        "start e2 b",
        "end e2 b",
    ]


def test_concurrent_mode_overlaps_types_but_keeps_order_within_a_type(tmp_path: Path) -> None:
    log = tmp_path / "order.log"
    gate = tmp_path / "gate"
    # User events wait until the member event has run: only possible if types overlap.
    user = f"while [ ! -e {gate} ]; do sleep 0.01; done; echo user-$SERF_USER_EVENT >> {log}"
    member = f"echo member >> {log}; touch {gate}"
    specs = parse_handler_specs([f"user={user}", f"member-join={member}"])

    async def main() -> None:
        runner = HandlerRunner(specs, self_info, Responses(), concurrent=True)
        runner.submit(UserEvent(1, "u1", b"", False))
        runner.submit(UserEvent(2, "u2", b"", False))
        runner.submit(MemberEvent(MemberEventType.JOIN, (Member("a", Address("127.0.0.1", 1)),)))
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        await runner.close()

    asyncio.run(main())
    assert log.read_text().split("\n")[:-1] == ["member", "user-u1", "user-u2"]


def test_submitting_never_waits_for_a_running_handler(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        runner = HandlerRunner(parse_handler_specs(["sleep 5"]), self_info, Responses())
        loop = asyncio.get_running_loop()
        started = loop.time()
        for i in range(300):
            runner.submit(UserEvent(i, "e", b"", False))
        assert loop.time() - started < 1.0
        await wait_for(lambda: runner.invocations == 1)
        assert runner.pending() == 299
        await runner.close()  # kills the hanging handler

    with caplog.at_level(logging.WARNING, logger="serf_agent"):
        asyncio.run(main())
    assert "128 events are waiting for event handlers" in caplog.text


def test_a_query_is_answered_with_the_first_handler_output(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses = Responses()
    specs = parse_handler_specs(
        [
            "query=true",  # no output: ack only
            "query:q=printf 'from-%s payload=' $SERF_SELF_NAME; cat; echo err >&2",
            "query=echo second",  # runs, but the response is already sent
        ]
    )

    async def main() -> None:
        runner = HandlerRunner(specs, self_info, responses)
        runner.submit(a_query())
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        await runner.close()

    with caplog.at_level(logging.WARNING, logger="serf_agent"):
        asyncio.run(main())
    assert responses.sent == [("q", b"from-n1 payload=in\nerr\n")]
    assert "Failed to respond to query 'query: q': response already sent" in caplog.text


def test_a_failing_handler_is_logged_and_sends_no_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses = Responses()
    runner_ref: list[HandlerRunner] = []

    async def main() -> None:
        runner = HandlerRunner(
            parse_handler_specs(["echo partial; exit 3", "no-such-command-xyz"]),
            self_info,
            responses,
        )
        runner_ref.append(runner)
        runner.submit(a_query())
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        await runner.close()

    with caplog.at_level(logging.DEBUG, logger="serf_agent"):
        asyncio.run(main())
    assert responses.sent == []
    assert runner_ref[0].failures == 2
    assert "Error invoking script 'echo partial; exit 3': exit status 3" in caplog.text
    assert "Error invoking script 'no-such-command-xyz': exit status 127" in caplog.text
    assert "Event 'query' script output: partial" in caplog.text


def test_a_slow_handler_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        runner = HandlerRunner(parse_handler_specs(["sleep 1.3"]), self_info, Responses())
        runner.submit(UserEvent(1, "slow", b"", False))
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        await runner.close()

    with caplog.at_level(logging.WARNING, logger="serf_agent"):
        asyncio.run(main())
    assert "Script 'sleep 1.3' slow, execution exceeding 1s" in caplog.text


def test_reloaded_specs_apply_to_later_events(tmp_path: Path) -> None:
    out = tmp_path / "out"

    async def main() -> None:
        runner = HandlerRunner(parse_handler_specs([f"echo old >> {out}"]), self_info, Responses())
        runner.submit(UserEvent(1, "a", b"", False))
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        runner.update_specs(parse_handler_specs([f"echo new >> {out}"]))
        runner.submit(UserEvent(2, "b", b"", False))
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        await runner.close()

    asyncio.run(main())
    assert out.read_text() == "old\nnew\n"


def test_a_hung_handler_is_killed_at_the_timeout_with_its_children_and_the_next_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = tmp_path / "ran.log"
    pid_file = tmp_path / "child.pid"
    # The hung handler leaves a child in its process group: the kill must take it too.
    hang = f"sleep 300 & echo $! > {pid_file}; wait"
    specs = parse_handler_specs([f"user:hang={hang}", f"user:next=echo $SERF_USER_EVENT >> {log}"])
    outcomes: list[tuple[str, str]] = []

    async def main() -> float:
        runner = HandlerRunner(
            specs,
            self_info,
            Responses(),
            timeout=2.0,
            on_result=lambda event, outcome, seconds: outcomes.append((event, outcome)),
        )
        started = asyncio.get_running_loop().time()
        runner.submit(UserEvent(1, "hang", b"", False))
        runner.submit(UserEvent(2, "next", b"", False))
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        elapsed = asyncio.get_running_loop().time() - started
        assert runner.timeouts == 1
        await runner.close()
        return elapsed

    with caplog.at_level(logging.ERROR, logger="serf_agent.handlers"):
        try:
            elapsed = asyncio.run(main())
        finally:
            child = int(pid_file.read_text()) if pid_file.exists() else None
            alive = child is not None and _running(child)
            if alive and child is not None:
                os.kill(child, signal.SIGKILL)
    assert not alive  # killed with the shell: a dead child may linger only as a zombie
    assert 2.0 <= elapsed < 10.0
    assert log.read_text() == "next\n"
    assert outcomes == [("user", "timeout"), ("user", "ok")]
    assert "Event 'user' handler 'sleep 300" in caplog.text and "2s handler timeout" in caplog.text


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_handlers_see_how_many_members_are_alive_and_known(tmp_path: Path) -> None:
    out = tmp_path / "env"
    specs = parse_handler_specs([f"echo $SERF_MEMBERS_ALIVE/$SERF_MEMBERS_TOTAL > {out}"])

    async def main() -> None:
        runner = HandlerRunner(specs, self_info, Responses(), member_counts=lambda: (3, 5))
        runner.submit(UserEvent(1, "e", b"", False))
        await asyncio.wait_for(runner.drain(), TIMEOUT)
        await runner.close()

    asyncio.run(main())
    assert out.read_text() == "3/5\n"
