"""Which failures are worth retrying, for SDK calls and for MediaConvert jobs.

Two different questions with two different answers:

* An SDK call that failed (throttling, a 5xx, a timeout) is *transient*: the orchestrator
  reports the SQS record as a batch item failure and the queue redelivers it later, with
  backoff. Anything else (validation, access denied, not found) is *permanent*.
* A MediaConvert job that ended in ``ERROR`` carries a numeric ``errorCode``. Only codes that
  describe a fault on the service's side, or a transfer that failed, are worth a resubmission;
  a job that failed on its input or settings fails the same way again (and ERROR jobs are not
  billed, so a bounded resubmission is cheap). See :data:`DEFAULT_RETRYABLE_JOB_ERROR_CODES`.
"""

from __future__ import annotations

from botocore import exceptions as sdk_errors
from botocore.exceptions import ClientError

# Error codes, from the service's error code reference, whose jobs are resubmitted:
#   1056  File Open Error: the service could not open an input or output file; seen with
#         transient storage failures (a real path or permission problem fails again and ends
#         FAILED once the attempts are used up).
#   1550  Acceleration Fault: unexpected error in accelerated transcoding (service side).
#   1999  Unknown Error: unexpected transcoding error (service side).
#   3408  HTTP Upload Error, 3450 HTTP Server Error, 3451 HTTP Server Connection Error,
#   3999  HTTP Unknown Error: transfer failures of HTTP(S) inputs.
# Not retried, because the same job fails the same way: 1010/1020/1021/1030/1075/1076/1092
# (the input), 1040/1041/1042/1060/1080/3400/3457 (settings vs input), 1050/1507 (disk full:
# too many or too long outputs), 1091/1401/1404/1432/1433/1434/1515 (permissions, IAM role,
# missing bucket: fix the deployment, then redrive the failure from the dead-letter queue),
# 3401/3403/3404 (HTTP input not reachable).
DEFAULT_RETRYABLE_JOB_ERROR_CODES: frozenset[int] = frozenset(
    {1056, 1550, 1999, 3408, 3450, 3451, 3999}
)

# Error codes of AWS APIs that mean "try again later".
_TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalServerErrorException",
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "ProvisionedThroughputExceededException",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionConflictException",
        "LimitExceededException",
        "ServiceQuotaExceededException",
        "ConflictException",
        "KMSThrottlingException",
        "EC2ThrottledException",
    }
)


class TransientFailure(Exception):
    """A failure worth retrying later; the record goes back to the queue with backoff."""


class PermanentFailure(Exception):
    """A failure that will not go away by itself; the asset is marked FAILED with ``reason``.

    ``kind`` is one of the FailureKind values and decides whether a redrive may reopen it.
    """

    def __init__(self, reason: str, kind: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_transient(error: BaseException) -> bool:
    """True for throttling, 5xx answers and network trouble."""
    if isinstance(error, ClientError):
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error_code(error) in _TRANSIENT_ERROR_CODES or status >= 500 or status == 429
    network = (sdk_errors.ConnectionError, sdk_errors.HTTPClientError, sdk_errors.ReadTimeoutError)
    return isinstance(error, network) or (
        isinstance(error, sdk_errors.BotoCoreError) and "timeout" in str(error).lower()
    )


def describe(error: BaseException) -> str:
    """A one-line description for the record's ``errors[]`` and the logs."""
    if isinstance(error, ClientError):
        message = error.response.get("Error", {}).get("Message", "")
        operation = getattr(error, "operation_name", "") or "call"
        return f"{operation}: {error_code(error)}: {message}".strip()
    return f"{type(error).__name__}: {error}"


def is_retryable_job_error(code: int | None, configured: frozenset[int] | None) -> bool:
    """Whether a job that ended in ERROR with ``code`` is worth resubmitting."""
    if code is None:
        return False
    return code in (configured if configured is not None else DEFAULT_RETRYABLE_JOB_ERROR_CODES)
