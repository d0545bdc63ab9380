"""local/moto_seam.py's access control against the pinned moto: identities with keys of our choosing, moto's
checks switched on at runtime for those keys only, and presigned S3 URLs authorised by their signer's grants.
These lean on moto internals (its IAM backend, its settings, its authorisation hook); if an upgrade moves them,
these fail."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from local import moto_seam

BUCKET = "seam-media"
FUNCTION_KEY = "AKIALOCALSEAMFUNCTION"
SECRET = "local"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        moto_seam.disable_access_control()
        httpx.post(f"{url}/moto-api/reset", timeout=10)  # the identities live in moto's process-wide state
        server.stop()


def client(service: str, url: str, key: str, secret: str = SECRET) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )


def test_moto_checks_the_identities_keys_against_their_policies_once_switched_on(moto_url: str) -> None:
    granted = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:aws:s3:::{BUCKET}/media/*"]},
            {"Effect": "Allow", "Action": ["dynamodb:ListTables"], "Resource": "*"},
        ],
    }
    moto_seam.create_identity("SeamFunction", granted, FUNCTION_KEY, SECRET)
    s3_outsider = client("s3", moto_url, "testing")
    s3_outsider.create_bucket(Bucket=BUCKET)
    for key in ("media/a.mp4", "private/b.bin"):
        s3_outsider.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    s3 = client("s3", moto_url, FUNCTION_KEY)
    signed = {
        key: s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key})
        for key in ("media/a.mp4", "private/b.bin")
    }
    asked: list[tuple[str, str, str]] = []

    def presigned_allowed(key_id: str, method: str, resource: str) -> bool:
        asked.append((key_id, method, resource))
        return resource.startswith(f"arn:aws:s3:::{BUCKET}/media/")

    moto_seam.enable_access_control({FUNCTION_KEY}, presigned_allowed)

    assert s3.get_object(Bucket=BUCKET, Key="media/a.mp4")["Body"].read() == b"media/a.mp4"
    with pytest.raises(ClientError) as outside:
        s3.get_object(Bucket=BUCKET, Key="private/b.bin")
    assert outside.value.response["Error"]["Code"] == "AccessDenied"
    assert client("dynamodb", moto_url, FUNCTION_KEY).list_tables()["TableNames"] == []
    with pytest.raises(ClientError) as not_granted:
        client("dynamodb", moto_url, FUNCTION_KEY).describe_limits()
    assert "not authorized to perform: dynamodb:DescribeLimits" in str(not_granted.value)
    with pytest.raises(ClientError) as forged:
        client("dynamodb", moto_url, FUNCTION_KEY, secret="not-the-secret").list_tables()
    assert "signature" in str(forged.value).lower()
    assert s3_outsider.get_object(Bucket=BUCKET, Key="private/b.bin")["Body"].read() == b"private/b.bin"
    media = httpx.get(signed["media/a.mp4"], timeout=10, trust_env=False)
    private = httpx.get(signed["private/b.bin"], timeout=10, trust_env=False)
    assert (media.status_code, media.content) == (200, b"media/a.mp4")
    assert private.status_code == 403 and b"AccessDenied" in private.content
    assert asked[-1] == (FUNCTION_KEY, "GET", f"arn:aws:s3:::{BUCKET}/private/b.bin")
