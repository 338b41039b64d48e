"""Structured JSON logs (Powertools Logger), with the asset id on every line about an asset."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from aws_lambda_powertools import Logger

ASSET_ID_KEY = "asset_id"


@cache
def get_logger() -> Logger:
    """The functions' logger, created on first use (it reads POWERTOOLS_* variables)."""
    return Logger(log_uncaught_exceptions=True)


@contextmanager
def asset_context(asset_id: str, **keys: str) -> Iterator[None]:
    """Add ``asset_id`` (and ``keys``) to every log line written inside the block."""
    logger = get_logger()
    added = {ASSET_ID_KEY: asset_id, **keys}
    logger.append_keys(**added)
    try:
        yield
    finally:
        logger.remove_keys(list(added))
