"""serf_agent: the pyserf agent (config, handlers, snapshots, keyring, RPC and HTTP servers)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
