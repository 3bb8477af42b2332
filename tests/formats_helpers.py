"""Shared helpers for the tests/test_formats_*.py files: shared test data, report views."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# copied with their origins and licenses: tests/data/external/README.md
TESTDATA = Path(__file__).resolve().parent / "data" / "external" / "testdata"
SERVING = TESTDATA / "tensorflow-serving" / "servables" / "tensorflow" / "testdata"
FIXTURES = Path(__file__).resolve().parent / "data" / "formats"

needs_testdata = pytest.mark.skipif(
    not TESTDATA.is_dir(), reason=f"test data not found at {TESTDATA}"
)

KERAS_MODEL = """\
import keras


def build():
    inputs = keras.Input(({inputs},), name="{input_name}")
    x = keras.layers.Dense({units}, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)
"""


def keras_model(units: int = 8, inputs: int = 4, input_name: str = "x") -> str:
    return KERAS_MODEL.format(units=units, inputs=inputs, input_name=input_name)


def write_branch(project, code: str, module: str = "model", extra: str = "",
                 model_keys: str = "") -> None:
    """The branch's model code and a config pointing at `module:build`; `model_keys` are
    more lines of the `model:` section (indented), `extra` more top-level sections."""
    project.write(f"{module}.py", textwrap.dedent(code))
    project.write(".restore-gate.yml",
                  f"version: 1\nmodel:\n  builder: {module}:build\n{model_keys}{extra}")


def mismatches(report) -> dict[str, str]:
    """{name: kind} of the report's mismatches."""
    return {m.name: m.kind for m in report.mismatches}


def structural_errors(report) -> list[dict]:
    """Errors of the stages this issue owns (the evaluate stage is the drift feature's)."""
    return [e for e in report.errors if e["stage"] != "evaluate"]


def restored(report) -> int | None:
    return report.model.get("restored")
