"""TensorFlow formats: object-based and TF1 checkpoints, SavedModel."""
