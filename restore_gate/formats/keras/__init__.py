"""Keras formats: `.keras` zips, legacy `.h5`, the model config."""
