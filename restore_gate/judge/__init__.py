"""Pure verdict rules: mismatches, optimizer state, drift. No TF, no I/O."""
