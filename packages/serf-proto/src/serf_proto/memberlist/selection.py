"""Random choice of peers (Go ``kRandomNodes``), drawing only from the injected generator."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["k_random_nodes"]

T = TypeVar("T")


def k_random_nodes(
    nodes: Sequence[T], k: int, exclude: Callable[[T], bool], rng: random.Random
) -> list[T]:
    """Up to ``k`` distinct nodes for which ``exclude`` is false, in random order.

    Above ``3k`` nodes this draws ``3k`` random slots as memberlist does (so it may return
    fewer than ``k`` even when more would qualify); below, it walks the whole table in random
    order, as memberlist ≥ 0.6 does, so small clusters always get ``k`` when they can.
    """
    n = len(nodes)
    if k <= 0 or n == 0:
        return []
    picked: list[T] = []
    if n <= 3 * k:
        order = list(range(n))
        rng.shuffle(order)
        for i in order:
            node = nodes[i]
            if not exclude(node):
                picked.append(node)
                if len(picked) >= k:
                    break
        return picked
    randbelow = rng.randrange
    for _ in range(3 * k):
        node = nodes[randbelow(n)]
        if any(node is p for p in picked) or exclude(node):
            continue
        picked.append(node)
        if len(picked) >= k:
            break
    return picked
