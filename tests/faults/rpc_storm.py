"""A minimal Serf RPC client for storms, run *inside* a node namespace as a script.

    python rpc_storm.py fire  --events 1000 --queries 100 [--marker NAME]
    python rpc_storm.py watch --marker NAME --timeout 60

``fire`` pipelines `--events` user events (coalesce off) and `--queries` concurrent queries on one
connection to the local agent (127.0.0.1:7373), reads every reply, then sends the marker event.
``watch`` opens an event stream for user events and counts them until the marker arrives (plus a
quiet second). Both print one JSON object with their counts. Only the standard library and
msgpack are used, so it runs with the project's interpreter in any namespace.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any

import msgpack

RPC = ("127.0.0.1", 7373)


class RpcConn:
    """One RPC connection: send header(+body), read msgpack objects one at a time."""

    def __init__(self, auth: str = "", timeout: float = 60.0) -> None:
        self.sock = socket.create_connection(RPC, timeout=timeout)
        self.unpacker = msgpack.Unpacker(raw=False)
        self.seq = 0
        self.call("handshake", {"Version": 1})
        if auth:
            self.call("auth", {"AuthKey": auth})

    def send(self, command: str, body: dict[str, Any] | None = None) -> int:
        self.seq += 1
        data = msgpack.packb({"Command": command, "Seq": self.seq})
        if body is not None:
            data += msgpack.packb(body, use_bin_type=True)
        self.sock.sendall(data)
        return self.seq

    def read(self) -> Any:
        while True:
            for obj in self.unpacker:
                return obj
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("agent closed the RPC connection")
            self.unpacker.feed(chunk)

    def call(self, command: str, body: dict[str, Any] | None = None) -> None:
        seq = self.send(command, body)
        header = self.read()
        if header.get("Seq") != seq or header.get("Error"):
            raise RuntimeError(f"{command} failed: {header}")


def fire(events: int, queries: int, marker: str) -> dict[str, Any]:
    started = time.monotonic()
    conn = RpcConn()
    event_seqs = set()
    for i in range(events):
        event_seqs.add(
            conn.send("event", {"Name": "storm", "Payload": f"{i}".encode(), "Coalesce": False})
        )
    query_seqs = set()
    for i in range(queries):
        query_seqs.add(
            conn.send(
                "query",
                {
                    "FilterNodes": [],
                    "FilterTags": {},
                    "RequestAck": True,
                    "RelayFactor": 0,
                    "Timeout": 0,
                    "Name": "storm-q",
                    "Payload": f"{i}".encode(),
                },
            )
        )
    counts = {"events_ok": 0, "events_err": 0, "queries_ok": 0, "queries_err": 0}
    counts |= {"acks": 0, "responses": 0, "done": 0, "empty_from": 0, "duplicates": 0}
    seen: set[tuple[int, str, str]] = set()
    errors: list[str] = []
    opened: set[int] = set()
    while counts["events_ok"] + counts["events_err"] < events or counts["done"] + counts[
        "queries_err"
    ] < len(query_seqs):
        header = conn.read()
        seq = header["Seq"]
        if seq in event_seqs:
            counts["events_err" if header["Error"] else "events_ok"] += 1
            if header["Error"]:
                errors.append(header["Error"])
        elif seq in query_seqs and seq not in opened:
            opened.add(seq)
            if header["Error"]:
                counts["queries_err"] += 1
                errors.append(header["Error"])
            else:
                counts["queries_ok"] += 1
        elif seq in query_seqs:
            record = conn.read()
            kind = record.get("Type")
            if kind == "done":
                counts["done"] += 1
            elif not record.get("From"):
                # Go's agent keeps reading its closed channels at the deadline and streams
                # records with an empty From until its own timer fires; count them apart.
                counts["empty_from"] += 1
            elif (seq, kind, record["From"]) in seen:
                counts["duplicates"] += 1
            else:
                seen.add((seq, kind, record["From"]))
                counts["acks" if kind == "ack" else "responses"] += 1
    if marker:
        conn.call("event", {"Name": marker, "Payload": b"", "Coalesce": False})
    return {**counts, "errors": sorted(set(errors))[:5], "seconds": time.monotonic() - started}


def watch(marker: str, timeout: float) -> dict[str, Any]:
    conn = RpcConn()
    conn.call("stream", {"Type": "user"})
    conn.sock.settimeout(1.0)
    deadline = time.monotonic() + timeout
    names: dict[str, int] = {}
    quiet_after: float | None = None
    while time.monotonic() < deadline:
        if quiet_after is not None and time.monotonic() > quiet_after:
            break
        try:
            record = conn.read()
        except TimeoutError:
            continue
        if "Event" not in record:
            continue  # a response header; the record follows it
        name = record.get("Name", "")
        names[name] = names.get(name, 0) + 1
        if name == marker or quiet_after is not None:
            quiet_after = time.monotonic() + 1.0
    return {"names": names, "marker_seen": marker in names}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["fire", "watch"])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--marker", default="")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.mode == "fire":
        result = fire(args.events, args.queries, args.marker)
    else:
        result = watch(args.marker, args.timeout)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
