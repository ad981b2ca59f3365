"""The seeded fault schedule of the ``chaos`` scenario: what happens when, as plain data.

A schedule is a list of :class:`Action`\\ s drawn from one seed (:func:`make_schedule`); the
runner (:mod:`serf_proto.simulate.chaos`) carries them out on the simulator. Being plain data,
a schedule is printed with the result, replays exactly, and can be built by hand or shrunk by
a property test.

The draw stays inside what Serf promises, so that every invariant the runner checks is one
Serf should keep:

* user events are never coalesced, and far fewer are sent than the 512-entry event buffer
  holds, so none can be refused as too old;
* at most one island partition at a time; loss bursts are at most 30 % and touch a few links;
  one-way cuts drop datagrams only (streams still connect), as a broken UDP path would;
* pauses last longer than the suspicion timeout, so the paused node is declared failed and
  must refute it when it resumes;
* a crashed node restarts before the faults end, either fresh (empty state, ``join`` with
  ``ignore_old``) or from its snapshot (clocks and members replayed, then the same ``join``),
  as an agent with ``-snapshot`` and ``-retry-join`` would; a node that leaves gracefully
  stops its process a little later and never returns;
* every fault ends before the quiet period starts;
* a key rotation (``rotate``: install a new key, make it primary, remove the old one, each
  step a key query from a random live node) takes its next step only once every node, the
  crashed ones' saved keyrings included, holds what the previous step set up: a key is
  removed only after every node holds the new one, as an operator must do it. Steps are
  re-sent every few seconds to nodes that missed them; the rotation stops trying
  :data:`~serf_proto.simulate.chaos.ROTATION_GRACE` seconds after the faults end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from serf_proto.memberlist.formulas import push_pull_scale

__all__ = ["ACTION_KINDS", "Action", "ChaosPlan", "make_schedule"]

#: Every action kind, in the order the docs list them.
ACTION_KINDS = (
    "loss",
    "cut",
    "islands",
    "pause",
    "crash",
    "join",
    "leave",
    "tags",
    "event",
    "query",
    "poison",
    "rotate",
)


@dataclass(frozen=True, slots=True)
class Action:
    """One scheduled action at simulated time ``at`` (seconds).

    ``nodes`` are the nodes it concerns (link ends, island members, the victim, the sender);
    ``until`` ends a fault (heal, restore, restart); ``arg`` is a kind-specific value (the
    loss rate, the tag value, the event or query name, the nodes a query selects).
    """

    at: float
    kind: str
    nodes: tuple[str, ...]
    until: float | None = None
    arg: Any = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": round(self.at, 3),
            "kind": self.kind,
            "nodes": list(self.nodes),
        }
        if self.until is not None:
            out["until"] = round(self.until, 3)
        if self.arg is not None:
            out["arg"] = list(self.arg) if isinstance(self.arg, tuple) else self.arg
        return out


@dataclass(slots=True)
class ChaosPlan:
    """The initial nodes, the actions and the phase boundaries of one chaos run."""

    nodes: list[str]
    actions: list[Action]
    faults_end: float
    quiet_end: float
    joined: list[str] = field(default_factory=list)


def make_schedule(
    seed: int,
    nodes: int,
    *,
    start: float = 5.0,
    window: float = 60.0,
    quiet: float | None = None,
    push_pull_interval: float = 30.0,
) -> ChaosPlan:
    """Draw the schedule of one run: faults in ``[start, start + window)``, then ``quiet``.

    The quiet period defaults to three push/pull intervals as memberlist scales them for the
    cluster (30 s up to 32 nodes on LAN, 60 s at 50, 150 s at 500), at least 120 s: a node
    that missed an event or a leave during a partition learns it from a push/pull.
    """
    if quiet is None:
        quiet = max(120.0, 3 * push_pull_scale(push_pull_interval, nodes))
    rng = random.Random(f"{seed}/chaos")
    names = [f"n{i}" for i in range(nodes)]
    end = start + window
    actions: list[Action] = []

    def when(margin: float = 0.0) -> float:
        return round(rng.uniform(start, end - margin), 3)

    # Nodes a fault already owns (paused, crashed, leaving) are not picked again, so a
    # node's faults never overlap in ways the truth model cannot follow.
    busy: set[str] = set()

    def free_node() -> str | None:
        pool = [n for n in names[1:] if n not in busy]
        if not pool:
            return None
        choice = rng.choice(pool)
        busy.add(choice)
        return choice

    # Fault counts grow with the cluster up to 50 nodes and stay there: at 500 nodes, 50
    # simultaneous pauses and crashes would leave too few nodes to answer indirect probes,
    # which is outside what Serf promises.
    scale = max(1, min(5, nodes // 10))
    for _ in range(rng.randint(1, 2 * scale)):
        a, b = rng.sample(names, 2)
        at = when(5.0)
        rate = round(rng.uniform(0.05, 0.30), 3)
        actions.append(Action(at, "loss", (a, b), round(at + rng.uniform(2, 15), 3), rate))
    for _ in range(rng.randint(0, scale)):
        a, b = rng.sample(names, 2)
        at = when(5.0)
        actions.append(Action(at, "cut", (a, b), round(at + rng.uniform(2, 15), 3)))
    if rng.random() < 0.7:
        at = when(25.0)
        shuffled = rng.sample(names, len(names))
        count = rng.choice((2, 2, 3))
        cuts = sorted(rng.sample(range(1, len(names)), min(count - 1, len(names) - 1)))
        groups = [shuffled[i:j] for i, j in zip([0, *cuts], [*cuts, len(names)], strict=True)]
        actions.append(
            Action(
                at,
                "islands",
                tuple(shuffled),
                round(at + rng.uniform(5, 20), 3),
                tuple(len(g) for g in groups),
            )
        )
    for _ in range(rng.randint(0, scale)):
        victim = free_node()
        if victim is not None:
            at = when(30.0)
            actions.append(Action(at, "pause", (victim,), round(at + rng.uniform(12, 25), 3)))
    for _ in range(rng.randint(0, scale)):
        victim = free_node()
        if victim is not None:
            at = when(25.0)
            restart = rng.choice(("fresh", "snapshot"))
            until = round(at + rng.uniform(3, 20), 3)
            actions.append(Action(at, "crash", (victim,), until, restart))
    for _ in range(rng.randint(0, scale)):
        victim = free_node()
        if victim is not None:
            at = when(10.0)
            actions.append(Action(at, "leave", (victim,), round(at + 5.0, 3)))
    joined = [f"j{i}" for i in range(rng.randint(0, scale))]
    for name in joined:
        actions.append(Action(when(5.0), "join", (name,)))
    for i in range(rng.randint(1, 3 * scale)):
        actions.append(Action(when(), "tags", (rng.choice(names),), arg=f"v{i}"))
    for i in range(rng.randint(5, 20)):
        actions.append(Action(when(), "event", (rng.choice(names),), arg=f"ev{i}"))
    for i in range(rng.randint(2, 6)):
        selected = tuple(sorted(rng.sample(names, rng.randint(1, max(1, len(names) // 3)))))
        actions.append(Action(when(), "query", (rng.choice(names),), arg=(f"q{i}", *selected)))
    for _ in range(rng.randint(0, 3)):
        actions.append(Action(when(), "poison", (rng.choice(names),)))
    if rng.random() < 0.6:
        actions.append(Action(when(20.0), "rotate", ()))
    actions.sort(key=lambda a: (a.at, a.kind, a.nodes))
    return ChaosPlan(names, actions, end, end + quiet, joined)
