"""Point `action.yml` at the prebuilt image of a release instead of the Dockerfile.

    python tools/pin_action_image.py ghcr.io/OWNER/restore-gate:vX.Y.Z@sha256:DIGEST

The release workflow runs this on the tagged commit after it pushed the image, commits the
result and moves the release tag (and the major tag `vX`) to that commit, so a workflow that
uses `OWNER/restore-gate@vX.Y.Z` pulls the image instead of building TensorFlow into one on
every pull request. `main` and forks keep `image: Dockerfile`. The image's tag must be this
package's version (`v` + `restore_gate.__version__`): tests/test_release.py runs this script.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = re.compile(r"^ghcr\.io/[a-z0-9._-]+/restore-gate:v(?P<version>[0-9][0-9a-z.+-]*)"
                   r"(@sha256:[0-9a-f]{64})?$")
LINE = "  image: Dockerfile\n"


def version() -> str:
    text = (REPO / "restore_gate" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def pin(action: str, image: str, expected_version: str) -> str:
    """action.yml's text with `runs.image` set to `docker://IMAGE`."""
    match = IMAGE.match(image)
    if not match:
        raise ValueError(f"{image!r} is not ghcr.io/OWNER/restore-gate:vVERSION[@sha256:…]")
    if match["version"] != expected_version:
        raise ValueError(f"the image is tagged v{match['version']}, the package is "
                         f"{expected_version}: release the version the code says")
    if action.count(LINE) != 1:
        raise ValueError("action.yml does not build from the Dockerfile (already pinned?)")
    return action.replace(LINE, f"  image: docker://{image}\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = REPO / "action.yml"
    try:
        text = pin(path.read_text(encoding="utf-8"), argv[0], version())
    except ValueError as error:
        print(f"pin_action_image: {error}", file=sys.stderr)
        return 2
    path.write_text(text, encoding="utf-8")
    print(f"action.yml now runs docker://{argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
