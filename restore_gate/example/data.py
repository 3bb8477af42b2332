"""Deterministic data for the example: three Gaussian blobs in four dimensions."""

import numpy as np


def make_blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0, 0.0, 1.0], [-2.0, 1.0, 0.0, -1.0], [0.0, -2.0, 1.5, 0.0]])
    y = rng.integers(0, len(centers), size=n)
    x = centers[y] + rng.normal(scale=0.9, size=(n, 4))
    return x.astype("float32"), y.astype("int64")


def train_data() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(600, seed=1)


def eval_data() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(300, seed=2)
