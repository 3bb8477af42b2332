"""The store fixtures work: each real server answers its own client the way the gate will use it
(issue 18). These pin what the release sources rely on: identities (ETag / VersionId, generation
/ md5, model version / alias, commit sha), streaming downloads, and the exceptions each client
raises for the failure modes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hub_stub import TOKEN
from stores_support import (  # noqa: F401  (the *_server fixtures)
    gcs_server_fixture,
    hub_server_fixture,
    keras_hf_layout,
    log_keras_release,
    mlflow_server_fixture,
    s3_server_fixture,
    unique_name,
)

pytestmark = pytest.mark.timeout(180)


def tiny_model(units: int = 8):
    import keras

    keras.backend.clear_session()
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(units, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, name="out")(hidden))


def same_weights(left, right) -> bool:
    a, b = left.get_weights(), right.get_weights()
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------- S3


def test_s3_boto3_reaches_custom_endpoint_from_environment(s3_server, monkeypatch, tmp_path):
    import boto3

    bucket = s3_server.bucket(versioned=True)
    first = s3_server.put(bucket, "releases/v1/model.keras", b"one" * 1000)
    s3_server.put(bucket, "releases/v2/model.keras", b"two" * 1000)
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")  # endpoint and credentials from the environment only
    assert client.meta.endpoint_url == s3_server.endpoint

    listed = client.list_objects_v2(Bucket=bucket, Prefix="releases/")
    assert [o["Key"] for o in listed["Contents"]] == ["releases/v1/model.keras",
                                                       "releases/v2/model.keras"]
    head = client.head_object(Bucket=bucket, Key="releases/v1/model.keras")
    assert head["ETag"].strip('"') == hashlib.md5(b"one" * 1000).hexdigest()
    assert head["VersionId"] == first["VersionId"]

    s3_server.put(bucket, "releases/v1/model.keras", b"overwritten")  # a new release
    new_head = client.head_object(Bucket=bucket, Key="releases/v1/model.keras")
    assert (new_head["ETag"], new_head["VersionId"]) != (head["ETag"], head["VersionId"])

    target = tmp_path / "old.keras"  # the listed version stays reachable by its id
    client.download_file(bucket, "releases/v1/model.keras", str(target),
                         ExtraArgs={"VersionId": first["VersionId"]})
    assert target.read_bytes() == b"one" * 1000


def test_s3_multipart_download_streams_to_disk(s3_server, tmp_path):
    from boto3.s3.transfer import TransferConfig

    bucket = s3_server.bucket()
    data = os.urandom(12 * 1024 * 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    s3_server.upload_file(bucket, "big.bin", source)  # multipart: ETag is "<md5-of-md5s>-<n>"
    etag = s3_server.client().head_object(Bucket=bucket, Key="big.bin")["ETag"]
    assert etag.strip('"').endswith("-2")
    target = tmp_path / "down.bin"
    config = TransferConfig(multipart_chunksize=4 * 1024 * 1024, max_concurrency=2)
    s3_server.client().download_file(bucket, "big.bin", str(target), Config=config)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_s3_failure_modes_raise_these_classes(s3_server, tmp_path):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    client = s3_server.client()
    bucket = s3_server.bucket()
    with pytest.raises(ClientError) as missing:
        client.head_object(Bucket=bucket, Key="nope")
    assert missing.value.response["Error"]["Code"] == "404"  # HEAD has no body: no NoSuchKey
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=bucket, Key="nope")
    with pytest.raises(client.exceptions.NoSuchBucket):
        client.list_objects_v2(Bucket=unique_name("absent"))

    listed = s3_server.put(bucket, "k", b"one")  # listed, then overwritten before the GET:
    s3_server.put(bucket, "k", b"two")          # pinning the listed ETag refuses the new bytes
    with pytest.raises(ClientError) as stale:
        client.get_object(Bucket=bucket, Key="k", IfMatch=listed["ETag"])
    assert stale.value.response["Error"]["Code"] == "PreconditionFailed"
    versioned = s3_server.bucket(versioned=True)
    kept = s3_server.put(versioned, "k", b"one")
    client.delete_object(Bucket=versioned, Key="k")  # deleted between listing and download
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=versioned, Key="k")
    assert client.get_object(Bucket=versioned, Key="k",
                             VersionId=kept["VersionId"])["Body"].read() == b"one"

    unreachable = boto3.client("s3", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="x",
                               config=Config(retries={"max_attempts": 1}, connect_timeout=2))
    with pytest.raises(EndpointConnectionError):
        unreachable.list_objects_v2(Bucket=bucket)

    anonymous_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    script = ("import boto3, botocore.exceptions as e\n"
              f"c = boto3.client('s3', endpoint_url={s3_server.endpoint!r}, "
              "region_name='us-east-1')\n"
              f"try: c.list_objects_v2(Bucket={bucket!r})\n"
              "except e.NoCredentialsError as x: print(type(x).__name__)\n")
    anonymous_env.update(AWS_CONFIG_FILE=str(tmp_path / "none"),
                         AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
                         AWS_EC2_METADATA_DISABLED="true")
    out = subprocess.run([sys.executable, "-c", script], env=anonymous_env, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == NoCredentialsError.__name__, out.stderr


# ---------------------------------------------------------------------- GCS


def test_gcs_client_reaches_emulator_from_environment(gcs_server, monkeypatch, tmp_path):
    from google.cloud import storage

    bucket = gcs_server.bucket()
    gcs_server.put(bucket, "releases/model-1.2.0.keras", b"a" * 100)
    gcs_server.put(bucket, "releases/model-1.10.0.keras", b"b" * 100)
    gcs_server.put(bucket, "other/readme.txt", b"c")
    for key, value in gcs_server.env().items():
        monkeypatch.setenv(key, value)
    client = storage.Client()  # emulator host and anonymous credentials from the environment

    names = [b.name for b in client.list_blobs(bucket, match_glob="releases/*.keras")]
    assert names == ["releases/model-1.10.0.keras", "releases/model-1.2.0.keras"]
    blob = client.bucket(bucket).get_blob("releases/model-1.2.0.keras")
    assert base64.b64decode(blob.md5_hash) == hashlib.md5(b"a" * 100).digest()
    assert blob.generation and blob.crc32c and blob.size == 100 and blob.updated

    old_generation = blob.generation
    gcs_server.put(bucket, "releases/model-1.2.0.keras", b"new release")
    newer = client.bucket(bucket).get_blob("releases/model-1.2.0.keras")
    assert newer.generation != old_generation and newer.md5_hash != blob.md5_hash

    target = tmp_path / "model.keras"
    newer.download_to_filename(str(target))  # checksum-validated by the client
    assert target.read_bytes() == b"new release"


def test_gcs_failure_modes_raise_these_classes(gcs_server, tmp_path):
    from google.api_core import exceptions

    client = gcs_server.client()
    bucket = gcs_server.bucket()
    assert client.bucket(bucket).get_blob("nope") is None  # get_blob answers None, not raises
    with pytest.raises(exceptions.NotFound):
        client.bucket(bucket).blob("nope").download_to_filename(str(tmp_path / "x"))
    blob = gcs_server.put(bucket, "gone.keras", b"x")
    blob.delete()  # deleted between listing and download
    with pytest.raises(exceptions.NotFound):
        blob.download_to_filename(str(tmp_path / "y"))
    with pytest.raises(exceptions.NotFound):
        list(client.list_blobs(unique_name("absent")))


# ---------------------------------------------------------------------- MLflow


def test_mlflow_keras_flavor_release_by_alias(mlflow_server, tmp_path):
    import keras
    import mlflow
    import yaml
    from mlflow import MlflowClient

    model = tiny_model()
    name = unique_name("clf")
    release = log_keras_release(mlflow_server, name, model, alias="champion")
    client = MlflowClient(mlflow_server.url)
    assert client.get_model_version_by_alias(name, "champion").version == release.version
    download_uri = client.get_model_version_download_uri(name, release.version)
    assert download_uri.startswith("mlflow-artifacts:/")  # served over HTTP by the server

    local = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{name}@champion", dst_path=str(tmp_path / "dl"),
        tracking_uri=mlflow_server.url))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    flavor = mlmodel["flavors"]["keras"]
    assert flavor["keras_version"] == keras.__version__ and flavor["data"] == "data"
    assert flavor["save_exported_model"] is False
    restored = keras.saving.load_model(local / "data" / "model.keras")
    assert same_weights(restored, model)  # ground truth: the weights that were logged


def test_mlflow_tensorflow_flavor_with_input_example(mlflow_server, tmp_path):
    import keras
    import mlflow
    import yaml
    from mlflow import MlflowClient

    model = tiny_model()
    name = unique_name("clf")
    example = np.arange(8, dtype="float32").reshape(2, 4)
    first = log_keras_release(mlflow_server, name, model, flavor="tensorflow",
                              input_example=example, alias=None)
    second = log_keras_release(mlflow_server, name, tiny_model(16), flavor="tensorflow",
                               alias="champion")
    client = MlflowClient(mlflow_server.url)
    versions = client.search_model_versions(f"name='{name}'")
    assert max(int(v.version) for v in versions) == int(second.version) == int(first.version) + 1

    local = Path(mlflow.artifacts.download_artifacts(
        artifact_uri=first.model_uri, dst_path=str(tmp_path / "dl"),
        tracking_uri=mlflow_server.url))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    assert mlmodel["flavors"]["tensorflow"]["model_type"] == "keras"
    assert mlmodel["saved_input_example_info"]["artifact_path"] == "input_example.json"
    logged = np.asarray(json.loads((local / "input_example.json").read_text()), "float32")
    assert np.array_equal(logged, example)
    assert (local / "data" / "keras_module.txt").read_text() == "tensorflow.keras"
    restored = keras.saving.load_model(local / "data" / "model.keras")
    assert same_weights(restored, model)


def test_mlflow_failure_modes_raise_these_classes(mlflow_server, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException, RestException

    name = unique_name("clf")
    log_keras_release(mlflow_server, name, tiny_model(), alias=None)
    client = MlflowClient(mlflow_server.url)
    with pytest.raises(RestException) as no_alias:
        client.get_model_version_by_alias(name, "champion")
    assert no_alias.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(RestException) as no_model:
        client.get_registered_model(unique_name("absent"))
    assert no_model.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(MlflowException) as unreachable:
        MlflowClient("http://127.0.0.1:9").get_registered_model(name)
    assert "API request to" in str(unreachable.value)


# ---------------------------------------------------------------------- Hugging Face Hub


def test_hub_downloads_small_and_lfs_files_at_a_revision(hub_server, tmp_path):
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url

    repo = f"acme/{unique_name('clf')}"
    big = os.urandom(64 * 1024)  # over the stub's LFS threshold: redirected to the "CDN"
    v1 = hub_server.commit(repo, {"config.json": b"{}", "model.weights.h5": big})
    hub_server.tag(repo, "v1", v1)
    v2 = hub_server.commit(repo, {"config.json": b"{\"v\": 2}", "model.weights.h5": big[::-1]})
    endpoint = hub_server.endpoint

    assert HfApi(endpoint=endpoint).model_info(repo).sha == v2
    assert HfApi(endpoint=endpoint).model_info(repo, revision="v1").sha == v1
    meta = get_hf_file_metadata(hf_hub_url(repo, "model.weights.h5", revision="v1",
                                           endpoint=endpoint))
    assert meta.commit_hash == v1 and meta.etag == hashlib.sha256(big).hexdigest()
    assert meta.size == len(big) and meta.location.startswith(hub_server.cdn_url)

    path = hf_hub_download(repo, "model.weights.h5", revision="v1", endpoint=endpoint,
                           cache_dir=tmp_path / "cache")
    assert Path(path).read_bytes() == big and v1 in path
    assert any(r[1].startswith("cdn:/lfs/") for r in hub_server.requests)
    config = hf_hub_download(repo, "config.json", endpoint=endpoint, cache_dir=tmp_path / "cache")
    assert Path(config).read_bytes() == b"{\"v\": 2}" and v2 in config


def test_hub_failure_modes_raise_these_classes(hub_server, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo = f"acme/{unique_name('clf')}"
    hub_server.commit(repo, {"config.json": b"{}"})
    kw = {"endpoint": hub_server.endpoint, "cache_dir": tmp_path / "cache", "etag_timeout": 5}
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo, "absent.h5", **kw)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo, "config.json", revision="v9", **kw)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(f"acme/{unique_name('absent')}", "config.json", **kw)
    hub_server.set_private(repo)
    with pytest.raises(RepositoryNotFoundError):  # the Hub answers 401 RepoNotFound, no token
        hf_hub_download(repo, "config.json", **kw)
    with pytest.raises(HfHubHTTPError) as wrong:
        HfApi(endpoint=hub_server.endpoint, token="hf_wrong").model_info(repo)
    assert wrong.value.response.status_code == 401
    assert not isinstance(wrong.value, RepositoryNotFoundError)
    assert HfApi(endpoint=hub_server.endpoint, token=TOKEN).model_info(repo).sha


def test_keras_loads_its_hf_layout_through_hf_endpoint(hub_server, tmp_path):
    """Keras 3's own `hf://` loading (snapshot_download: revision API, paginated tree, resolve)
    in a fresh process configured only by the environment, as the gate's child runs."""
    model = tiny_model()
    repo = f"acme/{unique_name('clf')}"
    files = keras_hf_layout(model)
    assert {"config.json", "metadata.json", "model.weights.h5", "README.md"} <= set(files)
    hub_server.commit(repo, files)
    model.save_weights(tmp_path / "expected.weights.h5")
    script = textwrap.dedent(f"""
        import keras, numpy as np
        restored = keras.saving.load_model("hf://{repo}")
        expected = keras.models.clone_model(restored)
        expected.load_weights({str(tmp_path / "expected.weights.h5")!r})
        same = all(np.array_equal(a, b) for a, b in
                   zip(restored.get_weights(), expected.get_weights(), strict=True))
        print("same" if same else "different")
    """)
    env = {**os.environ, **hub_server.env(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip().endswith("same"), out.stderr[-3000:]
    revision_calls = [path for _, path, _ in hub_server.requests if f"/{repo}/revision/" in path]
    assert revision_calls, "keras resolved the revision through the model-info API"
