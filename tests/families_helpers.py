"""Model families of issue 17 (text, mixed precision, custom training loops, custom layers):
their sources, releases saved with plain TF/Keras, and the ground truth a user gets by
restoring a release into the branch's model with plain TF 2.21 / Keras 3 on this install."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from conftest import Project, save_release

ATOL, RTOL = 1.0e-5, 1.0e-4
CONFIG = """
evaluation:
  data: data:eval_data
  golden_samples: 64
thresholds:
  outputs: {atol: 1.0e-5, rtol: 1.0e-4}
"""
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "far", "big", "red"]

TEXT_DATA = f'''
import numpy as np
import tensorflow as tf

WORDS = {WORDS!r}


def _rows(n=16, length=5, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.choice(WORDS, size=length).tolist() for _ in range(n)]


def labels(n=16):
    return np.arange(n) % 3


def sentences():
    return tf.constant([[" ".join(r)] for r in _rows()])


def tokens():
    return tf.constant(_rows())


def token_ids():
    return tf.constant(np.random.default_rng(4).integers(0, 20, size=(16, 6)), tf.int32)


def mixed():
    numbers = np.random.default_rng(5).normal(size=(16, 2)).astype("float32")
    return {{"text": sentences(), "num": tf.constant(numbers)}}


def eval_data():
    return tf.data.Dataset.from_tensor_slices(({{inputs}}(), labels())).batch(8)
'''

TEXT_MODEL = '''
import keras

VOCAB = {vocab!r}


def build():
{body}
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
'''

BODIES = {
    # TextVectorization + Embedding + LSTM on raw sentences
    "vectorize": '''
    inputs = keras.Input((1,), dtype="string", name="text")
    x = keras.layers.TextVectorization(vocabulary=VOCAB, output_sequence_length=6,
                                       name="vectorize")(inputs)
    x = keras.layers.Embedding(len(VOCAB) + 2, 8, name="embed")(x)
    x = keras.layers.LSTM({units}, name="lstm")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="{head}")(x))''',
    # StringLookup + Embedding + GRU on tokens
    "lookup": '''
    inputs = keras.Input((5,), dtype="string", name="tokens")
    x = keras.layers.StringLookup(vocabulary=VOCAB, name="lookup")(inputs)
    x = keras.layers.Embedding(len(VOCAB) + 1, 8, name="embed")(x)
    x = keras.layers.GRU({units}, name="gru")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="{head}")(x))''',
    # int token ids + Embedding + LSTM
    "ids": '''
    inputs = keras.Input((6,), dtype="int32", name="ids")
    x = keras.layers.Embedding(20, 8, name="embed")(inputs)
    x = keras.layers.LSTM({units}, name="lstm")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="{head}")(x))''',
    # dict inputs of mixed dtypes: a string and a float32 input
    "dict": '''
    text = keras.Input((1,), dtype="string", name="text")
    num = keras.Input((2,), dtype="float32", name="num")
    x = keras.layers.TextVectorization(vocabulary=VOCAB, output_sequence_length=6,
                                       name="vectorize")(text)
    x = keras.layers.Embedding(len(VOCAB) + 2, 8, name="embed")(x)
    x = keras.layers.GRU({units}, name="gru")(x)
    x = keras.layers.Concatenate(name="join")([x, num])
    model = keras.Model({{"text": text, "num": num}}, keras.layers.Dense(3, name="{head}")(x))''',
}
INPUTS = {"vectorize": "sentences", "lookup": "tokens", "ids": "token_ids", "dict": "mixed"}
# the layer whose state (the vocabulary) a vocabulary change alters
LOOKUP_LAYER = {"vectorize": "vectorize", "lookup": "lookup", "dict": "vectorize"}


def text_model(family: str, vocab: list[str] | None = None, units: int = 8,
               head: str = "head") -> str:
    body = textwrap.dedent(BODIES[family]).strip("\n")
    body = textwrap.indent(body.format(units=units, head=head), "    ")
    return TEXT_MODEL.format(vocab=list(vocab or WORDS), body=body)


def text_data(family: str) -> str:
    return TEXT_DATA.replace("{inputs}", INPUTS[family])


DENSE_DATA = '''
import numpy as np


def eval_data():
    rng = np.random.default_rng(2)
    return (rng.normal(scale=3.0, size=(32, 4)).astype("float32"), np.arange(32) % 3)
'''

MIXED_MODEL = '''
import keras


def build():
    keras.mixed_precision.set_global_policy("{policy}")
    inputs = keras.Input((4,))
    x = keras.layers.Dense(16, activation="tanh", name="hidden")(inputs)
    x = keras.layers.Dense(16, activation="tanh", name="hidden2")(x)
    outputs = keras.layers.Dense(3, name="out", dtype="float32")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
'''

LOOP_MODEL = '''
import keras


def build():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
'''

ORDERED_MODEL = '''
import keras


class Net(keras.Model):
    def __init__(self):
        super().__init__(name="net")
{assignments}

    def call(self, x):
        return self.head(self.first(x))


def build():
    model = Net()
    model(keras.ops.zeros((1, 4)))
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model
'''
FIRST = '        self.first = keras.layers.Dense(8, activation="relu", name="first")\n'
HEAD = '        self.head = keras.layers.Dense(3, name="head")\n'

AFFINE_MODEL = '''
import keras


@keras.saving.register_keras_serializable(package="model")
class Affine(keras.layers.Layer):
    def build(self, input_shape):
{weights}

    def call(self, x):
        return x * self.scale + self.shift


def build():
    inputs = keras.Input((4,))
    x = Affine(name="affine")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(x))
    model.compile(optimizer="adam", loss="mse")
    return model
'''
SCALE = ('        self.scale = self.add_weight(shape=(4,), initializer="ones", '
         'name="scale")\n')
SHIFT = ('        self.shift = self.add_weight(shape=(4,), initializer="zeros", '
         'name="shift")\n')


def affine_model(scale_first: bool = True) -> str:
    return AFFINE_MODEL.format(weights=(SCALE + SHIFT if scale_first else SHIFT + SCALE)
                               .rstrip("\n"))


@dataclass
class Release:
    """A release project: its checkpoints by kind, bundles (or why snapshot failed), the
    inputs and the release model's outputs on them."""

    project: Project
    inputs: Any
    outputs: np.ndarray
    files: dict[str, Path] = field(default_factory=dict)
    bundles: dict[str, Path] = field(default_factory=dict)
    snapshot_errors: dict[str, str] = field(default_factory=dict)
    compute_dtypes: dict[str, str] = field(default_factory=dict)

    def bundle(self, kind: str) -> Path:
        assert kind in self.bundles, f"restore-gate snapshot failed: {self.snapshot_errors[kind]}"
        return self.bundles[kind]


def eval_inputs(project: Project) -> Any:
    """The evaluation data's inputs, batched together as a user passes them to the model."""
    import tensorflow as tf

    from restore_gate.branch.build import resolve_callable

    data = resolve_callable("data:eval_data", project.root, [])()
    if isinstance(data, tuple):
        return data[0]
    batches = [x for x, _ in data]
    if isinstance(batches[0], dict):
        return {k: tf.concat([b[k] for b in batches], 0) for k in batches[0]}
    return tf.concat(batches, 0)


def make_release(root: Path, model_source: str, data_source: str, kinds: list[str],
                 prepare=None, config: str = CONFIG, save=save_release) -> Release:
    """Build the release model (seeded), let `prepare(model)` set its values, save it in
    every kind (save_release kinds, or `save(model, folder, kind)`) and snapshot each
    into a bundle with golden outputs."""
    import keras

    project = Project(root)
    project.write("data.py", data_source)
    project.write("model.py", model_source)
    project.config(config)
    keras.utils.set_random_seed(0)
    model = project.build()
    if prepare is not None:
        prepare(model)
    inputs = eval_inputs(project)
    release = Release(project, inputs, np.asarray(model(inputs, training=False)))
    release.compute_dtypes = {layer.name: layer.compute_dtype for layer in model.layers}
    for kind in kinds:
        release.files[kind] = save(model, root / "release" / kind, kind)
    for kind in kinds:
        try:
            release.bundles[kind] = snapshot_bundle(project, release.files[kind], kind)
        except Exception as exc:  # recorded: the tests needing the bundle fail with it
            release.snapshot_errors[kind] = f"{type(exc).__name__}: {exc}"
    return release


def snapshot_bundle(project: Project, checkpoint: Path, name: str) -> Path:
    from restore_gate.commands.snapshot import snapshot
    from restore_gate.runtime import describe_device
    from restore_gate.settings.config import load_config

    bundle = project.root / "release" / f"{name}.tar.gz"
    snapshot(checkpoint, bundle, describe_device("cpu"), project.root,
             load_config(project.root / ".restore-gate.yml"))
    return bundle


def branch(release: Release, source: str, config: str = CONFIG) -> Project:
    release.project.write("model.py", source)
    release.project.config(config)
    return release.project


@dataclass
class Truth:
    verdict: str
    why: str
    model: Any = None


def plain_tf(project: Project, kind: str, path: Path, inputs: Any, expected: np.ndarray,
             restore=None) -> Truth:
    """What a user sees: build the branch model, restore the release with plain TF/Keras
    (`restore(model, path)` for a custom loop), run it on the inputs, compare outputs."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(12345)  # another initialisation than the release's
    model = project.build()
    try:
        if restore is not None:
            restore(model, path)
        elif kind in ("tf", "tf-opt"):
            children = {"model": model}
            if kind == "tf-opt":
                model.optimizer.build(model.trainable_variables)
                children["optimizer"] = model.optimizer
            tf.train.Checkpoint(**children).restore(str(path)).expect_partial()
        else:
            model.load_weights(str(path))
    except Exception as exc:
        return Truth("fail", f"plain TF refuses: {type(exc).__name__}: {exc}"[:300], model)
    out = np.asarray(model(inputs, training=False))
    if out.shape != expected.shape:
        return Truth("fail", f"output shape {out.shape} != {expected.shape}", model)
    error = float(np.max(np.abs(out.astype("float64") - expected)))
    ok = np.allclose(out, expected, atol=ATOL, rtol=RTOL)
    return Truth("pass" if ok else "fail", f"max abs error {error:.3g}", model)


def headline(report) -> str:
    from restore_gate.present.diagnose import headline_sentences

    return headline_sentences(report.to_dict())


def explained(report) -> str:
    """Everything the comment says in words: the diagnosis, notices, hints, errors."""
    from restore_gate.present.diagnose import diagnose

    parts = [f.text for f in diagnose(report.to_dict())] + list(report.notices)
    parts += [m.hint or "" for m in report.mismatches]
    parts += [str(e) for e in report.errors] + [str(report.optimizer)]
    return "\n".join(parts)
