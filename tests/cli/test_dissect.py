"""``serf dissect``: flags, file and stdin input, text and JSON output, exit statuses."""

from __future__ import annotations

import io
import json
from pathlib import Path

from serf_cli.commands.dissect import run
from serf_cli.main import dispatch
from serf_cli.ui import Ui

VECTORS = Path(__file__).resolve().parent.parent / "proto" / "vectors"
KEY = "DIuK583FOxuRlq7BCf7GWPuJfqvhpoe368C3kR5qvZU="


def dissect(args: list[str], stdin: bytes | None = None) -> tuple[int, str, str]:
    out, err = io.BytesIO(), io.BytesIO()
    source = io.BytesIO(stdin) if stdin is not None else None
    code = run(args, Ui(out, err), stdin=source)
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_the_dissector_prints_json_layers_of_an_encrypted_stream() -> None:
    vector = VECTORS / "memberlist" / "29_tcp_enc_ack.hex"
    code, out, _ = dissect([f"-key={KEY}", "-format=json", str(vector)])
    assert code == 0
    doc = json.loads(out)
    assert doc["kind"] == "stream"
    assert [layer["type"] for layer in doc["layers"]] == ["encrypt", "compress", "ack"]
    assert doc["layers"][2]["fields"] == {"Payload": None, "SeqNo": 8}


def test_the_dissector_reads_raw_bytes_and_prints_serf_messages_as_text(tmp_path: Path) -> None:
    raw = tmp_path / "gossip.bin"
    raw.write_bytes(bytes.fromhex((VECTORS / "memberlist" / "14_udp_crc_user.hex").read_text()))
    code, out, _ = dissect([str(raw)])
    assert code == 0
    assert "hasCrc crc=139aa55a ok=true" in out
    assert "serf join" in out and "Node: b" in out


def test_the_documented_example_prints_every_layer_of_an_encrypted_packet() -> None:
    vector = VECTORS / "memberlist" / "16_udp_enc_crc_alive.hex"
    code, out, _ = dissect([f"-key={KEY}", str(vector)])
    assert code == 0
    assert out.splitlines()[:5] == [
        "packet (93 bytes)",
        "  encrypted version=1 plainLen=64 keyIndex=0 nonce=c09986abd7353e0195e498dd",
        "    hasCrc crc=09d134b6 ok=true",
        "      alive tags={}",
        "        Addr: 127.0.0.1",
    ]


def test_the_dissector_reports_a_wrong_key_and_bad_flags(tmp_path: Path) -> None:
    vector = VECTORS / "memberlist" / "16_udp_enc_crc_alive.hex"
    code, out, _ = dissect(["-key=" + "A" * 43 + "=", str(vector)])
    assert code == 1
    assert "No installed keys could decrypt" in out
    code, out, err = dissect(["-format=xml", str(vector)])
    assert (code, out) == (2, "")
    assert err.startswith("dissect: invalid -format: xml\nUsage: serf dissect")
    assert dissect(["-bogus", str(vector)])[0] == 2
    code, _, err = dissect([str(tmp_path / "missing.hex")])
    assert code == 2 and "No such file" in err


def test_the_dissector_prints_its_usage_for_help() -> None:
    code, out, _ = dissect(["-h"])
    assert code == 0
    assert out.startswith("Usage: serf dissect")


def test_the_dissector_opens_key_messages_inside_internal_queries_and_responses() -> None:
    for name, inner in (
        ("query_install_key", "keyRequest"),
        ("query_response_list_keys", "keyResponse"),
    ):
        serf = bytes.fromhex((VECTORS / "serf" / f"{name}.hex").read_text())
        code, out, _ = dissect(["-kind=packet", "-"], stdin=b"08" + serf.hex().encode())
        assert code == 0
        assert f"serf {inner}" in out


def test_serf_dissect_is_dispatched_to_this_command() -> None:
    out, err = io.BytesIO(), io.BytesIO()
    assert dispatch(["dissect", "-h"], Ui(out, err)) == 0
    assert out.getvalue().decode().startswith("Usage: serf dissect")
