"""Our `serf agent` as a real process: Go's banner, Go's CLI answers it, joins with Go agents,
handlers run, files are kept, start-up failures exit 1."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from tests.agent.agentproc import AgentProcess, free_port, wait_until

pytestmark = pytest.mark.interop

KEY1 = "YS029FLySwr2lkH4HAqaxcLwAK+j3pl2HNISYL8BHDQ="
KEY2 = "hbbBBrflCBbYjPCBx/GlQd81gxmXG6L+aXWfEYX/2cE="


def test_the_agent_prints_gos_banner_and_answers_gos_cli(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    agent = AgentProcess(tmp_path, "p1", "-tag", "role=web")
    procs.append(agent)
    agent.start()
    out = agent.output()
    assert (
        "==> Starting Serf agent...\n==> Starting Serf agent RPC...\n==> Serf agent running!\n"
        in out
    )
    assert "                      Node name: 'p1'\n" in out
    assert f"                      Bind addr: '{agent.bind_addr}'\n" in out
    assert f"                       RPC addr: '{agent.rpc_addr}'\n" in out
    assert "                      Encrypted: false\n" in out
    assert "                        Profile: lan\n" in out
    assert "    Message Compression Enabled: true\n" in out
    members = agent.serf("members")
    assert members.returncode == 0
    assert members.stdout.split() == ["p1", agent.bind_addr, "alive", "role=web"]
    wait_until(lambda: "[INFO] agent: Received event: member-join" in agent.output())


def test_a_mixed_cluster_runs_handlers_and_answers_queries(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    log = tmp_path / "handler.log"
    handler = tmp_path / "h.sh"
    handler.write_text(
        "#!/bin/sh\n"
        f'echo "$SERF_EVENT $SERF_USER_EVENT$SERF_QUERY_NAME $(cat)" >> {log}\n'
        'if [ "$SERF_EVENT" = query ]; then printf "pong-from-%s" "$SERF_SELF_NAME"; fi\n'
    )
    handler.chmod(0o755)
    go = AgentProcess(tmp_path, "g1", go=True)
    procs.append(go)
    go.start()
    ours = AgentProcess(tmp_path, "p1", f"-join={go.bind_addr}", f"-event-handler={handler}")
    procs.append(ours)
    ours.start()
    assert (
        "==> Joining cluster...(replay: false)\n    Join completed. Synced with 1 initial agents\n"
        in ours.output()
    )
    wait_until(lambda: go.member_status("p1") == "alive", what="Go to see p1")
    assert go.serf("event", "deploy", "v1").returncode == 0
    wait_until(lambda: log.exists() and "user deploy v1" in log.read_text(), what="handler")
    query = go.serf("query", "-timeout=5s", "ping", "x")
    assert "Response from 'p1': pong-from-p1" in query.stdout
    assert go.serf("leave").returncode == 0
    try:
        wait_until(lambda: "member-leave" in log.read_text(), what="member-leave handler")
    except AssertionError as exc:  # say what each side saw
        raise AssertionError(
            f"{exc}\n--- handler log ---\n{log.read_text()}\n--- p1 ---\n{ours.output()}"
            f"\n--- g1 ---\n{go.output()}"
        ) from None


def test_start_join_failure_exits_1_after_the_banner(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    closed = free_port()
    agent = AgentProcess(tmp_path, "p1", f"-join=127.0.0.1:{closed}")
    procs.append(agent)
    agent.start(wait=False)
    assert agent.wait() == 1
    out = agent.output()
    assert "==> Joining cluster...(replay: false)\n==> 1 error occurred:\n\t* " in out
    assert f"127.0.0.1:{closed}: connect: connection refused\n\n\n" in out
    assert "==> Log data will now stream in" not in out


def test_a_busy_rpc_port_is_reported_like_go(tmp_path: Path, procs: list[AgentProcess]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = int(busy.getsockname()[1])
        agent = AgentProcess(tmp_path, "p1", rpc_port=port)
        procs.append(agent)
        agent.start(wait=False)
        assert agent.wait() == 1
    assert (
        f"==> Error starting RPC listener: listen tcp 127.0.0.1:{port}: bind: address already in use"
        in agent.output()
    )


def test_retry_join_gives_up_after_retry_max_plus_one_attempts(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    closed = free_port()
    agent = AgentProcess(
        tmp_path, "p1", f"-retry-join=127.0.0.1:{closed}", "-retry-max=1", "-retry-interval=1s"
    )
    procs.append(agent)
    agent.start()
    assert agent.wait() == 1
    out = agent.output()
    assert out.count("[INFO] agent: Joining cluster...(replay: false)") == 2
    assert "[WARN] agent: Join failed: " in out and "retrying in 1s" in out
    assert "[ERR] agent: maximum retry join attempts made, exiting" in out


def test_the_keyring_file_is_rewritten_after_key_operations(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    keyring = tmp_path / "keyring.json"
    keyring.write_text(json.dumps([KEY1]))
    agent = AgentProcess(tmp_path, "p1", f"-keyring-file={keyring}")
    procs.append(agent)
    agent.start()
    assert "                      Encrypted: true\n" in agent.output()
    assert agent.serf("keys", f"-install={KEY2}").returncode == 0
    wait_until(lambda: KEY2 in keyring.read_text(), what="keyring rewrite")
    assert agent.serf("keys", f"-use={KEY2}").returncode == 0
    assert agent.serf("keys", f"-remove={KEY1}").returncode == 0
    wait_until(lambda: keyring.read_text() == f'[\n  "{KEY2}"\n]', what="final keyring")
    assert stat.S_IMODE(os.stat(keyring).st_mode) == 0o600


def test_the_tags_file_is_restored_and_rewritten(tmp_path: Path, procs: list[AgentProcess]) -> None:
    tags = tmp_path / "tags.json"
    tags.write_text('{"role": "db"}')
    agent = AgentProcess(tmp_path, "p1", f"-tags-file={tags}")
    procs.append(agent)
    agent.start()
    assert "[INFO] agent: Restored 1 tag(s) from" in agent.output()
    assert agent.serf("tags", "-set", "dc=east").returncode == 0
    assert json.loads(tags.read_text()) == {"dc": "east", "role": "db"}
    assert tags.read_text() == '{\n  "dc": "east",\n  "role": "db"\n}'
    members = agent.serf("members", "-format=json")
    assert json.loads(members.stdout)["members"][0]["tags"] == {"dc": "east", "role": "db"}


def test_rpc_leave_makes_the_agent_exit_0(tmp_path: Path, procs: list[AgentProcess]) -> None:
    agent = AgentProcess(tmp_path, "p1")
    procs.append(agent)
    agent.start()
    result = agent.serf("leave")
    assert (result.returncode, result.stdout.strip()) == (0, "Graceful leave complete")
    assert agent.wait() == 0


def test_a_query_answer_over_the_size_limit_is_refused_and_logged(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    agent = AgentProcess(tmp_path, "p1", "-event-handler=query:big=head -c 2000 /dev/zero")
    procs.append(agent)
    agent.start()
    result = agent.serf("query", "-timeout=2s", "big")
    assert "Total Responses: 0" in result.stdout
    wait_until(
        lambda: (
            "[WARN] agent: Failed to respond to query 'query: big': failed to respond to "
            "key query: response exceeds limit of 1024 bytes" in agent.output()
        ),
        what="the warning",
    )


def test_advertise_without_a_port_gossips_port_7946_like_go(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    agent = AgentProcess(tmp_path, "p1", "-advertise=127.0.0.1", "-iface=lo")
    procs.append(agent)
    agent.start()
    out = agent.output()
    assert (
        f"                      Bind addr: '{agent.bind_addr}'\n    Advertise addr: '127.0.0.1:7946'\n"
        in out
    )
    assert agent.serf("members").stdout.split()[:3] == ["p1", "127.0.0.1:7946", "alive"]


def test_a_busy_gossip_port_is_reported_like_go(tmp_path: Path, procs: list[AgentProcess]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = int(busy.getsockname()[1])
        agent = AgentProcess(tmp_path, "p1", bind_port=port)
        procs.append(agent)
        agent.start(wait=False)
        assert agent.wait() == 1
    assert agent.last_run_output() == (
        "==> Starting Serf agent...\n"
        "==> Failed to start the Serf agent: Error creating Serf: Failed to create memberlist: "
        "Could not set up network transport: failed to obtain an address: Failed to start TCP "
        f'listener on "127.0.0.1" port {port}: listen tcp 127.0.0.1:{port}: bind: address '
        "already in use\n"
    )


def test_a_hung_handler_is_killed_at_the_handler_timeout_and_the_next_event_runs(
    tmp_path: Path, procs: list[AgentProcess]
) -> None:
    log = tmp_path / "next.log"
    agent = AgentProcess(
        tmp_path,
        "p1",
        "-handler-timeout=2s",
        "-event-handler=user:hang=sleep 300",
        f'-event-handler=user:next=echo "$SERF_USER_EVENT $SERF_MEMBERS_ALIVE/$SERF_MEMBERS_TOTAL" >> {log}',
    )
    procs.append(agent)
    agent.start()
    assert agent.serf("event", "hang").returncode == 0
    assert agent.serf("event", "next").returncode == 0
    wait_until(lambda: log.exists() and log.read_text() == "next 1/1\n", what="the next handler")
    assert (
        "[ERR] agent: Event 'user' handler 'sleep 300' killed after the 2s handler timeout"
        in agent.output()
    )
