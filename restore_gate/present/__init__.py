"""Markdown for the comment and the job summary. No TF, no I/O."""
