"""Real model stores on loopback for the release-source tests (issue 18).

Each fixture is session-scoped: one server per test run, on 127.0.0.1 and a free port, started
and stopped here (its process group is ended on teardown), with bounded waits and its log kept
so a failure shows what the server said.

    def test_x(s3_server):                           # moto's standalone S3 server (a process)
        s3_server.put("bucket", "rel/v1/model.keras", data)
        env = s3_server.env()                        # AWS_ENDPOINT_URL + dummy credentials
    def test_y(gcs_server):                          # gcp-storage-emulator (a process)
        gcs_server.put("bucket", "rel/model.keras", data); gcs_server.env()  # STORAGE_EMULATOR_HOST
    def test_z(mlflow_server):                       # `mlflow server`, SQLite + served artifacts
        version = log_keras_release(mlflow_server, "clf", model, alias="champion")
        mlflow_server.env()                          # MLFLOW_TRACKING_URI
    def test_w(hub_server):                          # tests/hub_stub.py: a strict Hub stand-in
        sha = hub_server.commit("acme/clf", {"config.json": b"..."}); hub_server.env(tmp_path)

Servers are shared: use a fresh bucket / model name / repo per test (`unique_name`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hub_stub import HubStub

HOST = "127.0.0.1"
START_TIMEOUT = 90.0  # seconds; mlflow's first start (migrations) is the slow one on 2 cores
STOP_TIMEOUT = 5.0
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def unique_name(prefix: str = "t") -> str:
    """A bucket-, model- and repo-safe name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class ServerProcess:
    """A server started as its own process group, its output in a log file."""

    name: str
    argv: list[str]
    ready_url: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, **self.env}
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env,
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(self.ready_url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {START_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.killpg(process.pid, sig)  # the group we created (mlflow forks workers)
            except ProcessLookupError:
                return
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log(self, chars: int = 4000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-chars:]


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


# ---------------------------------------------------------------------- S3 (moto)


@dataclass
class S3Server:
    """moto's standalone server: an S3-compatible store at a custom endpoint."""

    endpoint: str
    server: ServerProcess

    def env(self) -> dict[str, str]:
        """What a user's CI sets for MinIO / R2: the endpoint and (here dummy) credentials."""
        return {"AWS_ENDPOINT_URL": self.endpoint, **DUMMY_AWS}

    def client(self, **kwargs: Any):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            **kwargs)

    def bucket(self, name: str | None = None, versioned: bool = False) -> str:
        name = name or unique_name("bucket")
        client = self.client()
        client.create_bucket(Bucket=name)
        if versioned:
            client.put_bucket_versioning(Bucket=name,
                                         VersioningConfiguration={"Status": "Enabled"})
        return name

    def put(self, bucket: str, key: str, data: bytes | Path) -> dict[str, Any]:
        """Upload one object; returns put_object's answer (ETag, VersionId when versioned)."""
        body = data.read_bytes() if isinstance(data, Path) else data
        return self.client().put_object(Bucket=bucket, Key=key, Body=body)

    def upload_file(self, bucket: str, key: str, path: Path) -> None:
        """Multipart upload of a large file (what `aws s3 cp` does)."""
        self.client().upload_file(str(path), bucket, key)

    def reset(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()


def start_s3(log_dir: Path) -> S3Server:
    port = free_port()
    endpoint = f"http://{HOST}:{port}"
    server = ServerProcess("moto_server", _python("-m", "moto.server", "-H", HOST, "-p", str(port)),
                           f"{endpoint}/moto-api/", log_dir / "moto.log")
    server.start()
    return S3Server(endpoint, server)


@pytest.fixture(scope="session", name="s3_server")
def s3_server_fixture(tmp_path_factory) -> Iterator[S3Server]:
    store = start_s3(tmp_path_factory.mktemp("moto"))
    try:
        yield store
    finally:
        store.server.stop()


# ---------------------------------------------------------------------- GCS (emulator)


@dataclass
class GcsServer:
    """gcp-storage-emulator, reached by google-cloud-storage through STORAGE_EMULATOR_HOST."""

    host: str  # http://127.0.0.1:PORT
    server: ServerProcess

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.host, "GOOGLE_CLOUD_PROJECT": "test-project"}

    def client(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(project="test-project", credentials=AnonymousCredentials(),
                              client_options={"api_endpoint": self.host})

    def bucket(self, name: str | None = None) -> str:
        name = name or unique_name("bucket")
        self.client().create_bucket(name)
        return name

    def put(self, bucket: str, key: str, data: bytes | Path):
        """Upload one object; returns the blob (generation, md5_hash, crc32c set)."""
        blob = self.client().bucket(bucket).blob(key)
        if isinstance(data, Path):
            blob.upload_from_filename(str(data))
        else:
            blob.upload_from_string(data)
        return blob


def start_gcs(log_dir: Path) -> GcsServer:
    port = free_port()
    host = f"http://{HOST}:{port}"
    argv = _python("-m", "gcp_storage_emulator", "-d", str(log_dir / "data"), "start",
                   "--host", HOST, "--port", str(port))
    server = ServerProcess("gcp-storage-emulator", argv, f"{host}/", log_dir / "gcs.log")
    server.start()
    return GcsServer(host, server)


@pytest.fixture(scope="session", name="gcs_server")
def gcs_server_fixture(tmp_path_factory) -> Iterator[GcsServer]:
    store = start_gcs(tmp_path_factory.mktemp("gcs"))
    try:
        yield store
    finally:
        store.server.stop()


# ---------------------------------------------------------------------- MLflow


@dataclass
class MlflowServer:
    """`mlflow server`: SQLite backend store, artifacts served by the server itself
    (clients see `mlflow-artifacts:` URIs and fetch them over HTTP, as a CI runner does)."""

    url: str
    root: Path
    server: ServerProcess

    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": self.url}


def start_mlflow(root: Path) -> MlflowServer:
    port = free_port()
    url = f"http://{HOST}:{port}"
    argv = _python("-m", "mlflow", "server", "--host", HOST, "--port", str(port),
                   "--workers", "1",
                   "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                   "--artifacts-destination", str(root / "artifacts"))
    # no job runner: it forks a dozen huey consumers (GenAI jobs) the registry does not need
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = ServerProcess("mlflow server", argv, f"{url}/health", root / "mlflow.log", env)
    server.start()
    return MlflowServer(url, root, server)


@pytest.fixture(scope="session", name="mlflow_server")
def mlflow_server_fixture(tmp_path_factory) -> Iterator[MlflowServer]:
    store = start_mlflow(tmp_path_factory.mktemp("mlflow"))
    try:
        yield store
    finally:
        store.server.stop()


@dataclass
class Release:
    """What `log_keras_release` registered."""

    name: str
    version: str
    run_id: str
    model_uri: str  # models:/<name>/<version>
    source: str  # the version's source (models:/m-<id> in MLflow 3)


def log_keras_release(server: MlflowServer, name: str, model, *, alias: str | None = "champion",
                      input_example=None, flavor: str = "keras",
                      artifact_name: str = "model") -> Release:
    """Log `model` as a training script does (`mlflow.<flavor>.log_model` inside a run),
    register it as a new version of `name` and point `alias` at it."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(server.url)
    log_model = mlflow.keras.log_model if flavor == "keras" else mlflow.tensorflow.log_model
    mlflow.set_experiment("restore-gate-tests")
    with mlflow.start_run() as run:
        info = log_model(model, name=artifact_name, input_example=input_example,
                         registered_model_name=name, pip_requirements=_requirements())
    client = MlflowClient(server.url)
    version = str(info.registered_model_version)
    if alias:
        client.set_registered_model_alias(name, alias, version)
    source = client.get_model_version(name, version).source
    return Release(name, version, run.info.run_id, f"models:/{name}/{version}", source)


def _requirements() -> list[str]:
    """Pinned as a training script would: MLflow's own inference of them loads the model in a
    child process (~25 s on 2 cores) and gives the same pins."""
    from importlib.metadata import version

    import keras

    return [f"keras=={keras.__version__}", f"tensorflow-cpu=={version('tensorflow-cpu')}"]


# ---------------------------------------------------------------------- Hugging Face Hub


@pytest.fixture(scope="session", name="hub_server")
def hub_server_fixture() -> Iterator[HubStub]:
    with HubStub() as stub:
        yield stub


def keras_hf_layout(model) -> dict[str, bytes]:
    """The files Keras 3's `model.save("hf://owner/repo")` uploads (keras saving_lib
    `_upload_model_to_hf`): the unzipped model directory (`config.json`, `metadata.json`,
    `model.weights.h5`) plus its README.md model card."""
    import keras
    from keras.src.saving import saving_lib

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        keras.saving.save_model(model, folder, zipped=False)
        files = {p.relative_to(folder).as_posix(): p.read_bytes()
                 for p in folder.rglob("*") if p.is_file()}
    files["README.md"] = saving_lib._MODEL_CARD_TEMPLATE.encode()
    return files
