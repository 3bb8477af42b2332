"""Object-path identities (restore_gate/branch/identity.py) on real Keras 3 models."""

from __future__ import annotations


def test_identities_do_not_depend_on_construction_order():
    import keras

    from restore_gate.branch.identity import object_paths

    class Net(keras.Model):
        def __init__(self, swap: bool):
            super().__init__()
            first, second = keras.layers.Dense(4), keras.layers.Dense(2)
            if swap:
                self.head, self.hidden = second, first
            else:
                self.hidden, self.head = first, second
            self.blocks = [keras.layers.Dense(4)]
            self._private = keras.layers.Dense(4)

        def call(self, x):
            return self.head(self._private(self.blocks[0](self.hidden(x))))

    identities = []
    for swap in (False, True):
        keras.backend.clear_session()
        model = Net(swap)
        model(keras.ops.zeros((1, 3)))
        paths = object_paths(model)
        identities.append(sorted(paths[id(v)] for v in model.weights))
    assert identities[0] == identities[1] == sorted(
        f"{layer}/{weight}" for layer in ("hidden", "head", "blocks/0", "_private")
        for weight in ("kernel", "bias"))


def test_functional_identities_are_layer_names():
    import keras

    from restore_gate.branch.identity import object_paths

    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, name="hidden")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    paths = object_paths(model)
    assert sorted(paths[id(v)] for v in model.weights) == sorted(
        ["hidden/kernel", "hidden/bias", "bn/gamma", "bn/beta", "bn/moving_mean",
         "bn/moving_variance", "out/kernel", "out/bias"])


def test_every_format_has_one_adapter():
    from restore_gate import formats

    assert set(formats.ADAPTERS) == set(formats.FORMATS)
    for adapter in formats.ADAPTERS.values():
        assert callable(adapter.read) and callable(adapter.pair) and callable(adapter.restore)


def test_every_adapter_takes_the_same_arguments():
    """One signature for every format: the dispatcher passes the same arguments to each."""
    import inspect

    from restore_gate import formats

    expected = {"read": ["path"], "pair": ["info", "built", "roots"],
                "restore": ["info", "built", "roots", "model", "optimizer"]}
    for fmt, adapter in formats.ADAPTERS.items():
        for name, params in expected.items():
            function = getattr(adapter, name)
            assert function.__name__ == name, (fmt, name, function)  # no lambda, no alias
            got = list(inspect.signature(function).parameters)
            assert len(got) == len(params), (fmt, name, got)
