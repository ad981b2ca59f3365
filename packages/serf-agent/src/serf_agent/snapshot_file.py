"""The snapshot file on disk (``-snapshot=PATH``): append, replace, recover.

The Serf core decides *what* to record and *when* to compact (``SnapshotAppend`` outputs, see
``serf_proto.serf.snapshot``); this module only owns the file. It

* reads the file at start (the text goes to ``parse_snapshot`` for clocks and members),
* appends records, one per line, flushing each batch to the OS so a killed agent loses at most
  the batch being written (a torn last line is ignored on replay and cut off on open),
* replaces the file with the compacted records when the core says so (``compact=True``): the
  new contents go to ``PATH.compact``, are fsynced and renamed over ``PATH``, so a crash leaves
  either the old or the new file,
* creates the file with mode 0600 and fsyncs it on leave and shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable

from serf_agent.atomic_file import fsync_dir

logger = logging.getLogger("serf_agent.snapshot")

#: Suffix of the temporary file a compaction writes before renaming it into place.
COMPACT_SUFFIX = ".compact"


class SnapshotFile:
    """An open snapshot file: appends records, and replaces them when the core compacts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.compactions = 0
        self._fd: int | None = None
        self._size = 0

    def open(self) -> str:
        """Create or open the file for appending (mode 0600); return its current text."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            data = b""
        text = data.decode("utf-8", "replace")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if data and not data.endswith(b"\n"):
            # A torn final record (the agent died mid-write): drop it, as replay does.
            data = data[: data.rfind(b"\n") + 1]
            os.ftruncate(self._fd, len(data))
        self._size = len(data)
        return text

    @property
    def size(self) -> int:
        """Bytes in the file (as written by this process)."""
        return self._size

    def write(self, lines: Iterable[str], *, compact: bool = False) -> None:
        """Carry out one ``SnapshotAppend``: append ``lines``, or with ``compact`` replace the
        file with them."""
        if compact:
            self.replace(lines)
        else:
            self.append(lines)

    def append(self, lines: Iterable[str]) -> None:
        """Append records and hand them to the OS."""
        batch = [line for line in lines if line]
        if not batch or self._fd is None:
            return
        data = "".join(f"{line}\n" for line in batch).encode("utf-8")
        try:
            os.write(self._fd, data)
        except OSError as exc:
            logger.error("Failed to write to snapshot: %s", exc)
            return
        self._size += len(data)

    def replace(self, lines: Iterable[str]) -> None:
        """Replace the whole file with ``lines`` (atomic: ``PATH.compact`` then rename)."""
        tmp = self.path + COMPACT_SUFFIX
        data = "".join(f"{line}\n" for line in lines).encode("utf-8")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            fsync_dir(os.path.dirname(os.path.abspath(self.path)))
        except OSError as exc:
            logger.error("Failed to compact snapshot: %s", exc)
            return
        if self._fd is not None:
            os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
        self._size = len(data)
        self.compactions += 1
        logger.info("Compacted snapshot %s to %d bytes", self.path, self._size)

    def sync(self) -> None:
        """fsync the file (on leave)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)

    def close(self) -> None:
        """fsync and close the file."""
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
