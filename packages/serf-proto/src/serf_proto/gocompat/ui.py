"""Go's ``mitchellh/cli`` UI as Serf's commands use it: everything on stdout, flags on stderr.

``serf`` builds a ``BasicUi`` without an error writer, so ``Output``, ``Info`` and ``Error`` all
write to **stdout**; only the ``flag`` package's messages, ``-h`` help and the top-level usage
go to stderr. ``serf agent`` wraps it in a ``PrefixedUi`` (``==> `` before output and errors,
four spaces before info), which prefixes a message's first line and leaves an empty message
bare. Text is written as UTF-8 with ``surrogateescape`` so bytes that arrived undecodable are
written back unchanged; every write is flushed, so streamed output appears as it arrives.

The caller hands in the binary streams (``sys.stdout.buffer`` and ``sys.stderr.buffer`` for a
command): serf-proto itself never touches the process's standard streams.
"""

from __future__ import annotations

from typing import BinaryIO


class Ui:
    """Line-oriented command output to the binary streams ``stdout`` and ``stderr``."""

    def __init__(
        self,
        stdout: BinaryIO,
        stderr: BinaryIO,
        *,
        output_prefix: str = "",
        info_prefix: str = "",
        error_prefix: str = "",
        ignore_write_errors: bool = False,
    ) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self._prefixes = (output_prefix, info_prefix, error_prefix)
        self._ignore_write_errors = ignore_write_errors

    @classmethod
    def prefixed(cls, stdout: BinaryIO, stderr: BinaryIO) -> Ui:
        """The agent's UI: ``==> `` for output and errors, four spaces for info.

        Write errors (a closed stdout while the agent keeps running) are ignored, as Go does.
        """
        return cls(
            stdout,
            stderr,
            output_prefix="==> ",
            info_prefix="    ",
            error_prefix="==> ",
            ignore_write_errors=True,
        )

    def _stream(self, err: bool) -> BinaryIO:
        return self._stderr if err else self._stdout

    def write_bytes(self, data: bytes, *, err: bool = False) -> None:
        """Write raw bytes (to stderr with ``err``) and flush."""
        try:
            stream = self._stream(err)
            stream.write(data)
            stream.flush()
        except (OSError, ValueError):
            if not self._ignore_write_errors:
                raise

    def _line(self, prefix: str, text: str, *, err: bool = False) -> None:
        if text and prefix:
            text = prefix + text
        self.write_bytes((text + "\n").encode("utf-8", "surrogateescape"), err=err)

    def output(self, text: str = "") -> None:
        """Go's ``Ui.Output``: one message on stdout."""
        self._line(self._prefixes[0], text)

    def info(self, text: str = "") -> None:
        """Go's ``Ui.Info``: one message on stdout."""
        self._line(self._prefixes[1], text)

    def error(self, text: str = "") -> None:
        """Go's ``Ui.Error``: one message on stdout (Serf sets no error writer)."""
        self._line(self._prefixes[2], text)

    def stderr(self, text: str = "") -> None:
        """One message on stderr (flag errors, ``-h`` help, the top-level usage)."""
        self._line("", text, err=True)
