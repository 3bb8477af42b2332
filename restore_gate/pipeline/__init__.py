"""The check: the stages in order, each under its time limit, fail closed."""
