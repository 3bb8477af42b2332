"""`models:/name@alias`, `models:/name/version` and `models:/name` (its newest version) in an
MLflow Model Registry at MLFLOW_TRACKING_URI, through the MLflow client (mlflow-skinny):
MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD.

The model directory MLflow writes is understood: the Keras / TensorFlow flavor's saved model
(`data/model.keras`, or `data/model.h5`) is the checkpoint, and the versions MLflow recorded
(MLmodel, requirements.txt) go into a bundle manifest for the version-skew diagnosis. The
release's identity is the model version (and its source, run and creation time): a moved alias
or a new version is a new release."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

import yaml

from restore_gate.errors import GateError
from restore_gate.release.bundle import write_bundle
from restore_gate.release.download import Fetched
from restore_gate.release.stores import common

CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
           "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}  # MLflow's defaults retry for minutes
ATTACHED = "restore-gate"  # the folder of the model's artifacts a snapshot bundle is attached in
_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))?/?")
_PIN = re.compile(r"^(keras|tensorflow|tensorflow-cpu|tf-keras)==([\w.+-]+)\s*$", re.MULTILINE)


def fetch(uri: str, settings: dict[str, Any]) -> Fetched:
    common.client_module("mlflow", "mlflow", uri)
    match = _URI.fullmatch(uri)
    if not match:
        raise GateError("fetch", f"{uri!r} is not a registered model URI",
                        "write models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME",
                        code="store-bad-uri")
    tracking = os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking:
        raise GateError("fetch", f"reading {uri} needs MLFLOW_TRACKING_URI, which is not set",
                        "set MLFLOW_TRACKING_URI (and MLFLOW_TRACKING_TOKEN or username/password"
                        " as secrets) in the job", code="store-credentials")
    for key, value in RETRIES.items():
        os.environ.setdefault(key, value)
    from mlflow import MlflowClient

    client = MlflowClient(tracking)
    with _errors(uri, tracking):
        version = _resolve(client, match)
        return _download(client, version, tracking, uri)


def _resolve(client: Any, match: re.Match) -> Any:
    name, alias, number = match["name"], match["alias"], match["version"]
    if alias:
        return client.get_model_version_by_alias(name, alias)
    if number:
        return client.get_model_version(name, number)
    versions = client.search_model_versions(f"name='{name}'")
    if not versions:
        raise GateError("fetch", f"registered model {name!r} has no version",
                        "register a version (a model without one cannot be checked, so this is "
                        "not a pass)", code="store-not-found")
    return max(versions, key=lambda v: int(v.version))


def _download(client: Any, version: Any, tracking: str, uri: str) -> Fetched:
    import mlflow.artifacts

    identity = {"tracking": tracking, "name": version.name, "version": version.version,
                "source": version.source, "run": version.run_id,
                "created": version.creation_timestamp}
    target = common.cache_target("mlflow", identity, "model.tar.gz")
    description = f"{uri} (version {version.version} of {version.name})"
    if common.cached(target, None):
        return Fetched(target, description)
    with common.partial_file("model") as part:
        common.say(f"downloading {description} from {tracking}")
        location = client.get_model_version_download_uri(version.name, version.version)
        folder = Path(mlflow.artifacts.download_artifacts(
            artifact_uri=location, tracking_uri=tracking, dst_path=str(part)))
        attached = sorted((folder / ATTACHED).glob("*.tar.gz"))
        if attached:  # `snapshot --upload models:/...`: the bundle the pipeline released
            common.land(attached[0], target, None, description)
            return Fetched(target, description)
        checkpoint, versions = _model_dir(folder, uri)
        bundle = part / "model.tar.gz"
        manifest = {"format": "keras", "checkpoint": f"checkpoint/{checkpoint.name}",
                    "versions": versions, "source": description, "golden": None}
        write_bundle(bundle, [checkpoint], checkpoint.parent, manifest)
        common.land(bundle, target, None, description)
    return Fetched(target, description)


def _model_dir(folder: Path, uri: str) -> tuple[Path, dict[str, str]]:
    """The flavor's checkpoint file and the versions MLflow recorded."""
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        raise GateError("fetch", f"{uri}: the model version's artifacts hold no MLmodel file",
                        "log the model with mlflow.keras.log_model or mlflow.tensorflow.log_model")
    meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    flavors = meta.get("flavors") or {}
    flavor = flavors.get("keras") or flavors.get("tensorflow") or {}
    data = folder / str(flavor.get("data") or "data")
    found = [p for p in (data / "model.keras", data / "model.h5") if p.is_file()]
    if not flavor or not found:
        raise GateError("fetch", f"{uri}: no Keras/TensorFlow flavor file (data/model.keras or "
                        f"data/model.h5) in the model (flavors: {', '.join(flavors) or 'none'})",
                        "log the model with mlflow.keras.log_model (save_exported_model=False) "
                        "or mlflow.tensorflow.log_model", code="store-no-match")
    versions = {"mlflow": str(meta.get("mlflow_version") or "")}
    if "keras" in flavors and flavors["keras"].get("keras_version"):
        versions["keras"] = str(flavors["keras"]["keras_version"])
    requirements = folder / "requirements.txt"
    if requirements.is_file():
        for package, pinned in _PIN.findall(requirements.read_text(encoding="utf-8")[:65536]):
            key = "tensorflow" if package.startswith("tensorflow") else package
            versions.setdefault(key, pinned)
    return found[0], {k: v for k, v in versions.items() if v}


def upload(bundle: Path, uri: str, settings: dict[str, Any]) -> str:
    """Attach the bundle to a registered model version (`models:/NAME/VERSION`, or the newest
    version for `models:/NAME@ALIAS`, whose alias then moves to it): what `check` reads from
    that version is then exactly the released bundle."""
    common.client_module("mlflow", "mlflow", uri)
    match = _URI.fullmatch(uri)
    tracking = os.environ.get("MLFLOW_TRACKING_URI")
    if not match or not tracking:
        raise GateError("publish", f"cannot upload to {uri!r}" + ("" if tracking else
                        " without MLFLOW_TRACKING_URI"), "write models:/NAME/VERSION or "
                        "models:/NAME@ALIAS and set MLFLOW_TRACKING_URI", code="store-bad-uri")
    for key, value in RETRIES.items():
        os.environ.setdefault(key, value)
    from mlflow import MlflowClient

    client = MlflowClient(tracking)
    with _errors(uri, tracking):
        alias = match["alias"]
        version = _resolve(client, match.re.fullmatch(f"models:/{match['name']}") if alias
                           else match)
        model_id = getattr(version, "model_id", None) or version.source.removeprefix("models:/")
        client.log_model_artifact(model_id, str(bundle), artifact_path=ATTACHED)
        if alias:
            client.set_registered_model_alias(version.name, alias, version.version)
    moved = f", alias {alias} -> version {version.version}" if alias else ""
    return f"{uri}: attached to version {version.version} of {version.name}{moved}"


def _errors(uri: str, tracking: str) -> contextlib.AbstractContextManager[None]:
    """MLflow's exceptions as exit-2 errors naming the model and the credential tried."""
    return common.translated(lambda exc: _error(uri, tracking, exc))


def _error(uri: str, tracking: str, exc: Exception) -> GateError | None:
    from mlflow.exceptions import MlflowException

    text = common.message(exc)
    where = f"{uri} at {tracking}"
    code = getattr(exc, "error_code", "")
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or re.search(r"\b40[13]\b", text):
        return GateError("fetch", f"{where}: access denied with the MLflow credentials "
                         f"({common.credential_names(CREDENTIALS)}): {text}",
                         "set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and "
                         "MLFLOW_TRACKING_PASSWORD, from the job's secrets",
                         code="store-credentials")
    if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
        return GateError("fetch", f"{where}: {text}", "fix the name, version or alias (set "
                         "the alias on the released version; a missing release cannot be "
                         "checked, so this is not a pass)", code="store-not-found")
    if isinstance(exc, MlflowException | OSError) or type(exc).__module__.startswith(
            ("mlflow", "requests", "urllib3")):
        return GateError("fetch", f"cannot read {where}: {type(exc).__name__}: {text}",
                         "check MLFLOW_TRACKING_URI and the network, and re-run the job",
                         code="store-failed")
    return None

