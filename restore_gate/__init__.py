"""restore-gate: restore the released checkpoint into the pull request's model, in CI."""

__version__ = "1.0.0"  # the one place the version is set (pyproject reads it)
