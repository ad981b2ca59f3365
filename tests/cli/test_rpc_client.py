"""The RPC client against a scripted agent: framing, Seq demultiplexing, errors, streams."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import msgpack
import pytest
from serf_cli.rpc_client import ClientClosedError, RPCClient, RPCError

Script = Callable[["Peer"], None]


class Peer:
    """The agent side of one connection: read requests, write replies."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.unpacker = msgpack.Unpacker(raw=False)
        self.received: list[Any] = []

    def read(self) -> Any:
        while True:
            try:
                obj = next(self.unpacker)
            except StopIteration:
                data = self.conn.recv(65536)
                if not data:
                    raise EOFError from None
                self.unpacker.feed(data)
                continue
            self.received.append(obj)
            return obj

    def send(self, *objs: Any) -> None:
        self.conn.sendall(b"".join(msgpack.packb(o, use_bin_type=True) for o in objs))

    def reply(self, seq: int, error: str = "", *body: Any) -> None:
        self.send({"Error": error, "Seq": seq}, *body)

    def handshake(self) -> None:
        header = self.read()
        assert header == {"Command": "handshake", "Seq": 1}
        assert self.read() == {"Version": 1}
        self.reply(1)


@contextmanager
def scripted_agent(script: Script) -> Iterator[tuple[str, list[Peer]]]:
    """A one-connection loopback agent running ``script``; yields (address, [peer])."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    peers: list[Peer] = []
    errors: list[BaseException] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            peer = Peer(conn)
            peers.append(peer)
            try:
                script(peer)
            except (EOFError, OSError):
                pass
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", peers
    finally:
        thread.join(timeout=10)
        listener.close()
    if errors:
        raise errors[0]


def test_handshake_then_auth_use_seq_1_and_2_like_go_s_client() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        assert peer.read() == {"Command": "auth", "Seq": 2}
        assert peer.read() == {"AuthKey": "tok"}
        peer.reply(2, "Invalid authentication token")

    with (
        scripted_agent(script) as (addr, _),
        pytest.raises(RPCError, match=r"^Invalid authentication token$"),
    ):
        RPCClient.connect(addr, "tok")


def test_an_agent_that_hangs_up_means_client_closed() -> None:
    def script(peer: Peer) -> None:
        peer.read()
        peer.conn.close()

    with (
        scripted_agent(script) as (addr, _),
        pytest.raises(ClientClosedError, match=r"^client closed$"),
    ):
        RPCClient.connect(addr)


def test_garbage_from_the_agent_means_client_closed() -> None:
    def script(peer: Peer) -> None:
        peer.read()
        peer.conn.sendall(b"\xc1\xc1\xc1")

    with scripted_agent(script) as (addr, _), pytest.raises(ClientClosedError):
        RPCClient.connect(addr)


def test_members_decodes_raw_addresses_and_tolerates_missing_fields() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        assert peer.read() == {"Command": "members", "Seq": 2}
        peer.reply(
            2,
            "",
            {
                "Members": [
                    {
                        "Name": "n1",
                        "Addr": b"\x7f\x00\x00\x01",
                        "Port": 7946,
                        "Tags": {"a": "b"},
                        "Status": "alive",
                        "DelegateCur": 5,
                    }
                ]
            },
        )

    with scripted_agent(script) as (addr, _), RPCClient.connect(addr) as client:
        (member,) = client.members()
    assert (member.name, member.addr, member.port, member.tags) == (
        "n1",
        b"\x7f\x00\x00\x01",
        7946,
        {"a": "b"},
    )
    assert (member.delegate_cur, member.protocol_max) == (5, 0)


def test_authentication_required_has_no_body_and_a_duplicate_reply_is_ignored() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        assert peer.read() == {"Command": "event", "Seq": 2}
        peer.reply(2, "Authentication required")
        assert peer.read() == {"Name": "x", "Payload": None, "Coalesce": True}
        peer.reply(2, "Authentication required")
        assert peer.read() == {"Command": "stats", "Seq": 3}
        peer.reply(3, "", {"agent": {"name": "n1"}})

    with scripted_agent(script) as (addr, _), RPCClient.connect(addr) as client:
        with pytest.raises(RPCError, match=r"^Authentication required$"):
            client.user_event("x", None, True)
        assert client.stats() == {"agent": {"name": "n1"}}


def test_join_and_key_replies_keep_their_body_on_error() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        peer.read(), peer.read()
        peer.reply(2, "1 error occurred:\n\t* x\n\n", {"Num": 0})
        peer.read(), peer.read()
        peer.reply(
            3,
            "1/2 nodes reported failure",
            {"Keys": None, "Messages": {"e1": "nope"}, "NumErr": 1, "NumNodes": 2, "NumResp": 2},
        )

    with scripted_agent(script) as (addr, _), RPCClient.connect(addr) as client:
        assert client.join(["a"], False) == (0, "1 error occurred:\n\t* x\n\n")
        resp = client.key_operation("use-key", "k")
    assert (resp.error, resp.messages, resp.keys, resp.num_err) == (
        "1/2 nodes reported failure",
        {"e1": "nope"},
        {},
        1,
    )


def test_query_records_stream_in_arrival_order_until_done() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        assert peer.read() == {"Command": "query", "Seq": 2}
        body = peer.read()
        assert body == {
            "FilterNodes": ["n2"],
            "FilterTags": {"r": "w"},
            "RequestAck": True,
            "RelayFactor": 1,
            "Timeout": 5_000_000_000,
            "Name": "q",
            "Payload": b"p",
        }
        peer.reply(2)
        peer.reply(2, "", {"From": "n2", "Payload": None, "Type": "ack"})
        peer.reply(2, "", {"From": "n2", "Payload": b"resp\n", "Type": "response"})
        peer.reply(2, "", {"From": "", "Payload": None, "Type": "done"})

    with scripted_agent(script) as (addr, _), RPCClient.connect(addr) as client:
        records = list(
            client.query(
                "q",
                b"p",
                filter_nodes=["n2"],
                filter_tags={"r": "w"},
                relay_factor=1,
                timeout_ns=5_000_000_000,
            )
        )
    assert [(r.kind, r.sender, r.payload) for r in records] == [
        ("ack", "n2", b""),
        ("response", "n2", b"resp\n"),
    ]


def test_a_refused_query_raises_before_any_record() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        peer.read(), peer.read()
        peer.reply(2, "Queries cannot contain the '_serf_' prefix")

    with (
        scripted_agent(script) as (addr, _),
        RPCClient.connect(addr) as client,
        pytest.raises(RPCError, match="_serf_"),
    ):
        client.query("_serf_x")


def test_stream_and_monitor_records_are_told_apart_by_seq_even_when_interleaved() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        assert peer.read() == {"Command": "stream", "Seq": 2}
        assert peer.read() == {"Type": "*"}
        peer.reply(2)
        assert peer.read() == {"Command": "monitor", "Seq": 3}
        assert peer.read() == {"LogLevel": "DEBUG"}
        peer.reply(2, "", {"Event": "user", "Name": "early"})
        peer.reply(3)
        peer.reply(3, "", {"Log": "line one"})
        peer.reply(2, "", {"Event": "user", "Name": "late"})
        assert peer.read() == {"Command": "stop", "Seq": 4}
        assert peer.read() == {"Stop": 2}
        peer.reply(3, "", {"Log": "after stop"})
        peer.reply(4)

    with scripted_agent(script) as (addr, _), RPCClient.connect(addr) as client:
        stream = client.stream("*")
        monitor = client.monitor("DEBUG")
        got = [client.next_record() for _ in range(3)]
        client.stop(stream)
        assert client.next_record() == (monitor, {"Log": "after stop"})
    assert got == [
        (stream, {"Event": "user", "Name": "early"}),
        (monitor, {"Log": "line one"}),
        (stream, {"Event": "user", "Name": "late"}),
    ]


def test_invalid_utf8_in_names_survives_as_surrogate_escapes() -> None:
    def script(peer: Peer) -> None:
        peer.handshake()
        peer.read()
        peer.conn.sendall(msgpack.packb({"Error": "", "Seq": 2}) + b"\x81\xa4Name\xa2n\xff")

    with scripted_agent(script) as (addr, _), RPCClient.connect(addr) as client:
        _, body = client.call_with_body("members")
    assert body == {"Name": "n\udcff"}


def test_a_reply_header_sent_as_an_array_is_read_positionally() -> None:
    def script(peer: Peer) -> None:
        peer.read(), peer.read()
        peer.send([1, ""])
        peer.read()
        peer.send([2, "Handshake already performed"])

    with (
        scripted_agent(script) as (addr, _),
        RPCClient.connect(addr) as client,
        pytest.raises(RPCError, match="Handshake already performed"),
    ):
        client.call("handshake", {"Version": 1})
