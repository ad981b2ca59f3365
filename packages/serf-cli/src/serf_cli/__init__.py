"""serf_cli: the ``serf`` command, a drop-in for Go Serf's CLI."""

# One version for every pyserf package: serf_proto.__version__.
from serf_proto import __version__

__all__ = ["__version__"]
