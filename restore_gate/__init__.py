"""restore-gate: restore the released checkpoint into the pull request's model, in CI."""

__version__ = "0.1.0"
