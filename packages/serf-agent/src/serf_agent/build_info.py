"""Which pyserf is running: the values ``serf info`` (section ``agent``) and ``/metrics`` show."""

from __future__ import annotations

from serf_proto import __version__


def agent_build_info() -> dict[str, str]:
    """Extra keys of the ``agent`` stats section (Go has only ``name`` there)."""
    return {"pyserf_version": __version__}
