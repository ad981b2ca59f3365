"""Hatch metadata hook shared by every pyserf package (each package holds a copy of this file).

The version is written once, as ``__version__`` in serf-proto's ``serf_proto/__init__.py``; this
hook gives every package that version and pins the internal dependencies listed under
``[tool.hatch.metadata.hooks.custom]`` to it, so ``pyserf==X`` installs ``serf-cli==X`` and so on
down to ``serf-proto==X``. Building a wheel from an sdist reads both from ``PKG-INFO`` instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface

VERSION_FILE = Path("serf-proto") / "src" / "serf_proto" / "__init__.py"


def read_version(package_root: Path) -> str:
    """The pyserf version, read from serf_proto/__init__.py next to this package."""
    text = (package_root.parent / VERSION_FILE).read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if found is None:
        raise ValueError(f"no __version__ in {VERSION_FILE}")
    return found.group(1)


class PyserfMetadataHook(MetadataHookInterface):
    """Sets ``version`` and ``dependencies`` (internal ones pinned to the same version)."""

    def update(self, metadata: dict[str, Any]) -> None:
        version = read_version(Path(self.root))
        metadata["version"] = version
        internal = [f"{name}=={version}" for name in self.config.get("internal", [])]
        metadata["dependencies"] = [*internal, *self.config.get("external", [])]
