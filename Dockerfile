# restore-gate as a GitHub container action.
#
# The heavy layers (Python, TensorFlow, Keras, numpy, h5py) come from the official TensorFlow
# image; the per-run build only installs this package. To skip even that, pin the prebuilt
# image instead of building: `uses: docker://ghcr.io/OWNER/restore-gate:TAG` (see README).
# tests/test_action_install.py runs these same COPY and RUN steps in a venv.
FROM tensorflow/tensorflow:2.21.0

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    RESTORE_GATE_USER=nobody

# The entrypoint runs as root and holds the token; it runs none of the branch's code. The
# check (which imports the branch's builder) and `pip install -r requirements` run as
# RESTORE_GATE_USER (uid 65534, no runner's uid, so it cannot write the workspace or the
# runner's file commands either) without the token: restore_gate/unprivileged.py.

# git: thresholds are read from the pull request's base commit (`check --base`). Installed only
# when the base image lacks it. Unpinned on purpose: Ubuntu drops superseded package versions
# from its archive, so a version pin would break every build after the next security update.
# hadolint ignore=DL3008
RUN command -v git >/dev/null || { apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*; }

COPY pyproject.toml README.md entrypoint.py /action/
COPY restore_gate /action/restore_gate
RUN python -m pip install --no-cache-dir /action && restore-gate --version

# No shell wrapper: GitHub passes inputs as INPUT_GITHUB-TOKEN, INPUT_FAIL-ON, ... and
# /bin/sh drops variables whose names hold a hyphen.
ENTRYPOINT ["python", "/action/entrypoint.py"]
