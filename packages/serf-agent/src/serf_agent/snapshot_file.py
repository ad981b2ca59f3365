"""The snapshot file on disk (``-snapshot=PATH``): append, compact, recover.

The Serf core decides *what* to record (``SnapshotAppend`` lines, see
``serf_proto.serf.snapshot``); this module owns the file. It

* reads the file at start (the text goes to ``parse_snapshot`` for clocks and members),
* appends records, one per line, flushing each batch to the OS so a killed agent loses at most
  the batch being written (a torn last line is ignored on replay),
* keeps the file bounded: it follows the records it writes (alive members and the three clocks)
  and, once the file outgrows ``max(2 x 128 x alive members, 128 KiB)``, rewrites it as one
  ``alive:`` line per member plus the clocks. The rewrite goes to ``PATH.compact``, is fsynced
  and renamed over ``PATH``, so a crash leaves either the old or the new file,
* creates the file with mode 0600 and fsyncs it on leave and shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from serf_proto.serf.snapshot import PreviousNode, compaction_threshold

from serf_agent.atomic_file import fsync_dir

logger = logging.getLogger("serf_agent.snapshot")

#: Suffix of the temporary file a compaction writes before renaming it into place.
COMPACT_SUFFIX = ".compact"


@dataclass(slots=True)
class SnapshotTracker:
    """What the records written so far say: alive members and the latest clocks.

    ``failed`` remembers members that were alive and then went ``not-alive`` (their last
    address), for ``rejoin_failed``.
    """

    rejoin_after_leave: bool = False
    alive: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    clocks: dict[str, int] = field(
        default_factory=lambda: {"clock": 0, "event-clock": 0, "query-clock": 0}
    )

    def apply(self, line: str) -> None:
        """Update the view with one record."""
        if line.startswith("alive: "):
            name, sep, addr = line[len("alive: ") :].rpartition(" ")
            if sep:
                self.alive[name] = addr
                self.failed.pop(name, None)
        elif line.startswith("not-alive: "):
            name = line[len("not-alive: ") :]
            addr = self.alive.pop(name, "")
            if addr:
                self.failed[name] = addr
        elif line.startswith(("clock: ", "event-clock: ", "query-clock: ")):
            kind, _, value = line.partition(": ")
            if value.isdigit():
                self.clocks[kind] = max(self.clocks[kind], int(value))
        elif line == "leave" and not self.rejoin_after_leave:
            self.alive.clear()
            self.failed.clear()

    def compacted(self) -> list[str]:
        """The records that say the same as everything applied so far."""
        lines = [f"alive: {name} {addr}" for name, addr in self.alive.items()]
        lines += [f"{kind}: {value}" for kind, value in self.clocks.items()]
        return lines


def previously_failed(text: str) -> list[PreviousNode]:
    """Members a snapshot saw alive and then lost (left or failed), with their last address."""
    tracker = SnapshotTracker()
    for line in text.split("\n")[:-1]:
        tracker.apply(line)
    return [PreviousNode(name, addr) for name, addr in tracker.failed.items()]


class SnapshotFile:
    """An open snapshot file that appends records and compacts itself when it grows."""

    def __init__(self, path: str, *, rejoin_after_leave: bool = False) -> None:
        self.path = path
        self.rejoin_after_leave = rejoin_after_leave
        self.tracker = SnapshotTracker(rejoin_after_leave)
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
        for line in text.split("\n")[:-1]:
            self.tracker.apply(line)
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

    def append(self, lines: Iterable[str]) -> None:
        """Append records and hand them to the OS; compact when the file outgrew its bound."""
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
        for line in batch:
            self.tracker.apply(line)
        if self._size > compaction_threshold(len(self.tracker.alive)):
            self.compact()

    def replace(self, lines: Iterable[str]) -> None:
        """Replace the whole file with ``lines`` (a compaction decided by the core)."""
        batch = list(lines)
        tracker = SnapshotTracker(self.rejoin_after_leave)
        for line in batch:
            tracker.apply(line)
        self.tracker = tracker
        self._rewrite(batch)

    def compact(self) -> None:
        """Rewrite the file as its compacted form (atomic: ``PATH.compact`` then rename)."""
        self._rewrite(self.tracker.compacted())

    def _rewrite(self, lines: list[str]) -> None:
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
