"""Value types shared by every stage: stdlib and errors only, no TF, no I/O."""
