"""The one place that leans on botocore internals: the local stack's IAM and the tests' recorders and clocks.

botocore has no public hook for "before any client of this process makes a call" or "whichever credentials the
running Lambda function would have", which the local stack's IAM needs (``local.iam``); nor for sharing parsed
service models between sessions or freezing the signer's clock, which the tests use. So this module replaces a
few private botocore functions and reads a few private attributes, behind functions that say what they are for.

Pinned with ``==`` in requirements-dev.txt (`PIN`, next to boto3, which requires one botocore release);
``tests/static/test_library_internals.py`` fails, naming that pin, when an upgrade moves anything listed in
`relied_on`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import botocore.auth
import botocore.client
import botocore.loaders
import botocore.session
import botocore.signers
from botocore.credentials import Credentials, ReadOnlyCredentials

PIN = ("requirements-dev.txt", "botocore")  # (requirements file, distribution)

Undo = Callable[[], None]
# (client, operation name as in the API reference: "GetObject", the call's parameters)
CallCheck = Callable[[Any, str, dict[str, Any]], None]


def before_each_call(check: CallCheck) -> Undo:
    """Run ``check`` ahead of every API call of every client (and resource) of this process, before the call
    is signed or sent; it may raise to refuse the call. Undo in the reverse order of installing."""
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        check(self, operation_name, api_params)
        return original(self, operation_name, api_params)

    setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)  # noqa: B010 - private
    return lambda: setattr(botocore.client.BaseClient, "_make_api_call", original)


# (client, operation name, the call's parameters, its parsed reply)
CallObserver = Callable[[Any, str, dict[str, Any], dict[str, Any]], None]


def after_each_call(observe: CallObserver) -> Undo:
    """Run ``observe`` after every API call of every client (and resource) of this process that got a reply
    (what the bench counts reads by). Undo in the reverse order of installing."""
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        reply = original(self, operation_name, api_params)
        observe(self, operation_name, api_params, reply)
        return reply

    setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)  # noqa: B010 - private
    return lambda: setattr(botocore.client.BaseClient, "_make_api_call", original)


def before_each_presign(check: CallCheck) -> Undo:
    """Run ``check`` ahead of every ``generate_presigned_url`` of every client, with the operation's API name."""
    original = botocore.signers.generate_presigned_url

    def generate_presigned_url(self: Any, *args: Any, **kwargs: Any) -> Any:
        # botocore's signature: (ClientMethod, Params=None, ExpiresIn=3600, HttpMethod=None)
        method = args[0] if args else kwargs["ClientMethod"]
        params = args[1] if len(args) > 1 else kwargs.get("Params")
        check(self, self._PY_TO_OP_NAME.get(method, method), dict(params or {}))
        return original(self, *args, **kwargs)

    # botocore copies this module function onto each client class it builds (add_generate_presigned_url).
    botocore.signers.generate_presigned_url = generate_presigned_url
    return lambda: setattr(botocore.signers, "generate_presigned_url", original)


class _KeysAtEachSigning(Credentials):
    """Credentials whose keys are ``keys()`` at each signing: botocore asks for them afresh for every request
    (``get_frozen_credentials``), and reads ``access_key`` and ``secret_key`` in between."""

    def __init__(self, keys: Callable[[], tuple[str, str]], method: str) -> None:
        self._keys = keys  # before botocore's __init__, which reads the keys back
        super().__init__("", "", method=method)

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        access_key, secret_key = self._keys()
        return ReadOnlyCredentials(access_key, secret_key, None)

    @property  # type: ignore[override]
    def access_key(self) -> str:
        return self._keys()[0]

    @access_key.setter
    def access_key(self, value: str) -> None:  # botocore's __init__ assigns it; the keys come from _keys
        pass

    @property  # type: ignore[override]
    def secret_key(self) -> str:
        return self._keys()[1]

    @secret_key.setter
    def secret_key(self, value: str) -> None:
        pass


def sessions_sign_with(keys: Callable[[], tuple[str, str]], *, method: str) -> Undo:
    """Every session not given keys of its own signs each request with ``keys()`` (access key id, secret) as
    they are at that moment, instead of asking the credential provider chain once."""
    credentials = _KeysAtEachSigning(keys, method)
    original = botocore.session.Session.get_credentials

    def get_credentials(self: Any) -> Any:
        return self._credentials if self._credentials is not None else credentials

    botocore.session.Session.get_credentials = get_credentials  # type: ignore[method-assign]
    return lambda: setattr(botocore.session.Session, "get_credentials", original)


def signing_access_key(client: Any) -> str | None:
    """The access key id ``client`` signs its requests with, or None for an unsigned client."""
    credentials = client._request_signer._credentials
    return credentials.access_key if credentials is not None else None


@contextlib.contextmanager
def shared_service_models() -> Iterator[None]:
    """Every botocore loader made meanwhile shares one cache of parsed service models (speed only: each new
    session would parse the same JSON again)."""
    shared: dict[Any, Any] = {}
    original = botocore.loaders.Loader.__init__

    def init(self: botocore.loaders.Loader, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self._cache = shared

    botocore.loaders.Loader.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore.loaders.Loader.__init__ = original  # type: ignore[method-assign]


@contextlib.contextmanager
def signing_clock(now: datetime) -> Iterator[None]:
    """botocore's SigV4 signers sign as if it were ``now`` (naive UTC, as botocore's clock answers)."""
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda *args, **kwargs: now
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = original


def relied_on() -> list[tuple[object, str, tuple[str, ...] | None]]:
    """Each (owner, attribute, leading parameter names or None) this module uses, for the pin's test."""
    client = botocore.session.Session().create_client(
        "s3", region_name="us-east-1", aws_access_key_id="key", aws_secret_access_key="secret"
    )
    return [
        (botocore.client.BaseClient, "_make_api_call", ("self", "operation_name", "api_params")),
        (botocore.signers, "generate_presigned_url", ("self", "ClientMethod", "Params", "ExpiresIn", "HttpMethod")),
        (type(client), "_PY_TO_OP_NAME", None),
        (client, "_request_signer", None),
        (client._request_signer, "_credentials", None),
        (botocore.session.Session, "get_credentials", ("self",)),
        (Credentials, "__init__", ("self", "access_key", "secret_key", "token", "method")),
        (Credentials, "get_frozen_credentials", ("self",)),
        (botocore.session.Session(), "_credentials", None),
        (botocore.loaders.Loader(), "_cache", None),
        (botocore.signers, "add_generate_presigned_url", None),
        (botocore.auth, "get_current_datetime", ("remove_tzinfo",)),
    ]
