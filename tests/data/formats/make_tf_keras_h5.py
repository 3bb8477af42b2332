"""Write the legacy Keras HDF5 fixtures with tf.keras 2.x (the `tf_keras` package).

Run once, by hand, where tf_keras matching the installed TensorFlow is importable:
    pip install --no-deps --target /tmp/tfk tf_keras==2.21.0
    PYTHONPATH=/tmp/tfk python tests/data/formats/make_tf_keras_h5.py
tf_keras is not a test dependency (it pins the full `tensorflow` package); the files it
wrote are committed: tfk_model.h5 (`model.save("x.h5")`), tfk_weights.h5
(`model.save_weights("x.h5")`). The model: Input(4) -> Dense(8, "hidden") ->
BatchNormalization("bn") -> Dense(3, "out"), Adam, one training step.
"""

from pathlib import Path

import numpy as np
import tf_keras as keras

HERE = Path(__file__).resolve().parent


def main() -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="x")
    x = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 3), "float32"), verbose=0)
    model.save(HERE / "tfk_model.h5")
    model.save_weights(HERE / "tfk_weights.h5")
    print("written by tf_keras", keras.__version__)


if __name__ == "__main__":
    main()
