"""Shared fixtures: a tiny project on disk whose builder the gate imports, and saved checkpoints."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


class Project:
    """A fake repository: model code, a config, and helpers to save a 'release'."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def config(self, extra: str = "", builder: str = "model:build") -> Path:
        return self.write(
            ".restore-gate.yml",
            f"version: 1\nmodel:\n  builder: {builder}\n" + textwrap.dedent(extra),
        )

    def build(self, builder: str = "model:build", **kwargs):
        import keras

        from restore_gate.build import resolve_callable

        keras.backend.clear_session()
        return resolve_callable(builder, self.root, [])(**kwargs)

    def check(self, checkpoint: Path | str, config: Path | None = None):
        from restore_gate.check import CheckOptions, run_check

        return run_check(
            CheckOptions(config=config or self.root / ".restore-gate.yml",
                         checkpoint=str(checkpoint), quiet=True)
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "repo")


def functional_model(units: int = 8, extra: str = "", compiled: bool = True,
                     optimizer: str = "adam", dtype: str = "float32") -> str:
    """Source of a small functional classifier; `extra` is inserted after the hidden layer."""
    compile_line = (
        f'    model.compile(optimizer="{optimizer}", loss="sparse_categorical_crossentropy")\n'
        if compiled else ""
    )
    return (
        "import keras\n\n\n"
        "def build():\n"
        "    inputs = keras.Input((4,))\n"
        f'    x = keras.layers.Dense({units}, activation="relu", name="hidden", dtype="{dtype}")(inputs)\n'
        f"{extra}"
        '    outputs = keras.layers.Dense(3, name="out")(x)\n'
        "    model = keras.Model(inputs, outputs)\n"
        f"{compile_line}"
        "    return model\n"
    )
