"""serf_cli: the ``serf`` command, a drop-in for Go Serf's CLI."""

__version__ = "0.1.0"

__all__ = ["__version__"]
