"""Every client command, ours next to Go's, against the same agents: same output, same exit code.

Both CLIs run at the same time with the same arguments. Outputs are compared after the
normalisations Go's own randomness requires: member, ack and map-entry order, timings and
Lamport clocks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.cli.conftest import Lan
from tests.cli.harness import (
    Run,
    canonical_json,
    free_port,
    ordered,
    run_both,
    unordered,
    without_our_additions,
)

pytestmark = pytest.mark.interop


def exact(run: Run) -> object:
    return (run.code, without_our_additions(run.out), run.err)


def lines_unordered(run: Run) -> object:
    return (run.code, unordered(run.out), run.err)


def lines_ordered(run: Run) -> object:
    return (run.code, ordered(run.out), run.err)


def as_json(run: Run) -> object:
    return (run.code, canonical_json(run.out), run.err)


_VOLATILE_INFO = re.compile(
    r"^(\t(?:goroutines|member_time|event_time|query_time|health_score|coordinate_resets"
    r"|intent_queue|event_queue|query_queue) = ).*$"
)


def info_text(run: Run) -> object:
    masked = [_VOLATILE_INFO.sub(r"\1*", line) for line in run.out.splitlines()]
    return (run.code, masked, run.err)


_VOLATILE_INFO_KEYS = frozenset(
    (
        "goroutines",
        "member_time",
        "event_time",
        "query_time",
        "health_score",
        "coordinate_resets",
        "intent_queue",
        "event_queue",
        "query_queue",
    )
)


def info_json(run: Run) -> object:
    """Every section and value, with the same volatile values masked as in ``info_text``."""
    doc = canonical_json(run.out)
    assert isinstance(doc, dict)
    masked = {
        section: {k: "*" if k in _VOLATILE_INFO_KEYS else v for k, v in values.items()}
        for section, values in doc.items()
    }
    return (run.code, masked, run.err)


def rtt_masked(run: Run) -> object:
    return (run.code, re.sub(r"rtt: [0-9.]+ ms", "rtt: * ms", run.out), run.err)


def reachability_masked(run: Run) -> object:
    out = re.sub(r"[0-9]+\.[0-9]{2} sec", "* sec", run.out)
    return (run.code, unordered(out), run.err)


Normaliser = Callable[[Run], object]

CASES: list[tuple[str, list[str], Normaliser]] = [
    ("members", ["members"], lines_unordered),
    ("members-detailed", ["members", "-detailed"], lines_unordered),
    ("members-json", ["members", "-format=json"], as_json),
    ("members-json-detailed", ["members", "-format", "json", "-detailed"], as_json),
    ("members-name-regex", ["members", "-name=n[12]"], lines_unordered),
    (
        "members-status-and-tag",
        ["members", "-status=alive", "-tag", "role=web|db"],
        lines_unordered,
    ),
    (
        "members-tag-group",
        ["members", "-tag", "role=(web|cache)", "-tag", "dc=.*"],
        lines_unordered,
    ),
    ("members-missing-tag-empty-regex", ["members", "-tag", "nokey="], lines_unordered),
    ("members-role-deprecated", ["members", "-role=db"], lines_ordered),
    ("members-no-match-text", ["members", "-name=nobody"], exact),
    ("members-no-match-json", ["members", "-name=nobody", "-format=json"], exact),
    ("members-bad-format", ["members", "-format=xml"], exact),
    ("members-bad-regex", ["members", "-status=("], exact),
    ("members-bad-tag", ["members", "-tag", "foo"], exact),
    ("members-unknown-flag", ["members", "-bogus"], exact),
    ("info", ["info"], info_text),
    ("info-json", ["info", "-format=json"], info_json),
    ("info-bad-format", ["info", "-format=xml"], exact),
    ("event", ["event", "deploy", "v1"], exact),
    ("event-no-coalesce", ["event", "-coalesce=false", "deploy"], exact),
    ("event-flag-after-name-is-payload", ["event", "deploy", "-coalesce=false"], exact),
    ("event-too-large", ["event", "big", "x" * 600], exact),
    ("event-empty-payload", ["event", "e", ""], exact),
    ("event-no-name", ["event"], exact),
    ("event-too-many-args", ["event", "a", "b", "c"], exact),
    ("event-bad-bool", ["event", "-coalesce=maybe", "x"], exact),
    ("query", ["query", "-timeout=1s", "echo", "hi"], lines_unordered),
    ("query-no-ack", ["query", "-timeout=1s", "-no-ack", "echo", "hi"], lines_unordered),
    ("query-json", ["query", "-timeout=1s", "-format=json", "echo", "hi"], as_json),
    ("query-json-no-ack", ["query", "-timeout=1s", "-no-ack", "-format=json", "echo"], as_json),
    ("query-node-filter", ["query", "-timeout=1s", "-node=n2", "echo", "x"], lines_unordered),
    ("query-tag-filter", ["query", "-timeout=1s", "-tag", "role=web", "echo"], lines_unordered),
    ("query-internal-prefix", ["query", "_serf_x"], exact),
    ("query-relay-factor-range", ["query", "-relay-factor=256", "x"], exact),
    ("query-bad-format", ["query", "-format=xml", "x"], exact),
    ("query-no-name", ["query"], exact),
    ("query-bad-tag", ["query", "-tag", "bad", "x"], exact),
    ("query-bad-duration", ["query", "-timeout=abc", "x"], exact),
    ("force-leave-unknown", ["force-leave", "nosuch"], exact),
    ("force-leave-prune-unknown", ["force-leave", "-prune", "nosuch"], exact),
    ("force-leave-no-name", ["force-leave"], exact),
    ("force-leave-two-names", ["force-leave", "a", "b"], exact),
    ("join-unreachable", ["join", "127.0.0.1:1"], exact),
    ("join-no-address", ["join"], exact),
    ("tags-set-delete", ["tags", "-set", "t1=v1", "-delete", "t2"], exact),
    ("tags-bad-pair", ["tags", "-set", "novalue"], exact),
    ("tags-nothing", ["tags"], exact),
    ("tags-too-large", ["tags", "-set", "big=" + "x" * 600], exact),
    ("keys-list-unencrypted", ["keys", "-list"], lines_unordered),
    ("keys-install-unencrypted", ["keys", "-install=" + "A" * 43 + "="], lines_unordered),
    ("keys-no-action", ["keys"], exact),
    ("keys-two-actions", ["keys", "-list", "-use=x"], exact),
    ("rtt-to-agent", ["rtt", "n2"], rtt_masked),
    ("rtt-two-nodes", ["rtt", "n1", "n2"], rtt_masked),
    ("rtt-unknown", ["rtt", "nosuch"], exact),
    ("rtt-no-node", ["rtt"], exact),
    ("rtt-three-nodes", ["rtt", "a", "b", "c"], exact),
    ("reachability", ["reachability"], exact),
    ("reachability-verbose", ["reachability", "-verbose"], reachability_masked),
    ("monitor-bad-level", ["monitor", "-log-level=bogus"], exact),
]


#: What some cases must print whatever the agent (so a run against our agent checks it too);
#: a tuple lists pieces that must all appear (in any order: acks and responses interleave).
EXPECTED: dict[str, str | tuple[str, ...]] = {
    "members": "n3  ",
    "members-detailed": "  Protocol Version: 5  Available Protocol Range: [2, 5]",
    "members-role-deprecated": "Deprecation warning: 'Role' has been replaced with 'Tags'\nn2  ",
    "members-bad-regex": "Error retrieving members: client closed\n",
    "info": "agent:\n\tname = n1\n",
    "event": "Event 'deploy' dispatched! Coalescing enabled: true\n",
    "event-too-large": "Error sending event: user event exceeds configured limit of 512 bytes",
    "query": (
        "Response from 'n2': resp-from-n2 payload=hi\n",
        "\nTotal Acks: 3\nTotal Responses: 2\n",
    ),
    "query-no-ack": "Total Responses: 2\n",
    "query-json-no-ack": '"Acks": null,',
    "query-json": '"n1": "resp-from-n1 payload=hi\\n"',
    "query-node-filter": "Response from 'n2': resp-from-n2 payload=x\nTotal Acks: 1\nTotal Responses: 1\n",
    "query-tag-filter": "Response from 'n1': resp-from-n1 payload=\nTotal Acks: 1\n",
    "query-internal-prefix": "Error sending query: Queries cannot contain the '_serf_' prefix\n",
    "join-unreachable": "Error joining the cluster: 1 error occurred:\n\t* Failed to join 127.0.0.1",
    "tags-set-delete": "Successfully updated agent tags\n",
    "keys-list-unencrypted": "failed:  n2  Keyring is empty (encryption not enabled)",
    "rtt-to-agent": "Estimated n2 <-> n1 rtt: ",
    "rtt-unknown": 'Could not find a coordinate for node "nosuch"\n',
    "reachability": "Successfully contacted all live nodes\n",
    "monitor-bad-level": "Error starting monitor: Unknown log level: BOGUS\n",
}


@pytest.mark.parametrize(("args", "normalise"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_our_cli_prints_what_go_prints(
    lan: Lan, args: list[str], normalise: Normaliser, request: pytest.FixtureRequest
) -> None:
    # A query, ping or key request that misses its deadline on a loaded machine changes Go's
    # output as much as ours; those commands get two more tries before a difference counts.
    attempts = 3 if args[0] in ("query", "reachability", "keys") else 1
    for _ in range(attempts):
        go, ours = run_both([args[0], f"-rpc-addr={lan.n1.rpc}", *args[1:]])
        if normalise(ours) == normalise(go):
            break
    assert normalise(ours) == normalise(go)
    case = request.node.callspec.id.split("-", 1)[1]
    if case in EXPECTED:
        expected = EXPECTED[case]
        for piece in (expected,) if isinstance(expected, str) else expected:
            assert piece in ours.out


def test_join_reports_the_nodes_contacted_like_go(lan: Lan) -> None:
    for args in (["join", lan.n2.bind], ["join", "-replay", lan.n2.bind, lan.n3.bind]):
        go, ours = run_both([args[0], f"-rpc-addr={lan.n1.rpc}", *args[1:]])
        assert exact(ours) == exact(go)
        assert ours.code == 0


AUTH_CASES: list[tuple[str, list[str], Normaliser]] = [
    ("members", ["members"], exact),
    ("event", ["event", "x"], exact),
    ("query", ["query", "x"], exact),
    ("keys", ["keys", "-list"], exact),
    ("join", ["join", "127.0.0.1:1"], exact),
    ("info", ["info"], exact),
    ("rtt", ["rtt", "n1"], exact),
    ("monitor", ["monitor"], exact),
    ("reachability", ["reachability"], exact),
    ("tags", ["tags", "-set", "a=b"], exact),
    ("leave", ["leave"], exact),
    ("force-leave", ["force-leave", "x"], exact),
]


@pytest.mark.parametrize(
    ("args", "normalise"), [c[1:] for c in AUTH_CASES], ids=[c[0] for c in AUTH_CASES]
)
def test_a_missing_rpc_token_fails_every_command_like_go(
    lan: Lan, args: list[str], normalise: Normaliser
) -> None:
    go, ours = run_both([args[0], f"-rpc-addr={lan.n3.rpc}", *args[1:]])
    assert normalise(ours) == normalise(go)
    assert ours.code == 1


def test_rpc_tokens_from_flag_and_environment_are_sent_like_go(lan: Lan) -> None:
    go, ours = run_both(["members", f"-rpc-addr={lan.n3.rpc}", "-rpc-auth=s3cret"])
    assert lines_unordered(ours) == lines_unordered(go)
    assert ours.code == 0 and len(ours.out.splitlines()) == 3
    go, ours = run_both(["members", f"-rpc-addr={lan.n3.rpc}"], env={"SERF_RPC_AUTH": "s3cret"})
    assert lines_unordered(ours) == lines_unordered(go)
    assert ours.code == 0
    go, ours = run_both(["members", f"-rpc-addr={lan.n3.rpc}", "-rpc-auth=wrong"])
    assert exact(ours) == exact(go)
    assert ours.out == "Error connecting to Serf agent: Invalid authentication token\n"
    go, ours = run_both(["members", f"-rpc-addr={lan.n1.rpc}", "-rpc-auth=unexpected"])
    assert exact(ours) == exact(go)


def test_serf_rpc_addr_sets_the_default_and_the_flag_wins_like_go(lan: Lan) -> None:
    go, ours = run_both(["members", "-name=n1"], env={"SERF_RPC_ADDR": lan.n1.rpc})
    assert lines_unordered(ours) == lines_unordered(go)
    assert ours.out.startswith("n1  ")
    dead = f"127.0.0.1:{free_port()}"
    go, ours = run_both(["members", f"-rpc-addr={lan.n1.rpc}", "-name=n1"], {"SERF_RPC_ADDR": dead})
    assert lines_unordered(ours) == lines_unordered(go)
    assert ours.code == 0


UNREACHABLE_COMMANDS = [
    ["members"],
    ["event", "x"],
    ["query", "x"],
    ["force-leave", "x"],
    ["info"],
    ["join", "127.0.0.1:1"],
    ["keys", "-list"],
    ["leave"],
    ["monitor"],
    ["reachability"],
    ["rtt", "x"],
    ["rtt"],
    ["tags", "-set", "a=b"],
]


@pytest.mark.parametrize(
    "args", UNREACHABLE_COMMANDS, ids=[a[0] + str(len(a)) for a in UNREACHABLE_COMMANDS]
)
def test_an_unreachable_agent_is_reported_like_go(args: list[str]) -> None:
    addr = f"127.0.0.1:{free_port()}"
    go, ours = run_both([args[0], f"-rpc-addr={addr}", *args[1:]])
    assert exact(ours) == exact(go)
    assert (
        ours.out
        == f"Error connecting to Serf agent: dial tcp {addr}: connect: connection refused\n"
    )
    assert ours.code == 1


BAD_ADDRESSES = [
    "foo",
    "127.0.0.1",
    "127.0.0.1:70000",
    "127.0.0.1:-1",
    "127.0.0.1:abc",
    "",
    "[::1]",
    "[::1",
    "a:b:c",
    "[::1]x:1",
]


@pytest.mark.parametrize("addr", BAD_ADDRESSES)
def test_malformed_rpc_addresses_get_go_s_dial_errors(addr: str) -> None:
    go, ours = run_both(["members", f"-rpc-addr={addr}"])
    assert exact(ours) == exact(go)
