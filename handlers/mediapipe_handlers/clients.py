"""AWS SDK clients, created on first use and reused by every invocation of the container.

Every client retries with botocore's own backoff (``standard`` mode; ``adaptive`` for
MediaConvert, whose CreateJob quota is a per-second rate that client-side rate limiting
respects) and has short timeouts, so a slow dependency surfaces as a transient failure the
queue retries instead of a Lambda timeout.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

# Attempts include the first call. The orchestrator's SQS message is its own outer retry, so
# the SDK gives up early and lets the queue's backoff take over.
# Worst case per call: attempts x (connect + read) = 3 x 7 s, well inside a record's budget.
SDK_MAX_ATTEMPTS = 3
MEDIACONVERT_MAX_ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 5
# A server-side copy of a large source answers only when it is done.
COPY_READ_TIMEOUT_SECONDS = 120


def client_config(
    *,
    retry_mode: str = "standard",
    max_attempts: int = SDK_MAX_ATTEMPTS,
    read_timeout: int = READ_TIMEOUT_SECONDS,
) -> Config:
    """The botocore configuration every client uses (retry mode, attempts, timeouts)."""
    return Config(
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=read_timeout,
        user_agent_extra="mediapipe-handlers",
    )


class AwsClients:
    """One lazily created client per service, shared across invocations."""

    def __init__(self, region: str, mediaconvert_endpoint: str | None = None) -> None:
        self._region = region
        self._mediaconvert_endpoint = mediaconvert_endpoint
        self._session = boto3.session.Session(region_name=region)
        # MediaConvert of other regions (the regional fallback's), by region name.
        self.regional_mediaconvert: dict[str, Any] = {}

    def _client(self, service: str, config: Config | None = None, **kwargs: Any) -> Any:
        return self._session.client(service, config=config or client_config(), **kwargs)

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        return self._client("sqs")

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def s3_copy(self) -> Any:
        """S3 for the working copy: the same retries, a read timeout that fits a big copy."""
        return self._client("s3", client_config(read_timeout=COPY_READ_TIMEOUT_SECONDS))

    @cached_property
    def ssm(self) -> Any:
        return self._client("ssm")

    @cached_property
    def events(self) -> Any:
        return self._client("events")

    @cached_property
    def sns(self) -> Any:
        return self._client("sns")

    @cached_property
    def kms(self) -> Any:
        return self._client("kms")

    @cached_property
    def mediaconvert(self) -> Any:
        # The regional endpoint (mediaconvert.<region>.amazonaws.com) is botocore's default;
        # DescribeEndpoints is legacy and heavily throttled, so it is never called.
        extra = {"endpoint_url": self._mediaconvert_endpoint} if self._mediaconvert_endpoint else {}
        config = client_config(retry_mode="adaptive", max_attempts=MEDIACONVERT_MAX_ATTEMPTS)
        return self._client("mediaconvert", config, **extra)

    def mediaconvert_in(self, region: str | None) -> Any:
        """MediaConvert of ``region`` (None or the function's own region: :attr:`mediaconvert`).

        Another region's client uses that region's default endpoint: the endpoint override
        names the function's own region's.
        """
        if region is None or region == self._region:
            return self.mediaconvert
        if region not in self.regional_mediaconvert:
            config = client_config(retry_mode="adaptive", max_attempts=MEDIACONVERT_MAX_ATTEMPTS)
            self.regional_mediaconvert[region] = self._session.client(
                "mediaconvert", region_name=region, config=config
            )
        return self.regional_mediaconvert[region]
