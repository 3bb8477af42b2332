"""Every private TensorFlow/Keras name restore-gate uses, each pinned by a test."""
