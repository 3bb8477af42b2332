"""The release bundle's manifest (restore-gate.json): its name, version and layout space."""

from __future__ import annotations

MANIFEST = "restore-gate.json"
MANIFEST_VERSION = 1
LAYOUT_SPACE = "object-path"  # `layout` values; bundles before it recorded variable names
