"""Where ``serf`` writes: stdout for output and errors (as Go's CLI does), stderr for help.

Go's commands print error messages on **stdout**; only flag-parse messages, ``-h`` help and the
top-level usage go to stderr. Text is written as UTF-8 with ``surrogateescape`` so bytes that
arrived undecodable from the agent are written back unchanged. Every write is flushed, so
streamed output (``query``, ``monitor``) appears as it arrives.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO


class Ui:
    """Line-oriented output; pass binary streams to capture it, or use the process streams."""

    def __init__(self, stdout: BinaryIO | None = None, stderr: BinaryIO | None = None) -> None:
        self._stdout = stdout
        self._stderr = stderr

    def _stream(self, err: bool) -> BinaryIO:
        chosen = self._stderr if err else self._stdout
        if chosen is not None:
            return chosen
        text_stream = sys.stderr if err else sys.stdout
        return text_stream.buffer

    def write_bytes(self, data: bytes, *, err: bool = False) -> None:
        """Write raw bytes and flush."""
        stream = self._stream(err)
        stream.write(data)
        stream.flush()

    def out(self, text: str = "") -> None:
        """Write one line to stdout (Go's ``Ui.Output``/``Ui.Info``/``Ui.Error``)."""
        self.write_bytes((text + "\n").encode("utf-8", "surrogateescape"))

    def err(self, text: str = "") -> None:
        """Write one line to stderr (flag errors, help, usage)."""
        self.write_bytes((text + "\n").encode("utf-8", "surrogateescape"), err=True)
