"""pyserf: HashiCorp Serf rebuilt in Python; this distribution installs the ``serf`` command.

``pip install pyserf`` brings serf-cli (the command), serf-agent, serf-asyncio and serf-proto, all
at the same version. ``python -m pyserf`` runs the command like ``serf``.
"""

from serf_cli import __version__

__all__ = ["__version__"]
