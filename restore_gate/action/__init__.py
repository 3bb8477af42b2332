"""The container action: GitHub's inputs, the unprivileged sandbox, outputs."""
