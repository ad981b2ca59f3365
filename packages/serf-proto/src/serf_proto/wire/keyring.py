"""AES-GCM encryption of packets and streams, and the ``Keyring`` of installed keys.

An encrypted blob is ``vsn(1) | nonce(12) | ciphertext | tag(16)``. Version 1 seals the plaintext
as is; version 0 (memberlist protocol 1) first pads it PKCS#7 to a multiple of 16 bytes. Keys are
16, 24 or 32 bytes (AES-128/192/256). The keyring's first key is the primary: it encrypts
everything; decryption tries every key in order. Nonces come from an injected ``entropy``
callable (``entropy(12)`` → 12 random bytes), so the core stays deterministic under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from serf_proto.errors import DecryptionFailed, KeyringError, TruncatedInput, UnsupportedEncoding

NONCE_SIZE = 12
TAG_SIZE = 16
BLOCK_SIZE = 16
#: Highest encryption version we write and read.
MAX_ENCRYPTION_VERSION = 1
KEY_SIZES = (16, 24, 32)

Entropy = Callable[[int], bytes]


def encrypted_length(version: int, plain_len: int) -> int:
    """Size of the blob that ``encrypt`` makes from ``plain_len`` plaintext bytes."""
    if version == 0:
        plain_len += BLOCK_SIZE - plain_len % BLOCK_SIZE
    return 1 + NONCE_SIZE + plain_len + TAG_SIZE


def encryption_overhead(version: int) -> int:
    """Worst-case bytes encryption adds (29 for version 1, 45 for version 0)."""
    return 1 + NONCE_SIZE + TAG_SIZE + (BLOCK_SIZE if version == 0 else 0)


def _check_key(key: bytes) -> None:
    if len(key) not in KEY_SIZES:
        raise KeyringError("key size must be 16, 24 or 32 bytes")


class Keyring:
    """Installed encryption keys; index 0 is the primary key.

    Mirrors memberlist's ``Keyring``: ``add_key`` appends (no-op if installed), ``use_key`` makes
    an installed key primary, ``remove_key`` refuses the primary. Raises ``KeyringError``.
    """

    __slots__ = ("_ciphers", "_keys")

    def __init__(self, keys: Iterable[bytes] = (), primary: bytes | None = None) -> None:
        self._keys: list[bytes] = []
        self._ciphers: list[AESGCM] = []
        for key in keys:
            self.add_key(key)
        if primary is not None:
            self.add_key(primary)
            self.use_key(primary)

    @property
    def keys(self) -> tuple[bytes, ...]:
        """All keys, primary first."""
        return tuple(self._keys)

    @property
    def primary_key(self) -> bytes | None:
        """The key used for encryption, or ``None`` when the ring is empty."""
        return self._keys[0] if self._keys else None

    def __len__(self) -> int:
        return len(self._keys)

    def add_key(self, key: bytes) -> None:
        """Install ``key`` (16, 24 or 32 bytes) after the existing ones."""
        _check_key(key)
        if key in self._keys:
            return
        self._keys.append(bytes(key))
        self._ciphers.append(AESGCM(bytes(key)))

    def use_key(self, key: bytes) -> None:
        """Make the installed ``key`` the primary."""
        try:
            i = self._keys.index(key)
        except ValueError:
            raise KeyringError("Requested key is not in the keyring") from None
        self._keys.insert(0, self._keys.pop(i))
        self._ciphers.insert(0, self._ciphers.pop(i))

    def remove_key(self, key: bytes) -> None:
        """Uninstall ``key``; the primary key cannot be removed."""
        if self._keys and key == self._keys[0]:
            raise KeyringError("Removing the primary key is not allowed")
        if key in self._keys:
            i = self._keys.index(key)
            del self._keys[i]
            del self._ciphers[i]

    def encrypt(self, plaintext: bytes, aad: bytes, entropy: Entropy, version: int = 1) -> bytes:
        """Seal ``plaintext`` with the primary key and a fresh nonce from ``entropy``."""
        if not self._ciphers:
            raise KeyringError("no keys installed")
        return seal(self._ciphers[0], version, entropy(NONCE_SIZE), plaintext, aad)

    def decrypt(self, blob: bytes | memoryview, aad: bytes = b"") -> bytes:
        """Open ``blob`` with the first key that authenticates it. Raises ``DecodeError``."""
        return self.decrypt_indexed(blob, aad)[0]

    def decrypt_indexed(self, blob: bytes | memoryview, aad: bytes = b"") -> tuple[bytes, int]:
        """Like ``decrypt``, also saying which key (its index in ``keys``) opened ``blob``."""
        if not blob:
            raise TruncatedInput("empty encrypted payload")
        version = blob[0]
        if version > MAX_ENCRYPTION_VERSION:
            raise UnsupportedEncoding("Unsupported encryption version")
        if len(blob) < encrypted_length(version, 0):
            raise TruncatedInput("Payload is too small to decrypt")
        nonce = bytes(blob[1 : 1 + NONCE_SIZE])
        sealed = bytes(blob[1 + NONCE_SIZE :])
        for index, cipher in enumerate(self._ciphers):
            try:
                plain = cipher.decrypt(nonce, sealed, aad or None)
            except InvalidTag:
                continue
            return (_unpad(plain) if version == 0 else plain), index
        raise DecryptionFailed("No installed keys could decrypt the message")


def seal(cipher: AESGCM, version: int, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt with an explicit nonce (used by ``Keyring.encrypt`` and golden tests)."""
    if version == 0:
        pad = BLOCK_SIZE - len(plaintext) % BLOCK_SIZE
        plaintext = plaintext + bytes((pad,)) * pad
    elif version != 1:
        raise ValueError(f"unsupported encryption version {version}")
    return bytes((version,)) + nonce + cipher.encrypt(nonce, plaintext, aad or None)


def _unpad(plain: bytes) -> bytes:
    if not plain:
        raise DecryptionFailed("version 0 plaintext has no padding")
    pad = plain[-1]
    if not 1 <= pad <= BLOCK_SIZE or pad > len(plain):
        raise DecryptionFailed("version 0 plaintext has invalid padding")
    return plain[:-pad]
