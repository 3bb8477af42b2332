"""What each store client does when the real server throttles or cuts a download short
(tests/fault_proxy.py in front of the session's servers): the retries the gate can rely on and
the exception classes it must turn into exit 2 (issue 18, failure modes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fault_proxy import GCS_RATE_LIMIT, S3_SLOW_DOWN, FaultProxy
from stores_support import (  # noqa: F401  (the *_server fixtures)
    gcs_server_fixture,
    hub_server_fixture,
    s3_server_fixture,
    unique_name,
)

pytestmark = pytest.mark.timeout(120)


def s3_client(endpoint: str, attempts: int):
    import boto3
    from botocore.config import Config

    # `total_max_attempts` counts the first request; `max_attempts` would count only retries
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=config)


def statuses(proxy: FaultProxy, method: str, fragment: str) -> list[int]:
    return [status for m, path, status in proxy.hits if m == method and fragment in path]


def test_s3_slow_down_is_retried_then_surfaces(s3_server):
    from botocore.exceptions import ClientError

    bucket = s3_server.bucket()
    s3_server.put(bucket, "m.keras", b"release")
    with FaultProxy(s3_server.endpoint) as proxy:
        proxy.fail("GET", r"/m\.keras", 503, S3_SLOW_DOWN, times=2)
        body = s3_client(proxy.url, attempts=3).get_object(Bucket=bucket, Key="m.keras")["Body"]
        assert body.read() == b"release"
        assert statuses(proxy, "GET", "m.keras") == [503, 503, 200]

        proxy.fail("GET", r"/m\.keras", 503, S3_SLOW_DOWN, times=5)
        with pytest.raises(ClientError) as throttled:
            s3_client(proxy.url, attempts=2).get_object(Bucket=bucket, Key="m.keras")
        assert throttled.value.response["Error"]["Code"] == "SlowDown"
        assert statuses(proxy, "GET", "m.keras")[3:] == [503, 503]  # bounded: 2 attempts


def test_s3_download_cut_short_is_retried_whole(s3_server, tmp_path):
    bucket = s3_server.bucket()
    data = os.urandom(256 * 1024)
    s3_server.put(bucket, "m.keras", data)
    with FaultProxy(s3_server.endpoint) as proxy:
        proxy.truncate("GET", r"/m\.keras", after=1000, times=1)
        target = tmp_path / "m.keras"
        s3_client(proxy.url, attempts=3).download_file(bucket, "m.keras", str(target))
        assert target.read_bytes() == data  # s3transfer retried the short body
        assert statuses(proxy, "GET", "m.keras") == [200, 200]


def test_gcs_rate_limit_is_retried_and_short_body_downloaded_again(gcs_server, tmp_path):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket = gcs_server.bucket()
    data = os.urandom(64 * 1024)
    gcs_server.put(bucket, "m.keras", data)
    with FaultProxy(gcs_server.host) as proxy:
        client = storage.Client(project="test-project", credentials=AnonymousCredentials(),
                                client_options={"api_endpoint": proxy.url})
        proxy.fail("GET", r"/o/m\.keras\?", 429, GCS_RATE_LIMIT, times=1)
        assert client.bucket(bucket).get_blob("m.keras").size == len(data)  # retried
        assert statuses(proxy, "GET", "/o/m.keras?projection")[:2] == [429, 200]

        # a blob built without metadata downloads from the client's endpoint; one fetched with
        # get_blob() follows the emulator's mediaLink (its own address), bypassing the proxy
        proxy.truncate("GET", r"m\.keras\?alt=media", after=1000, times=1)
        target = tmp_path / "m.keras"
        client.bucket(bucket).blob("m.keras").download_to_filename(str(target))
        assert target.read_bytes() == data  # the short body was detected and fetched again
        assert statuses(proxy, "GET", "alt=media") == [200, 200]


def test_hub_throttling_is_retried_on_the_metadata_request(hub_server, tmp_path):
    """hf_hub_download retries 429 / 5xx (1, 2, 4, 8, 8 s apart; measured: 5 retries, ~23 s)
    and, once they are spent, raises LocalEntryNotFoundError -- a FileNotFoundError -- rather
    than the HTTP error: the gate must not read that as "no release" (see stores-design)."""
    from huggingface_hub import hf_hub_download

    repo = f"acme/{unique_name('clf')}"
    hub_server.commit(repo, {"config.json": b"{}"})
    hub_server.fail(rf"/{repo}/resolve/", 429, times=1)
    path = hf_hub_download(repo, "config.json", endpoint=hub_server.endpoint,
                           cache_dir=tmp_path / "cache")
    assert Path(path).read_bytes() == b"{}"
    heads = [status for method, path, status in hub_server.requests
             if method == "HEAD" and f"/{repo}/resolve/" in path]
    assert heads == [429, 200]
