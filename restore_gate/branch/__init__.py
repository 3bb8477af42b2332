"""Stage `build`: the pull request's model, built from its builder."""
