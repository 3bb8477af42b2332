"""The example project's model: a small Keras classifier."""

import keras


def build_model(num_classes: int = 3, hidden_units: int = 16) -> keras.Model:
    inputs = keras.Input((4,), name="features")
    x = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="classifier")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
