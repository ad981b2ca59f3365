"""What every benchmark writer shares: provenance, raw results, spreads and docs blocks.

A benchmark script calls :func:`start` before measuring and :meth:`Run.finish` after; then

* :func:`save_results` writes the raw samples and the provenance as JSON to
  ``benchmarks/results/<name>-<date>-<shortcommit>.json`` (never over an existing file);
* :func:`provenance_block` renders the line that goes under each generated docs block: the
  commit (and whether the tree had uncommitted changes), the UTC date, the machine (CPU model,
  cores, load average at start and end, Python and Go Serf versions), the exact command and
  the raw results file;
* :func:`replace_blocks` puts the generated text between ``<!-- NAME:start -->`` and
  ``<!-- NAME:end -->`` in a docs page. Headings and explanations stay outside the markers,
  written by hand; only tables, computed verdicts and provenance go inside.

:class:`Spread` (median with min and max of independent samples) and :func:`compare` hold the
project's rule for calling a change an improvement: only when the two min–max ranges do not
overlap. :class:`CellStore` keeps each measured cell's raw samples as a run goes, so a long
sweep can stop and be resumed (``--resume``) at the same commit.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
GO_SERF = "/usr/bin/serf"
#: Paths whose changes do not make a measurement's code differ from its commit (the outputs).
OUTPUT_PATHS = ("benchmarks/results", "docs")


def _git(*args: str) -> str:
    proc = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    return proc.stdout.rstrip() if proc.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _go_serf_version() -> str:
    try:
        proc = subprocess.run(
            [GO_SERF, "version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    first = proc.stdout.strip().splitlines()
    reported = first[0].strip() if first else "unknown"
    # Debian's build reports a stale version string (0.8.2-dev for its 0.9.4 package): name the
    # package version too, when a package owns the binary.
    try:
        owner = subprocess.run(
            ["dpkg-query", "-S", GO_SERF], capture_output=True, text=True, timeout=10, check=False
        ).stdout.split(":", 1)[0]
        version = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", owner],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return reported
    return f"{reported}, Debian package {owner} {version}" if owner and version else reported


def _command() -> str:
    """The command line as typed, with paths inside the repository made relative."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    out = []
    for arg in argv:
        path = Path(arg)
        if path.is_absolute():
            with contextlib.suppress(ValueError):
                arg = str(path.relative_to(ROOT))
        out.append(arg)
    return shlex.join(out)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Run:
    """Provenance of one benchmark run (see :func:`start`)."""

    name: str
    commit: str
    dirty_paths: list[str]
    started: str
    command: str
    cpu_model: str
    cores: int
    python: str
    go_serf: str
    load_start: tuple[float, float, float]
    diff_hash: str = ""
    finished: str = ""
    load_end: tuple[float, float, float] | None = None

    @property
    def short(self) -> str:
        return self.commit[:7] if self.commit else "nocommit"

    @property
    def dirty(self) -> bool:
        return bool(self.dirty_paths)

    @property
    def date(self) -> str:
        return self.started[:10]

    def finish(self) -> Run:
        """Record the end time and load average; returns ``self``."""
        self.finished = _now()
        self.load_end = os.getloadavg()
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Run:
        """The provenance saved by :func:`save_results` (to re-render from a raw file)."""
        fields = dict(data)
        fields["load_start"] = tuple(fields["load_start"])
        if fields.get("load_end") is not None:
            fields["load_end"] = tuple(fields["load_end"])
        return cls(**fields)


def start(name: str) -> Run:
    """Provenance at the start of benchmark ``name`` (the results file name's first part)."""
    excluded = [f":(exclude){p}" for p in OUTPUT_PATHS]
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", *excluded)
    dirty = [line[3:] for line in status.splitlines() if line.strip()]
    diff = _git("diff", "HEAD", "--", ".", *excluded) if dirty else ""
    return Run(
        name=name,
        commit=_git("rev-parse", "HEAD").strip(),
        dirty_paths=dirty,
        started=_now(),
        command=_command(),
        cpu_model=_cpu_model(),
        cores=os.cpu_count() or 0,
        python=platform.python_version(),
        go_serf=_go_serf_version(),
        load_start=os.getloadavg(),
        diff_hash=hashlib.sha256(diff.encode()).hexdigest()[:16] if dirty else "",
    )


def add_output_args(parser: argparse.ArgumentParser) -> None:
    """The output options every writer takes: ``--no-doc`` and ``--results-dir``."""
    parser.add_argument(
        "--no-doc", "--no-docs", action="store_true", help="print instead of updating docs/"
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the raw results JSON goes (default benchmarks/results/)",
    )


def results_path(run: Run, results_dir: Path = RESULTS_DIR) -> Path:
    """``<results_dir>/<name>-<date>-<shortcommit>.json`` (``-dirty`` before ``.json`` for a
    tree with uncommitted changes); never an existing file: ``-2``, ``-3``, ... are added."""
    stem = f"{run.name}-{run.date}-{run.short}" + ("-dirty" if run.dirty else "")
    path = results_dir / f"{stem}.json"
    count = 1
    while path.exists():
        count += 1
        path = results_dir / f"{stem}-{count}.json"
    return path


def save_results(
    run: Run,
    results: Any,
    *,
    parameters: Mapping[str, Any] | None = None,
    results_dir: Path = RESULTS_DIR,
) -> Path:
    """Write the raw ``results`` (JSON-serialisable: the samples, not only aggregates) with the
    provenance of ``run`` (finished first if it was not) and return the file's path."""
    if not run.finished:
        run.finish()
    path = results_path(run, results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "name": run.name,
        "provenance": run.to_dict(),
        "parameters": dict(parameters or {}),
        "results": results,
    }
    path.write_text(json.dumps(doc, indent=1, default=_jsonable) + "\n")
    return path


def _jsonable(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)  # type: ignore[call-overload]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def provenance_block(run: Run, raw: Path | None, *, short: bool = False) -> str:
    """The Markdown paragraph that goes under a generated block.

    ``short`` gives only commit, date and raw file, for further blocks of the same run.
    """
    if not run.finished:
        run.finish()
    tree = (
        f"with uncommitted changes in {', '.join(f'`{p}`' for p in run.dirty_paths[:5])}"
        + (" …" if len(run.dirty_paths) > 5 else "")
        if run.dirty
        else "clean tree"
    )
    when = f"{run.started[:10]} {run.started[11:16]}–{run.finished[11:16]} UTC"
    raw_text = f"raw results `{_display(raw)}`" if raw else "raw results not saved"
    if short:
        return f"*Provenance:* same run as above (commit `{run.short}`, {run.date}); {raw_text}."
    load_end = run.load_end or run.load_start
    return (
        f"*Provenance:* commit `{run.short}` ({tree}), {when}; {run.cpu_model}, "
        f"{run.cores} cores, load average {run.load_start[0]:.2f} at start and "
        f"{load_end[0]:.2f} at end; Python {run.python}; Go Serf `{run.go_serf}`. "
        f"Command: `{run.command}`; {raw_text}."
    )


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_blocks(doc: Path, blocks: Mapping[str, str]) -> None:
    """Replace the text between each block's start and end markers in ``doc``.

    Every marker pair must already be in the page (the hand-written heading and explanation
    around it decide where the block goes); a missing pair is an error, not an append.
    """
    text = doc.read_text()
    for name, body in blocks.items():
        start, end = markers(name)
        if text.count(start) != 1 or text.count(end) != 1:
            raise SystemExit(f"{doc}: needs exactly one {start} ... {end} pair")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{body.strip(chr(10))}\n{end}{tail}"
    doc.write_text(text)


@dataclass(frozen=True)
class Spread:
    """Median, minimum and maximum of ``n`` independent samples."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread | None:
        """The spread of the values that are not None (None when there are none)."""
        xs = [float(v) for v in values if v is not None]
        if not xs:
            return None
        return cls(statistics.median(xs), min(xs), max(xs), len(xs))

    def fmt(self, spec: str = ".3g") -> str:
        """``median (min–max)``; just the median for one sample."""
        if self.n == 1:
            return f"{self.median:{spec}} (n=1)"
        return f"{self.median:{spec}} ({self.low:{spec}}–{self.high:{spec}})"


def fmt_spread(spread: Spread | None, spec: str = ".3g") -> str:
    return "—" if spread is None else spread.fmt(spec)


def ratio(num: Spread | None, den: Spread | None) -> Spread | None:
    """``num / den`` of the medians, with the range from the extremes (num.low / den.high
    to num.high / den.low)."""
    if num is None or den is None or den.median <= 0 or den.low <= 0:
        return None
    return Spread(
        num.median / den.median, num.low / den.high, num.high / den.low, min(num.n, den.n)
    )


def compare(old: Spread, new: Spread, *, lower_is_better: bool = True) -> str:
    """``improved`` or ``worse`` only when the two min–max ranges do not overlap; otherwise
    ``within spread``."""
    if new.high < old.low:
        return "improved" if lower_is_better else "worse"
    if new.low > old.high:
        return "worse" if lower_is_better else "improved"
    return "within spread"


@dataclass
class CellStore:
    """Raw samples of a long sweep, one JSON line per sample, appended as they are measured.

    The file is ``<results_dir>/<name>-<shortcommit>.cells.jsonl``; :meth:`load` returns only
    the samples measured at the same commit and with the same uncommitted changes (the hash of
    ``git diff HEAD``; empty for a clean tree), so ``--resume`` never mixes code versions.
    Each sample comes back with ``measured_at``, the UTC time it was stored.
    """

    run: Run
    results_dir: Path = RESULTS_DIR
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.results_dir / f"{self.run.name}-{self.run.short}.cells.jsonl"

    def load(self) -> dict[str, list[dict[str, Any]]]:
        """Read the samples already measured at this commit; returns them by cell."""
        self.samples = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if not line.strip():
                    continue
                row = json.loads(line)
                if row["commit"] != self.run.commit or row["diff"] != self.run.diff_hash:
                    continue
                sample = {**row["sample"], "measured_at": row["at"]}
                self.samples.setdefault(row["cell"], []).append(sample)
        return self.samples

    def add(self, cell: str, sample: Mapping[str, Any]) -> None:
        """Append one sample of ``cell`` to the file (flushed at once)."""
        at = _now()
        row = {
            "cell": cell,
            "commit": self.run.commit,
            "diff": self.run.diff_hash,
            "at": at,
            "sample": dict(sample),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as out:
            out.write(json.dumps(row, default=_jsonable) + "\n")
        self.samples.setdefault(cell, []).append({**sample, "measured_at": at})
