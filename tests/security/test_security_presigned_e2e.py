"""Presigned media URLs reach one object, for a GET, until they expire.

moto serves a presigned URL without checking its signature or its expiry (its S3 reads neither
``X-Amz-Signature`` nor ``X-Amz-Expires``): a URL with its key swapped for another object's is served
all the same. So fetching proves only that the URL names its object; the signature's scope is checked
here as S3 checks it, with botocore's own SigV4 signer: the canonical request is rebuilt from the URL as
received and signed again with the signing credentials at the URL's own signing time.
"""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local import botocore_internals
from local.iam import ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY
from videotasks.adapters import aws
from videotasks.adapters.media import MediaStore
from videotasks.domain.ids import new_video_id
from videotasks.domain.models import parse_iso, utc_now

pytest_plugins = ["tests.e2e.conftest"]
pytestmark = pytest.mark.e2e

TEST_CREDENTIALS = Credentials(ADMIN_ACCESS_KEY_ID, ADMIN_SECRET_ACCESS_KEY)  # the stack's admin (local.iam)
DEFAULT_TTL_SECONDS = 3600  # MEDIA_URL_TTL_SECONDS's default
_SIGV4 = "AWS4-HMAC-SHA256"
_SIGNING_PARAMETERS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
}


def signer(url: str) -> Credentials:
    """The credentials of the function that signed ``url``: the local stack gives each function its own access
    key (named in the URL) and the admin's secret (local.iam)."""
    return Credentials(parameters(url)["X-Amz-Credential"].split("/", 1)[0], ADMIN_SECRET_ACCESS_KEY)


def parameters(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def signed_at(url: str) -> datetime:
    return datetime.strptime(parameters(url)["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def s3_verdict(url: str, credentials: Credentials, *, method: str = "GET", now: datetime | None = None) -> str:
    """What S3 makes of ``method url``: ``ok``, ``expired``, ``signature mismatch`` or ``not SigV4``."""
    given = parameters(url)
    if given.get("X-Amz-Algorithm") != _SIGV4:
        return "not SigV4"
    expires = int(given["X-Amz-Expires"])
    if (now or utc_now()) > signed_at(url) + timedelta(seconds=expires):
        return "expired"
    region = given["X-Amz-Credential"].split("/")[2]
    parts = urlsplit(url)
    others = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _SIGNING_PARAMETERS]
    request = AWSRequest(method=method, url=urlunsplit(parts._replace(query=urlencode(others))))
    with botocore_internals.signing_clock(signed_at(url).replace(tzinfo=None)):
        S3SigV4QueryAuth(credentials, "s3", region, expires=expires).add_auth(request)
    expected = parameters(request.url)["X-Amz-Signature"]
    return "ok" if hmac.compare_digest(expected, given["X-Amz-Signature"]) else "signature mismatch"


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


def with_parameter(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, value if k == name else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def media_bucket(stack: Any) -> str:
    (bucket,) = [b["Name"] for b in stack.boto3_client("s3").list_buckets()["Buckets"] if "media" in b["Name"].lower()]
    return str(bucket)


@pytest.fixture
def completed(local_stack: Any, user_id: str, wait_for_terminal: Any) -> tuple[str, dict[str, Any]]:
    """A completed video task of ``user_id`` and its content reply."""
    with local_stack.http(user_id) as client:
        created = client.post("/tasks", json={"prompt": "a lighthouse at dusk"})
        assert created.status_code == 201, created.text
        video_id = created.json()["data"]["videoId"]
        task = wait_for_terminal(client, video_id, local_stack.completion_deadline())
        assert task["status"] == "COMPLETED", task
        content = client.get(f"/tasks/{video_id}/content")
    assert content.status_code == 200, content.text
    return video_id, content.json()["data"]


def test_the_content_url_fetches_its_own_object_under_a_sigv4_signature_s3_accepts(
    local_stack: Any, completed: tuple[str, dict[str, Any]]
) -> None:
    video_id, content = completed
    url = content["url"]
    bucket = media_bucket(local_stack)
    path = urlsplit(url).path

    fetched = httpx.get(url, timeout=30.0, trust_env=False)

    assert path == f"/{bucket}/media/{video_id}.mp4"
    stored = local_stack.boto3_client("s3").get_object(Bucket=bucket, Key=f"media/{video_id}.mp4")["Body"].read()
    assert fetched.status_code == 200
    assert fetched.content == stored
    assert s3_verdict(url, signer(url)) == "ok"
    assert parameters(url)["X-Amz-SignedHeaders"] == "host"
    assert int(parameters(url)["X-Amz-Expires"]) == DEFAULT_TTL_SECONDS
    promised = parse_iso(content["expiresAt"]) - signed_at(url)
    assert abs(promised.total_seconds() - DEFAULT_TTL_SECONDS) <= 60  # the reply says when it really ends


def test_the_content_url_reaches_no_other_object_method_bucket_or_lifetime(
    local_stack: Any, completed: tuple[str, dict[str, Any]]
) -> None:
    _, content = completed
    url = content["url"]
    bucket = media_bucket(local_stack)
    other_key = f"media/{new_video_id()}.mp4"  # someone else's video, say
    local_stack.boto3_client("s3").put_object(Bucket=bucket, Key=other_key, Body=b"another user's video")
    path = urlsplit(url).path

    assert s3_verdict(url, signer(url)) == "ok"  # the control: only the change below differs
    assert s3_verdict(with_path(url, f"/{bucket}/{other_key}"), signer(url)) == "signature mismatch"
    assert s3_verdict(with_path(url, path.replace(".mp4", ".png")), signer(url)) == "signature mismatch"
    assert s3_verdict(with_path(url, path.replace(bucket, "another-bucket")), signer(url)) == ("signature mismatch")
    for method in ("PUT", "DELETE", "HEAD"):
        assert s3_verdict(url, signer(url), method=method) == "signature mismatch", method
    longer = with_parameter(url, "X-Amz-Expires", "604800")
    assert s3_verdict(longer, signer(url)) == "signature mismatch"
    # The URL pins the served type (video/mp4, inline); swapping it would serve the media as a page on S3's origin.
    assert parameters(url)["response-content-type"] == "video/mp4"
    for name, value in (("response-content-type", "text/html"), ("response-content-disposition", "inline")):
        assert s3_verdict(with_parameter(url, name, value), signer(url)) == "signature mismatch", name


def test_a_presigned_url_is_refused_once_its_lifetime_has_passed(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = media_bucket(local_stack)
    key = f"media/{new_video_id()}.mp4"
    local_stack.boto3_client("s3").put_object(Bucket=bucket, Key=key, Body=b"short-lived")
    # The settings refuse a TTL under 60 s (MEDIA_URL_TTL_SECONDS), so the storage class is asked directly,
    # with the package's own S3 client configuration.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ADMIN_ACCESS_KEY_ID)  # moto checks IAM: sign as the stack's admin
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", ADMIN_SECRET_ACCESS_KEY)
    store = MediaStore(bucket, s3=aws.client("s3", endpoint_url=local_stack.moto_url))

    url, expires_at = store.presigned_url(key, ttl_seconds=1)

    start = signed_at(url)
    assert parameters(url)["X-Amz-Expires"] == "1"
    assert s3_verdict(url, TEST_CREDENTIALS, now=start) == "ok"
    assert s3_verdict(url, TEST_CREDENTIALS, now=start + timedelta(seconds=2)) == "expired"
    while utc_now() <= max(start, expires_at) + timedelta(seconds=1):  # bounded: about two seconds
        time.sleep(0.2)
    assert s3_verdict(url, TEST_CREDENTIALS) == "expired"
    # Nor can the holder revive it: a new lifetime breaks the signature.
    assert s3_verdict(with_parameter(url, "X-Amz-Expires", "3600"), TEST_CREDENTIALS) == "signature mismatch"
