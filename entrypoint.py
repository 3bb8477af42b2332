"""The image's entry point: restore_gate/action/entrypoint.py."""

import sys

from restore_gate.action.entrypoint import *  # noqa: F403  (tests read its names here)
from restore_gate.action.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
