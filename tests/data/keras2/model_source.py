"""The release models the Keras 2 files were written from (run under TF 2.15 / Keras 2 by
make_keras2_files.py, and imported as branch code under TF 2.16+ / Keras 3 by the tests).

Only public `keras` APIs that mean the same in Keras 2.15 and Keras 3: the same source is
"the branch that moved to TF 2.16+ without changing its model".
"""

import keras

FEATURES = 6
CLASSES = 3


def build_functional():
    inputs = keras.Input((FEATURES,), name="features")
    x = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="classifier")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class Net(keras.Model):
    def __init__(self):
        super().__init__(name="net")
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.head = keras.layers.Dense(CLASSES, activation="softmax")

    def call(self, x):
        return self.head(self.hidden(x))


def build_subclassed():
    model = Net()
    model(keras.ops.zeros((1, FEATURES)) if hasattr(keras, "ops") else
          keras.backend.zeros((1, FEATURES)))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model
