"""The keyring file (``-keyring-file``) and the tags file (``-tags-file``).

Keyring file: a JSON array of standard base64 keys, primary first. It must exist and hold at
least one valid key (16, 24 or 32 bytes) at start; after every install/use/remove the agent
rewrites it atomically with mode 0600 as Go does (``[\\n  "key"\\n]``, no trailing newline).

Tags file: a JSON object of tags, read at start when present and rewritten atomically (0600)
whenever the tags change.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from serf_proto.gocompat import KEY_SIZE_ERROR, KEY_SIZES, Base64Error, decode_base64, go_json

from serf_agent.atomic_file import write_atomic

logger = logging.getLogger("serf_agent.files")


class StateFileError(Exception):
    """A keyring or tags file cannot be used; ``str()`` names the file and the problem."""


def load_keyring(path: str) -> list[bytes]:
    """Read a keyring file: the keys in order, the first one primary.

    Raises :class:`StateFileError` (``stat <path>: no such file or directory``, bad JSON, bad
    base64, wrong key size, no keys).
    """
    if not os.path.exists(path):
        raise StateFileError(f"stat {path}: no such file or directory")
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError) as exc:
        raise StateFileError(f"Failed to read keyring file {path}: {exc}") from None
    if not isinstance(raw, list) or not all(isinstance(k, str) for k in raw):
        raise StateFileError(f"Failed to read keyring file {path}: expected an array of strings")
    keys: list[bytes] = []
    for text in raw:
        try:
            key = decode_base64(text)
        except Base64Error as exc:
            raise StateFileError(str(exc)) from None
        if len(key) not in KEY_SIZES:
            raise StateFileError(KEY_SIZE_ERROR)
        keys.append(key)
    if not keys:
        raise StateFileError(f"no keys present in keyring file: {path}")
    return keys


def write_keyring(path: str, keys: Sequence[str]) -> None:
    """Rewrite the keyring file with base64 ``keys`` (primary first), atomically, mode 0600."""
    write_atomic(path, go_json(list(keys)).encode("utf-8"))


def load_tags(path: str) -> dict[str, str] | None:
    """Read a tags file; ``None`` when it does not exist. Raises :class:`StateFileError`."""
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, ValueError) as exc:
        raise StateFileError(f"Failed to decode tags file: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise StateFileError("Failed to decode tags file: expected an object of strings")
    return dict(raw)


def write_tags(path: str, tags: dict[str, str]) -> None:
    """Rewrite the tags file (2-space JSON, sorted keys, no newline), atomically, mode 0600."""
    write_atomic(path, go_json(tags).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class StartupState:
    """The tags and keys the node starts with, after reading the tags and keyring files."""

    tags: dict[str, str]
    keys: list[bytes]


def load_startup_state(
    tags: dict[str, str], tags_file: str, encrypt_key: bytes | None, keyring_file: str
) -> StartupState:
    """Go's ``Create`` file handling: tags file first, then keyring file.

    A tags file cannot be combined with configured tags, nor a keyring file with ``-encrypt``.
    Raises :class:`StateFileError` with Go's texts.
    """
    current = dict(tags)
    if tags_file:
        if tags:
            raise StateFileError("Tags config not allowed while using tag files")
        restored = load_tags(tags_file)
        if restored is not None:
            current = restored
            logger.info("Restored %d tag(s) from %s", len(restored), tags_file)
    keys = [encrypt_key] if encrypt_key else []
    if keyring_file:
        if encrypt_key:
            raise StateFileError("Encryption key not allowed while using a keyring")
        keys = load_keyring(keyring_file)
        logger.info("Restored keyring with %d keys from %s", len(keys), keyring_file)
    return StartupState(current, keys)
