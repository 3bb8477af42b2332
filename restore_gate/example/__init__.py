"""The bundled example: a small classifier on deterministic data, for `restore-gate demo`."""
