"""Write the Keras 2 release files under tests/data/keras2 with TF 2.15.1 / Keras 2.15.

Run once, by hand, in a TF 2.15 environment (not a test dependency):
    python -m venv /work/venv215 && /work/venv215/bin/pip install tensorflow-cpu==2.15.1
    cd tests/data/keras2 && /work/venv215/bin/python make_keras2_files.py

Each model of model_source.py is trained for a few steps on fixed seeds and saved the ways
a TF <= 2.15 project released it; the eval set and the outputs of the saved model on it are
recorded beside them (eval.npz), so a test under Keras 3 can restore, evaluate and compare.
"""

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import keras  # noqa: E402
import model_source  # noqa: E402


def data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    shape = (model_source.CLASSES, model_source.FEATURES)
    centers = np.random.default_rng(0).normal(scale=2.0, size=shape)
    y = rng.integers(0, model_source.CLASSES, size=n)
    x = centers[y] + rng.normal(scale=0.8, size=(n, model_source.FEATURES))
    return x.astype("float32"), y.astype("int64")


def trained(builder):
    keras.utils.set_random_seed(0)
    model = builder()
    x, y = data(256, 1)
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model


def save_all(model, stem: str) -> dict:
    out = HERE / stem
    out.mkdir(exist_ok=True)
    model.save_weights(str(out / "model.weights.h5"))
    model.save(str(out / "model.keras"))
    model.save_weights(str(out / "weights.h5"))  # legacy HDF5 weights
    if stem == "functional":
        model.save(str(out / "model.h5"))  # legacy HDF5 whole model
    tf.train.Checkpoint(model=model).write(str(out / "ckpt" / "ckpt"))
    tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
        str(out / "ckpt_opt" / "ckpt"))
    x, y = data(64, 2)
    np.savez(out / "eval.npz", x=x, y=y, outputs=model(x, training=False).numpy())
    return {"stem": stem, "weights": len(model.weights)}


def main() -> None:
    written = [save_all(trained(model_source.build_functional), "functional"),
               save_all(trained(model_source.build_subclassed), "subclassed")]
    (HERE / "written_by.json").write_text(json.dumps({
        "tensorflow": tf.__version__, "keras": keras.__version__,
        "numpy": np.__version__, "files": written}, indent=2) + "\n")
    print("written by tensorflow", tf.__version__, "keras", keras.__version__)


if __name__ == "__main__":
    main()
