"""A Python Serf node in its own process: ``node_process.py NAME BIND JOIN [KEY]``.

Prints ``ready`` once it has joined ``JOIN`` (``-`` joins nobody), then runs until killed.
Tests use it where a node must die by SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys

from serf_asyncio import SerfNode, node_config, run


async def main(argv: list[str]) -> None:
    name, bind, join, *rest = argv
    config = node_config(
        name, bind=bind, profile="local", keys=rest[:1], agent_defaults=True, tags={"lang": "py"}
    )
    async with SerfNode(config, leave_on_exit=False) as node:
        if join != "-":
            await node.join(join)
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    run(main(sys.argv[1:]))
