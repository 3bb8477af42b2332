# restore-gate as a GitHub container action.
#
# The base is a slim official Python image plus a pinned tensorflow-cpu, chosen over the official
# TensorFlow image (README, "The action's image"): its Python is a known, patched CPython (the
# TensorFlow image has shipped a 3.11 release candidate, whose tarfile lacks the safe extraction
# filter), and a container action never sees a GPU, so the CUDA kernels of the full `tensorflow`
# wheel would only add ~0.6 GB. To skip the per-run build, pin the prebuilt image instead:
# `uses: docker://ghcr.io/OWNER/restore-gate:TAG` (see README).
# tests/test_action_install.py runs these same COPY and RUN steps in a venv.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    RESTORE_GATE_USER=nobody

# The entrypoint runs as root and holds the token; it runs none of the branch's code. The
# check (which imports the branch's builder) and `pip install -r requirements` run as
# RESTORE_GATE_USER (uid 65534, no runner's uid, so it cannot write the workspace or the
# runner's file commands either) without the token: restore_gate/action/sandbox.py.

# git: thresholds are read from the pull request's base commit (`check --base`). Installed only
# when the base image lacks it. Unpinned on purpose: Debian drops superseded package versions
# from its archive, so a version pin would break every build after the next security update.
# hadolint ignore=DL3008
RUN command -v git >/dev/null || { apt-get update \
    && apt-get install -y --no-install-recommends git \
    && apt-get clean && rm -rf /var/lib/apt/lists/*; }

# The project's own TensorFlow: a `requirements` input naming another one replaces it.
RUN python -m pip install --no-cache-dir tensorflow-cpu==2.21.0

COPY pyproject.toml README.md entrypoint.py /action/
COPY restore_gate /action/restore_gate
# With every release store's client (docs/release-sources.md): MLflow, S3, GCS, the Hub.
RUN python -m pip install --no-cache-dir "/action[mlflow,s3,gcs,hf]" && restore-gate --version

# Smoke check: the whole gate on the bundled example (train, release, check three pull requests).
# An image whose gate cannot run does not build, so it cannot be published.
RUN restore-gate demo

# No shell wrapper: GitHub passes inputs as INPUT_GITHUB-TOKEN, INPUT_FAIL-ON, ... and
# /bin/sh drops variables whose names hold a hyphen.
ENTRYPOINT ["python", "/action/entrypoint.py"]
