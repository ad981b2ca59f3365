"""Keyring and tags files: loading rules, Go's JSON layout, atomic private rewrites."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from serf_agent.keyring_file import (
    StateFileError,
    load_keyring,
    load_tags,
    write_keyring,
    write_tags,
)

K1 = base64.b64encode(bytes(range(32))).decode()
K2 = base64.b64encode(bytes(range(16))).decode()


def test_the_first_key_of_the_file_is_the_primary(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(f'["{K1}", "{K2}"]')
    assert load_keyring(str(path)) == [bytes(range(32)), bytes(range(16))]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "no keys present in keyring file: {path}"),
        ('["abc"]', "illegal base64 data at input byte 0"),
        ('["YWJjZA=="]', "key size must be 16, 24 or 32 bytes"),
        ('{"a": 1}', "Failed to read keyring file {path}: expected an array of strings"),
    ],
)
def test_bad_keyring_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(content)
    with pytest.raises(StateFileError) as info:
        load_keyring(str(path))
    assert str(info.value) == message.format(path=path)


def test_a_missing_keyring_file_is_reported_like_go(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(StateFileError) as info:
        load_keyring(str(path))
    assert str(info.value) == f"stat {path}: no such file or directory"


def test_the_keyring_is_rewritten_as_go_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_keyring(str(path), [K2, K1])
    assert path.read_text() == f'[\n  "{K2}",\n  "{K1}"\n]'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]  # no temp files left


def test_tags_files_round_trip_with_gos_layout(tmp_path: Path) -> None:
    path = tmp_path / "tags.json"
    assert load_tags(str(path)) is None
    write_tags(str(path), {"role": "web", "dc": "east", "html": "<&>"})
    assert path.read_text() == (
        '{\n  "dc": "east",\n  "html": "\\u003c\\u0026\\u003e",\n  "role": "web"\n}'
    )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_tags(str(path)) == {"role": "web", "dc": "east", "html": "<&>"}
    write_tags(str(path), {})
    assert path.read_text() == "{}"


def test_a_bad_tags_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tags.json"
    path.write_text('{"a": 1}')
    with pytest.raises(StateFileError):
        load_tags(str(path))
