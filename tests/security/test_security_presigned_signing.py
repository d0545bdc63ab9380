"""Media URLs as the deployed functions sign them (no endpoint override: AWS's own S3 endpoints), in
process and offline: SigV4, scoped to the function's region, valid for exactly the TTL asked for.
The local-stack suite (test_security_presigned_e2e.py) checks what such a URL reaches."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from videotasks.adapters import aws
from videotasks.adapters.media import MediaStore


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_a_media_url_is_signed_with_sigv4_for_the_functions_region(
    monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    # Left to itself botocore presigns S3 with SigV2 in the regions that still take it (us-east-1 and
    # eu-west-1 among them), which buckets created since 2020 refuse.
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    aws.reset()

    url, _ = MediaStore("videotasks-media-test").presigned_url("media/video_x.mp4", ttl_seconds=900)

    parameters = dict(parse_qsl(urlsplit(url).query))
    assert parameters["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256", url
    assert parameters["X-Amz-Credential"].split("/")[2:4] == [region, "s3"]
    assert parameters["X-Amz-Expires"] == "900"
    assert parameters["X-Amz-SignedHeaders"] == "host"
    assert urlsplit(url).scheme == "https"
    assert "AWSAccessKeyId" not in parameters and "Signature" not in parameters
