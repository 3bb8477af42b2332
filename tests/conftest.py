"""Shared fixtures: a tiny project on disk whose builder the gate imports, and saved checkpoints."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

REPO = Path(__file__).resolve().parent.parent


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

        from restore_gate.branch.build import resolve_callable

        keras.backend.clear_session()
        return resolve_callable(builder, self.root, [])(**kwargs)

    def check(self, checkpoint: Path | str, config: Path | None = None):
        from restore_gate.github import GitHub
        from restore_gate.pipeline.check import CheckOptions, run_check

        return run_check(
            CheckOptions(config=config or self.root / ".restore-gate.yml",
                         checkpoint=str(checkpoint), quiet=True, github=GitHub.from_env)
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "repo")


def release_model(base: Path, source: str | None = None):
    """Build the release's model from `source` (default: `functional_model()`) written as
    `model.py` in a throwaway repository under `base`."""
    release = Project(base / "repo")
    release.write("model.py", source if source is not None else functional_model())
    return release.build()


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
        f'    x = keras.layers.Dense({units}, activation="relu", name="hidden", '
        f'dtype="{dtype}")(inputs)\n'
        f"{extra}"
        '    outputs = keras.layers.Dense(3, name="out")(x)\n'
        "    model = keras.Model(inputs, outputs)\n"
        f"{compile_line}"
        "    return model\n"
    )


# --- saved releases, shared by the check/inspect tests (module-scoped fixtures build on these) ---

SUBCLASSED_MODEL = """\
import keras


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.{first} = keras.layers.Dense(8, activation="relu")
        self.head = keras.layers.Dense(3)

    def call(self, x):
        return self.head(self.{first}(x))


def build():
    model = Net()
    model(keras.ops.zeros((1, 4)))
    return model
"""


def save_release(model, directory: Path, kind: str) -> Path:
    """Save `model` as a release checkpoint of one kind, with plain TF/Keras calls.

    kinds: `tf` (tf.train.Checkpoint(model=...)), `tf-opt` (with the optimizer),
    `manager` (a CheckpointManager folder, two saves), `h5` (.weights.h5), `keras` (.keras).
    """
    import tensorflow as tf

    directory.mkdir(parents=True, exist_ok=True)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)
    if kind == "tf":
        return Path(tf.train.Checkpoint(model=model).write(str(directory / "ckpt")))
    if kind == "tf-opt":
        return Path(tf.train.Checkpoint(model=model, optimizer=optimizer).write(
            str(directory / "ckpt")))
    if kind == "manager":
        manager = tf.train.CheckpointManager(
            tf.train.Checkpoint(model=model, optimizer=optimizer), str(directory), max_to_keep=2
        )
        manager.save()
        manager.save()
        return directory
    if kind == "h5":
        path = directory / "model.weights.h5"
        model.save_weights(str(path))
        return path
    if kind == "keras":
        path = directory / "model.keras"
        model.save(str(path))
        return path
    raise ValueError(kind)
