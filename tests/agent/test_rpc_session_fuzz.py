"""Property tests: no input makes the sans-IO RPC session raise or reply out of turn."""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st
from serf_agent.rpc.session import NEED_DATA, CloseConnection, RpcSession, SessionEvent

HANDSHAKE = msgpack.packb({"Command": "handshake", "Seq": 1}) + msgpack.packb({"Version": 1})

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
commands = st.sampled_from(
    [
        "handshake",
        "auth",
        "event",
        "force-leave",
        "join",
        "members",
        "members-filtered",
        "tags",
        "stream",
        "monitor",
        "stop",
        "leave",
        "query",
        "respond",
        "install-key",
        "use-key",
        "remove-key",
        "list-keys",
        "stats",
        "get-coordinate",
        "bogus",
        "",
    ]
)
headers = st.fixed_dictionaries({"Command": commands, "Seq": st.integers(0, 2**64 - 1)})


def drain(session: RpcSession, limit: int = 200) -> list[SessionEvent]:
    events: list[SessionEvent] = []
    for _ in range(limit):
        event = session.next_event(0.0)
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, CloseConnection):
            return events
    raise AssertionError("session never asked for more data")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=5))
def test_random_bytes_in_any_chunking_never_raise(data: bytes, cuts: list[int]) -> None:
    session = RpcSession()
    pos = 0
    for cut in [*cuts, len(data)]:
        session.receive_data(
            HANDSHAKE + data[pos : pos + cut] if pos == 0 else data[pos : pos + cut]
        )
        pos += cut
        events = drain(session)
        if events and isinstance(events[-1], CloseConnection):
            return
    session.receive_data(b"")
    assert isinstance(drain(session)[-1], CloseConnection)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(headers, values), min_size=1, max_size=6))
def test_well_framed_requests_with_arbitrary_bodies_never_raise(
    requests: list[tuple[dict[str, object], object]],
) -> None:
    session = RpcSession(auth_key="k")
    session.receive_data(
        HANDSHAKE + msgpack.packb({"Command": "auth", "Seq": 2}) + msgpack.packb({"AuthKey": "k"})
    )
    drain(session)
    for header, body in requests:
        session.receive_data(msgpack.packb(header) + msgpack.packb(body))
        events = drain(session)
        if events and isinstance(events[-1], CloseConnection):
            return
