"""Stage `evaluate`: outputs, metrics, the baseline and the divergence trace."""
