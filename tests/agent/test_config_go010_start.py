"""A corpus of Go 0.10.2 config files, spread over a ``-config-dir``, starts our agent, and the
values it holds show in ``serf info``, the RPC and the agent's behaviour.

The files are written the way Go writes JSON (``json.MarshalIndent``, via
``serf_proto.gocompat.go_json``); together they set every key Go 0.10.2's agent reads at least
once (``EVERY_KEY`` of ``tests/agent/test_config.py`` plus the 0.10.2 additions), with values
that a loopback start can honour: our own ports and files, the peer to join, the loopback
interface.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from serf_proto.gocompat import go_json

from tests.agent.agentproc import AgentProcess, free_port, wait_until
from tests.agent.test_config import EVERY_KEY
from tests.agent.test_config_go010 import GO_010_KEYS

KEY = "YS029FLySwr2lkH4HAqaxcLwAK+j3pl2HNISYL8BHDQ="
TOKEN = "corpus-token"


class _ConfigDirAgent(AgentProcess):
    """Our agent started with ``-config-dir`` only: every setting comes from the files."""

    config_dir: Path

    def command(self) -> list[str]:
        return [sys.executable, "-m", "serf_agent", f"-config-dir={self.config_dir}"]


@pytest.fixture
def corpus(tmp_path: Path) -> Iterator[tuple[AgentProcess, AgentProcess, Path]]:
    peer = AgentProcess(tmp_path, "peer", f"-encrypt={KEY}").start()
    handler_log = tmp_path / "handler.log"
    handler = tmp_path / "handler.sh"
    handler.write_text(f'#!/bin/sh\necho "$SERF_EVENT $SERF_SELF_NAME" >> {handler_log}\n')
    handler.chmod(handler.stat().st_mode | stat.S_IEXEC)
    bind_port, rpc_port = free_port(), free_port()
    values: dict[str, object] = {
        **EVERY_KEY,
        **GO_010_KEYS,
        "node_name": "corpus",
        "tags_file": str(tmp_path / "tags.json"),
        "bind": f"127.0.0.1:{bind_port}",
        "advertise": f"127.0.0.1:{bind_port}",
        "keyring_file": str(tmp_path / "keyring.json"),
        "rpc_addr": f"127.0.0.1:{rpc_port}",
        "rpc_auth": TOKEN,
        "start_join": [peer.bind_addr],
        "retry_join": [peer.bind_addr],
        "event_handlers": [f"member-join={handler}"],
        "profile": "lan",
        "snapshot_path": str(tmp_path / "snapshot"),
        "discover": "pyserf-corpus",
        "enable_syslog": False,
        "statsite_addr": f"127.0.0.1:{free_port()}",
        "statsd_addr": f"127.0.0.1:{free_port()}",
        "validate_node_names": True,
    }
    # Go refuses `tags` and `role` beside a tags file that exists ("Tags config not allowed
    # while using tag files"), so the tags come from the file here; the decode tests of
    # test_config.py and test_config_go010.py cover those two keys.
    # Likewise Go refuses `encrypt_key` beside `keyring_file` ("Encryption key not allowed
    # while using a keyring"): the key comes from the keyring file.
    refused_together = ("tags", "role", "encrypt_key")
    for key in refused_together:
        values.pop(key)
    assert set(EVERY_KEY) | set(GO_010_KEYS) <= set(values) | set(refused_together)
    (tmp_path / "keyring.json").write_text(json.dumps([KEY]))
    (tmp_path / "tags.json").write_text(go_json({"dc": "west", "rack": "r1", "role": "db"}))
    config_dir = tmp_path / "serf.d"
    config_dir.mkdir()
    keys = sorted(values)
    for index in range(0, len(keys), 8):  # several files, each a slice of the keys
        part = {k: values[k] for k in keys[index : index + 8]}
        (config_dir / f"{index:02d}.json").write_text(go_json(part) + "\n")
    agent = _ConfigDirAgent(tmp_path, "corpus", bind_port=bind_port, rpc_port=rpc_port)
    agent.config_dir = config_dir
    try:
        agent.start()
        yield agent, peer, handler_log
    finally:
        agent.stop()
        peer.stop()


def _info(agent: AgentProcess) -> dict[str, dict[str, str]]:
    result = agent.serf("info", "-format=json", f"-rpc-auth={TOKEN}")
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, dict[str, str]] = json.loads(result.stdout)
    return data


def test_a_go_0_10_2_config_dir_starts_the_agent_and_every_visible_value_applies(
    corpus: tuple[AgentProcess, AgentProcess, Path],
) -> None:
    agent, peer, handler_log = corpus
    info = _info(agent)
    assert info["agent"]["name"] == "corpus"
    assert info["tags"] == {"dc": "west", "rack": "r1", "role": "db"}
    assert info["serf"]["encrypted"] == "true"
    handler = str(Path(agent.workdir) / "handler.sh")
    assert handler in {*info["event_handlers"], *info["event_handlers"].values()}
    # rpc_auth: without the token the agent refuses the command.
    assert agent.serf("members").returncode != 0
    # start_join + encrypt_key: the peer (same key) lists us alive with our tags.
    wait_until(lambda: peer.member_status("corpus") == "alive", what="peer to see corpus")
    members = json.loads(peer.serf("members", "-format=json").stdout)["members"]
    mine = next(m for m in members if m["name"] == "corpus")
    assert mine["tags"] == {"dc": "west", "rack": "r1", "role": "db"}
    assert mine["addr"] == agent.bind_addr
    assert mine["protocol"]["version"] == EVERY_KEY["protocol"]
    # event_handlers: the member-join handler ran for us.
    wait_until(lambda: handler_log.exists() and "member-join" in handler_log.read_text())
    # snapshot_path: the agent writes its snapshot where the config says.
    wait_until(lambda: (Path(agent.workdir) / "snapshot").exists(), what="snapshot file")
    # tags_file: the tags are persisted there.
    assert json.loads((Path(agent.workdir) / "tags.json").read_text())["role"] == "db"
    assert os.access(Path(agent.workdir) / "tags.json", os.R_OK)
