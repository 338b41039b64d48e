"""AWS clients for the operations commands; AWS errors as messages an operator can act on.

boto3 is imported here, inside functions, so importing the CLI stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mediapipe_cfn.errors import MediapipeError

# Error codes that mean "this identity may not do that", across the services the commands call.
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "UnauthorizedOperation",
        "AWS.SimpleQueueService.AccessDenied",
        "KMS.AccessDeniedException",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    }
)


class OperationsError(MediapipeError):
    """The command cannot run: credentials, permissions, a missing stack. Exit code 2."""


class NotFound(MediapipeError):
    """What the operator asked for does not exist. Exit code 1."""


ClientFactory = Callable[[str], Any]


class Aws:
    """One boto3 session (region, named AWS profile) and the clients the commands create from it.

    ``overrides`` replaces the client of a service (tests stand in for MediaConvert and Lambda,
    which moto cannot run).
    """

    overrides: dict[str, ClientFactory] = {}  # a test hook, replaced whole

    def __init__(self, region: str | None, aws_profile: str | None) -> None:
        self.region_option = region
        self.aws_profile = aws_profile
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    @property
    def session(self) -> Any:
        if self._session is None:
            import boto3
            import botocore.exceptions

            try:
                self._session = boto3.session.Session(
                    profile_name=self.aws_profile, region_name=self.region_option
                )
            except botocore.exceptions.ProfileNotFound:
                raise OperationsError(
                    f"AWS profile {self.aws_profile!r} is not in your AWS configuration "
                    "(~/.aws/config, ~/.aws/credentials)"
                ) from None
            if not self._session.region_name:
                raise OperationsError(
                    "no AWS region: pass --region, or set AWS_REGION / a region in your AWS profile"
                )
        return self._session

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            override = self.overrides.get(service)
            self._clients[service] = (
                override(self.region) if override else self.session.client(service)
            )
        return self._clients[service]


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn credential, permission and connection problems into one readable message."""
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise OperationsError(
            "no AWS credentials found: configure them (aws configure, AWS_PROFILE, or "
            "--aws-profile NAME) and try again"
        ) from None
    except (
        botocore.exceptions.PartialCredentialsError,
        botocore.exceptions.TokenRetrievalError,
        botocore.exceptions.SSOTokenLoadError,
    ) as error:
        raise OperationsError(f"AWS credentials are incomplete or expired: {error}") from None
    except botocore.exceptions.EndpointConnectionError as error:
        raise OperationsError(f"cannot reach AWS while {what}: {error}") from None
    except botocore.exceptions.ClientError as error:
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        operation = error.operation_name
        if code in ACCESS_DENIED_CODES:
            raise OperationsError(
                f"access denied while {what} ({operation}): {message}. The operator policy in "
                "docs/operations.md lists what each command needs."
            ) from None
        if code in CREDENTIAL_CODES:
            raise OperationsError(f"AWS rejected the credentials ({code}): {message}") from None
        raise OperationsError(f"AWS error while {what} ({operation}, {code}): {message}") from None


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
