"""Secrets from Secrets Manager through Powertools Parameters (cached, never logged)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

SECRET_MAX_AGE_SECONDS = 300


def get_secret(name: str) -> str:
    value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
