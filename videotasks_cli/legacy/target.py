"""Where the import writes: a running `make dev` stack (`--local`), or a deployed stack named by the
functions' own variables (TASKS_TABLE, STATS_TABLE, MEDIA_BUCKET) and reached with the normal AWS
credential chain (AWS_PROFILE, AWS_REGION, …)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from videotasks.adapters.media import MediaStore
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.settings import Settings
from videotasks_cli.local_state import LocalStateError, read_state

TABLE_VARIABLES = ("TASKS_TABLE", "STATS_TABLE", "MEDIA_BUCKET")
# The local stack's moto serves any key that no function owns with full rights, as an operator's would be.
_LOCAL_KEY = "local"


class TargetError(RuntimeError):
    """No target: one line saying what to set or start."""


@dataclass(frozen=True)
class Target:
    description: str
    repository: TaskRepository
    media: MediaStore


def local_target(state_path: Path | None = None) -> Target:
    import boto3
    from botocore.config import Config

    try:
        state = read_state(state_path)
    except LocalStateError as error:
        raise TargetError(str(error)) from None
    session: Any = boto3.session.Session(
        aws_access_key_id=_LOCAL_KEY, aws_secret_access_key=_LOCAL_KEY, region_name=state.region
    )
    endpoint = state.aws_endpoint_url
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    s3 = session.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4"))
    settings = _settings(state.environment, "the local stack's state file")
    return Target(
        f"the local stack at {endpoint}",
        TaskRepository(settings, dynamodb=dynamodb),
        MediaStore(settings.media_bucket, s3=s3),
    )


def deployed_target(environ: Mapping[str, str] | None = None) -> Target:
    import boto3
    from botocore.config import Config

    env = os.environ if environ is None else environ
    settings = _settings(env, "the environment")
    session: Any = boto3.session.Session()
    dynamodb = session.resource("dynamodb")
    s3 = session.client("s3", config=Config(signature_version="s3v4"))
    return Target(
        f"table {settings.tasks_table} ({session.region_name or 'no region'})",
        TaskRepository(settings, dynamodb=dynamodb),
        MediaStore(settings.media_bucket, s3=s3),
    )


def _settings(values: Mapping[str, str], where: str) -> Settings:
    missing = [name for name in TABLE_VARIABLES if not values.get(name)]
    if missing:
        raise TargetError(
            f"{', '.join(missing)} not set in {where}: pass --local for a `make dev` stack, or set the deployed"
            " stack's table and bucket names (docs/MIGRATION.md)"
        )
    try:
        return Settings.model_validate({name: values[name] for name in TABLE_VARIABLES})
    except ValidationError as error:
        raise TargetError(f"unusable settings in {where}: {error.errors()[0]['msg']}") from None
