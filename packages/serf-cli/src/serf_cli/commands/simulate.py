"""``serf simulate``: run real Serf nodes on the deterministic simulator and print the curves.

The protocol code (``serf_proto.simulate``) is pure; this command parses Go-style flags, runs
the scenario, and adds what only the process can measure: wall time and peak RSS.

On a terminal (stderr is a TTY and the format is text) it shows progress on stderr: the
simulated seconds, the deliveries per wall-clock second and the estimated time left. Ctrl-C
during the run prints the partial result measured so far and exits 130.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import sys
import time
from typing import TextIO

from serf_proto.gocompat import FlagSet, Ui
from serf_proto.simulate import ScenarioError, ScenarioSpec, render_text, run_scenario

from serf_cli.commands._common import parse_flags, usage_error

HELP = """\
Usage: serf simulate [options]

  Runs a cluster of real Serf nodes (the same protocol code as the agent) on a
  deterministic simulated network, in this process, and prints how fast an
  event spreads, a failure is detected or a cluster converges. The same seed
  gives the same result.

Options:

  -nodes=100                Number of nodes.
  -scenario=event           event, failure, join, partition, restart, steady
                            or chaos (a seeded fault schedule, then invariants
                            checked; uses -nodes, -seed and -profile only).
  -loss=0                   Share of datagrams lost on every link (0 to <1).
  -latency=1ms              One-way delay of every link.
  -profile=lan              Timing profile: lan, wan or local.
  -duration=60s             How long to watch after the trigger (for steady:
                            the whole run).
  -trigger=10s              When the event is sent, the node crashes or the
                            partition starts (join: when the joins start).
  -heal=60s                 How long the partition lasts.
  -restart-share=1          restart: share of the nodes restarted (0 to 1).
  -restart-spread=20s       restart: the restarts spread evenly over this.
  -restart-downtime=8s      restart: how long each restarted node stays down.
  -from-snapshot=false      restart: restart from a snapshot (rejoin the nodes
                            it lists) instead of fresh with a join.
  -go-faithful=false        Run Go's rules (no self-healing pings, stale
                            alives ignored) to compare with pyserf's.
  -seed=1                   Seed of the run.
  -lifeguard=true           Lifeguard's local-health and suspicion scaling.
  -tcp-pings=true           Fall back to TCP when a UDP probe fails (simulated
                            streams are lossless, so this hides datagram loss).
  -fast-wire=false          Skip compression on send (faster for large N).
  -stop-when-complete=false End once every live node reached the measured
                            state (checked every simulated second).
  -format=text              Output format: text or json.
  -arrivals=false           With -format=json, also list every node's arrival
                            time (seconds after the trigger)."""

_NS = 1_000_000_000


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (0 where ``resource`` is missing)."""
    try:
        import resource  # Unix only: imported when needed, so the CLI loads anywhere
    except ImportError:
        return 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


#: Exit code after Ctrl-C (128 + SIGINT), with or without a partial result.
INTERRUPTED = 130


class ProgressLine:
    """One self-rewriting status line on a terminal, at most ``per_second`` updates a second."""

    def __init__(self, stream: TextIO, *, per_second: float = 8.0) -> None:
        self.stream = stream
        self.interval = 1.0 / per_second
        self.started: float | None = None
        self.start_sim = 0.0
        self.start_deliveries = 0
        self.last = 0.0
        self.shown = False

    def show(self, text: str) -> None:
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self.shown = True

    def building(self, nodes: int) -> None:
        self.show(f"building {nodes:,} nodes...")

    def update(self, now: float, end: float, deliveries: int) -> None:
        """The runner's ``on_progress``: rates count from its first call (the run's start)."""
        wall = time.perf_counter()
        if self.started is None:
            self.started = self.last = wall
            self.start_sim, self.start_deliveries = now, deliveries
            return
        if wall - self.last < self.interval:
            return
        self.last = wall
        self.show(
            progress_text(
                now,
                end,
                deliveries - self.start_deliveries,
                wall - self.started,
                now - self.start_sim,
            )
        )

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def progress_text(now: float, end: float, deliveries: int, wall: float, simulated: float) -> str:
    """``simulated 12.0/70.0 s (17%)  52,310 deliveries/s  ETA 0:41`` (rates since the start)."""
    share = now / end if end > 0 else 1.0
    rate = deliveries / wall if wall > 0 else 0.0
    speed = simulated / wall if wall > 0 else 0.0
    eta = "?"
    if speed > 0:
        left = max(0.0, end - now) / speed
        eta = f"{int(left // 60)}:{int(left % 60):02d}"
    return f"simulated {now:,.1f}/{end:,.1f} s ({share:.0%})  {rate:,.0f} deliveries/s  ETA {eta}"


def _flags() -> FlagSet:
    flags = FlagSet()
    flags.integer("nodes", 100)
    flags.string("scenario", "event")
    flags.string("loss", "0")
    flags.duration("latency", _NS // 1000)
    flags.string("profile", "lan")
    flags.duration("duration", 60 * _NS)
    flags.duration("trigger", 10 * _NS)
    flags.duration("heal", 60 * _NS)
    flags.string("restart-share", "1")
    flags.duration("restart-spread", 20 * _NS)
    flags.duration("restart-downtime", 8 * _NS)
    flags.boolean("from-snapshot", False)
    flags.boolean("go-faithful", False)
    flags.integer("seed", 1)
    flags.boolean("lifeguard", True)
    flags.boolean("tcp-pings", True)
    flags.boolean("fast-wire", False)
    flags.boolean("stop-when-complete", False)
    flags.string("format", "text")
    flags.boolean("arrivals", False)
    return flags


def _loss(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(f"invalid loss {text!r}: expected a number in [0, 1)") from None
    if not math.isfinite(value):
        raise ScenarioError(f"invalid loss {text!r}: expected a number in [0, 1)")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScenarioError(
            f"invalid restart share {text!r}: expected a number in (0, 1]"
        ) from None
    if not math.isfinite(value):
        raise ScenarioError(f"invalid restart share {text!r}: expected a number in (0, 1]")
    return value


def spec_from_flags(flags: FlagSet) -> ScenarioSpec:
    """The scenario the parsed flags describe; raises ``ScenarioError`` for bad values."""
    return ScenarioSpec(
        nodes=flags.get_int("nodes"),
        scenario=flags.get_str("scenario"),
        seed=flags.get_int("seed"),
        loss=_loss(flags.get_str("loss")),
        latency=flags.get_int("latency") / _NS,
        profile=flags.get_str("profile"),
        duration=flags.get_int("duration") / _NS,
        trigger_at=flags.get_int("trigger") / _NS,
        heal_after=flags.get_int("heal") / _NS,
        restart_share=_share(flags.get_str("restart-share")),
        restart_spread=flags.get_int("restart-spread") / _NS,
        restart_downtime=flags.get_int("restart-downtime") / _NS,
        from_snapshot=flags.get_bool("from-snapshot"),
        go_faithful=flags.get_bool("go-faithful"),
        lifeguard=flags.get_bool("lifeguard"),
        tcp_pings=flags.get_bool("tcp-pings"),
        fast_wire=flags.get_bool("fast-wire"),
        stop_when_complete=flags.get_bool("stop-when-complete"),
    )


def run(args: list[str], ui: Ui) -> int:
    """Run the scenario the flags describe; print the text report or one JSON object."""
    flags = _flags()
    rest = parse_flags(flags, args, HELP, ui)
    if rest is None:
        return 1
    if rest:
        return usage_error(ui, f"Unexpected arguments: {' '.join(rest)}", HELP)
    fmt = flags.get_str("format")
    if fmt not in ("text", "json"):
        return usage_error(ui, f"Unknown output format {fmt!r} (expected text or json)", HELP)
    try:
        spec = spec_from_flags(flags)
    except ScenarioError as exc:
        return usage_error(ui, f"Invalid simulation: {exc}", HELP)
    # Probes that fail under loss or across a partition log warnings by design; the report
    # counts what matters.
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    # A large cluster holds millions of long-lived objects: collect cycles less often.
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    progress = ProgressLine(sys.stderr) if fmt == "text" and sys.stderr.isatty() else None
    marks: dict[str, float] = {}

    def mark(phase: str) -> None:
        marks[phase] = time.perf_counter()

    try:
        if progress is not None:
            progress.building(spec.nodes)
        start = time.perf_counter()
        result = run_scenario(
            spec,
            on_phase=mark,
            on_progress=progress.update if progress is not None else None,
            interruptible=True,
        )
        wall = time.perf_counter() - start
    except KeyboardInterrupt:
        if progress is not None:
            progress.clear()
        ui.stderr("Interrupted while building the cluster: no result")
        return INTERRUPTED
    finally:
        if progress is not None:
            progress.clear()
        gc.set_threshold(*thresholds)
        logging.disable(previous)
    rss = peak_rss_mib()
    if result.interrupted:
        ui.stderr(f"Interrupted after {result.duration_s:.1f} simulated seconds: partial result")
    if fmt == "json":
        out = result.to_dict(arrivals=flags.get_bool("arrivals"))
        run_s = marks["done"] - marks["built"]
        out["wall_s"] = round(wall, 3)
        out["build_s"] = round(marks["built"] - start, 3)
        out["run_s"] = round(run_s, 3)
        out["deliveries_per_s"] = round(result.deliveries / run_s) if run_s > 0 else None
        out["peak_rss_mib"] = round(rss, 1)
        ui.output(json.dumps(out, sort_keys=False))
    else:
        ui.output(
            render_text(
                result,
                wall_s=wall,
                run_s=marks["done"] - marks["built"],
                peak_rss_mib=rss,
            )
        )
    return INTERRUPTED if result.interrupted else 0
