"""Handler contract: our SERF_* environment and stdin equal what Go's agent gave the same handler."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from serf_agent.handlers import HandlerEvent, handler_env, handler_stdin, run_handler
from serf_proto.events import MemberEvent, MemberEventType, Query, UserEvent
from serf_proto.types import Address, Member

VECTORS = Path(__file__).parent / "vectors"
CAPTURES = json.loads((VECTORS / "handler_captures.json").read_text())["captures"]


def capture(case_prefix: str) -> dict[str, object]:
    return next(c for c in CAPTURES if str(c["case"]).startswith(case_prefix))


def self_tags_from(env: dict[str, str]) -> dict[str, str]:
    """The local tags Go's node had, recovered from its SERF_TAG_* variables."""
    names = {
        "SERF_TAG_DC": "dc",
        "SERF_TAG_ROLE": "role",
        "SERF_TAG_WEIRD_KEY_X": "weird-key.x",
        "SERF_TAG_BUILD": "build",
        "SERF_TAG_LOWER_CASE_X": "lower.case-x",
        "SERF_TAG_T": "t",
    }
    return {names[k]: v for k, v in env.items() if k.startswith("SERF_TAG_")}


def member(name: str, tags: dict[str, str]) -> Member:
    return Member(name=name, addr=Address("127.0.0.1", 7946), tags=tags)


def query(name: str, ltime: int, payload: bytes) -> Query:
    return Query(
        ltime=ltime,
        id=1,
        name=name,
        payload=payload,
        source_node="n1",
        addr=Address("127.0.0.1", 7946),
        deadline=0.0,
    )


# Events that reproduce each capture (tag insertion order = the order Go happened to print).
EVENTS: dict[str, HandlerEvent] = {
    "member-join of the node itself": MemberEvent(
        MemberEventType.JOIN,
        (member("n1", {"role": "web", "dc": "east", "weird-key.x": "v1"}),),
    ),
    "member-join coalesced": MemberEvent(
        MemberEventType.JOIN,
        (
            member("n2", {"dc": "west", "role": "db"}),
            member("n1", {"weird-key.x": "v1", "role": "web", "dc": "east"}),
        ),
    ),
    "member-update with a TAB": MemberEvent(
        MemberEventType.UPDATE,
        (
            member(
                "n2",
                {"role": "db", "build": "7", "t": "a\tb", "lower.case-x": "1", "dc": "west"},
            ),
            member("n1", {"role": "web", "dc": "east", "weird-key.x": "v1", "reloaded": "yes"}),
        ),
    ),
    "member-leave": MemberEvent(MemberEventType.LEAVE, (member("s2", {}), member("s3", {}))),
    "member-failed": MemberEvent(MemberEventType.FAILED, (member("s4", {}), member("s1", {}))),
    "member-reap": MemberEvent(MemberEventType.REAP, (member("r2", {}),)),
    "user event 'deploy'": UserEvent(1, "deploy", b"v1.2.3", True),
    "user event without payload": UserEvent(3, "nopayload", b"", True),
    "user event whose payload": UserEvent(25, "zdeploy", b"-coalesce=false", True),
    "query 'plq' with payload": query("plq", 42, b"line1"),
    "query without payload": query("plq2", 43, b""),
}


@pytest.mark.parametrize("case", sorted(EVENTS))
def test_environment_and_stdin_match_the_go_capture(case: str) -> None:
    go = capture(case)
    go_env = dict(go["env"])  # type: ignore[call-overload]
    event = EVENTS[case]
    env = handler_env(event, str(go["node"]), self_tags_from(go_env))
    assert env == go_env
    assert handler_stdin(event) == bytes.fromhex(str(go["stdin_hex"]))


def test_every_go_capture_is_covered() -> None:
    covered = {capture(prefix)["case"] for prefix in EVENTS}
    assert covered == {c["case"] for c in CAPTURES}


def test_the_go_dump_handler_records_the_same_env_and_stdin_under_our_runner(
    tmp_path: Path,
) -> None:
    go = capture("query 'plq' with payload")
    go_env = dict(go["env"])  # type: ignore[call-overload]
    event = EVENTS["query 'plq' with payload"]
    env = {**handler_env(event, "n2", self_tags_from(go_env)), "DUMP_DIR": str(tmp_path)}
    result = asyncio.run(
        run_handler(f"sh {VECTORS / 'dump-handler.sh'}", env, handler_stdin(event))
    )
    assert result.returncode == 0
    # stdout and stderr share one buffer, exactly as Go's answer showed.
    assert result.output == b"resp-from-n2 payload=line1to-stderr\n"
    recorded = tmp_path / "n2"
    env_file = next(recorded.glob("*.query.env"))
    stdin_file = next(recorded.glob("*.query.stdin"))
    seen = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert seen == go_env
    assert stdin_file.read_bytes() == bytes.fromhex(str(go["stdin_hex"]))


def test_tag_values_with_tabs_reach_the_environment_raw() -> None:
    env = handler_env(UserEvent(1, "x", b"", False), "n", {"t": "a\tb", "lower.case-x": "1"})
    assert env["SERF_TAG_T"] == "a\tb"
    assert env["SERF_TAG_LOWER_CASE_X"] == "1"


def test_the_handler_inherits_the_agent_environment() -> None:
    os.environ["PYSERF_HANDLER_TEST_MARKER"] = "inherited"
    try:
        result = asyncio.run(
            run_handler(
                'printf %s "$PYSERF_HANDLER_TEST_MARKER:$SERF_EVENT"', {"SERF_EVENT": "user"}, b""
            )
        )
    finally:
        del os.environ["PYSERF_HANDLER_TEST_MARKER"]
    assert result.output == b"inherited:user"
