"""The JSON Schemas shipped with restore-gate (config.schema.json, report.schema.json)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `restore_gate/schemas/`."""
    text = resources.files("restore_gate").joinpath("schemas", name).read_text("utf-8")
    return json.loads(text)
