"""serf_agent: the pyserf agent (config, handlers, snapshots, keyring, RPC and HTTP servers)."""

# One version for every pyserf package: serf_proto.__version__.
from serf_proto import __version__

__all__ = ["__version__"]
