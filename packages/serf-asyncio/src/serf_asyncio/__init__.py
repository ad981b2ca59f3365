"""serf_asyncio: binds the serf-proto core to asyncio sockets and timers."""

__version__ = "0.1.0"

__all__ = ["__version__"]
