"""Per-container state: environment, SDK clients and the runtime configuration.

Built on the first invocation (never at import time) and reused afterwards. The configuration is
read from SSM through Powertools Parameters, cached for :data:`CONFIG_MAX_AGE_SECONDS`: one read
per container in practice, yet a stack update that changes the parameter reaches warm
containers within minutes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

from aws_lambda_powertools.utilities.parameters import SSMProvider

from mediapipe_handlers.clients import AwsClients
from mediapipe_handlers.config import RuntimeConfig, parse_runtime_config
from mediapipe_handlers.environment import HandlerEnvironment

CONFIG_MAX_AGE_SECONDS = 300


@dataclass
class Runtime:
    """What every record handler needs; one instance per container."""

    env: HandlerEnvironment
    clients: AwsClients
    _parameters: SSMProvider

    @cached_property
    def kms_key_arn(self) -> str:
        """The stack key's ARN. A stack on an existing key is given its alias ARN, but
        MediaConvert and the outputs bucket policy need the key ARN: resolve it once."""
        configured = self.env.kms_key_arn
        if ":alias/" not in configured:
            return configured
        metadata = self.clients.kms.describe_key(KeyId=configured)["KeyMetadata"]
        return str(metadata["Arn"])

    @property
    def config(self) -> RuntimeConfig:
        raw = self._parameters.get(self.env.transcode_parameter, max_age=CONFIG_MAX_AGE_SECONDS)
        return _parsed(str(raw))


@lru_cache(maxsize=4)
def _parsed(text: str) -> RuntimeConfig:
    # Keyed by the document's text: parsed once per distinct value, not per invocation.
    return parse_runtime_config(text)


_current: Runtime | None = None


def get_runtime(environ: Mapping[str, str] | None = None) -> Runtime:
    """The container's runtime, created on first call from ``environ`` (default os.environ)."""
    global _current
    if _current is None:
        env = HandlerEnvironment.from_environ(os.environ if environ is None else environ)
        clients = AwsClients(env.region, env.mediaconvert_endpoint)
        _current = Runtime(
            env=env, clients=clients, _parameters=SSMProvider(boto3_client=clients.ssm)
        )
    return _current


def reset_runtime() -> None:
    """Forget the container state (a new deployment in tests; never needed in Lambda)."""
    global _current
    _current = None
    _parsed.cache_clear()
