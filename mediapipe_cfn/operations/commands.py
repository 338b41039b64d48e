"""The click commands `assets`, `dlq` and `status` (registered on the main CLI).

Nothing here imports boto3 at import time: the modules that talk to AWS are imported inside the
commands, so `mediapipe-cfn render` and `--help` stay fast.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click

from mediapipe_cfn.errors import MediapipeError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FINDINGS = 1
EXIT_USAGE = 2
STATUSES = ("PENDING", "PROCESSING", "SUCCEEDED", "FAILED")
DLQ_CHOICES = ("processing", "events", "status")
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def operations_errors(func: F) -> F:
    """Not found: exit 1. Credentials, permissions, a wrong stack or bad input: exit 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mediapipe_cfn.operations.aws import NotFound

        try:
            return func(*args, **kwargs)
        except NotFound as exc:
            _fail(str(exc), EXIT_FINDINGS)
        except MediapipeError as exc:
            _fail(str(exc), EXIT_USAGE)
        except BrokenPipeError:
            # The reader of stdout went away (`| head`): nothing more to say to it.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_FINDINGS)

    return wrapper  # type: ignore[return-value]


def stack_options(func: F) -> F:
    """--stack, --region, --aws-profile and --json, shared by every operations command."""
    options = [
        click.option(
            "--stack",
            "stack_name",
            required=True,
            metavar="NAME",
            help="Name of the deployed pipeline stack (its outputs name everything else).",
        ),
        click.option(
            "--region",
            default=None,
            metavar="REGION",
            help="AWS region of the stack. Default: your AWS configuration's region.",
        ),
        click.option(
            "--aws-profile",
            default=None,
            metavar="NAME",
            help="Named AWS CLI profile for credentials (not the pipeline --profile of render "
            "and validate). Default: the usual AWS credential chain.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _connect(stack_name: str, region: str | None, aws_profile: str | None) -> tuple[Any, Any]:
    from mediapipe_cfn.operations.aws import Aws
    from mediapipe_cfn.operations.stack import find_stack

    aws = Aws(region, aws_profile)
    return aws, find_stack(aws, stack_name)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise click.BadParameter(f"{text!r}: use a number and s, m, h or d, e.g. 30m, 24h, 7d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _duration_option(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    return None if value is None else parse_duration(value)


def _now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ assets


@click.group()
def assets() -> None:
    """Find, list and retry assets of a deployed pipeline."""


@assets.command("show")
@click.argument("reference", metavar="ASSET_ID|s3://BUCKET/KEY")
@stack_options
@operations_errors
def assets_show(
    reference: str, stack_name: str, region: str | None, aws_profile: str | None, as_json: bool
) -> None:
    """Show one asset: status, per-format jobs, errors, outputs, playback, where its messages are.

    An s3:// URI means the object's latest version (add ?versionId=V for another). Exits 1 when
    there is no such asset.
    """
    from mediapipe_cfn.operations import assets as ops
    from mediapipe_cfn.operations.views import show_asset

    aws, stack = _connect(stack_name, region, aws_profile)
    asset_id = ops.resolve_asset_id(aws, stack, reference)
    view = ops.asset_view(ops.get_asset(aws, stack, asset_id), stack.region, _now())
    show_asset(view, as_json)


@assets.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None, help="Only this status.")
@click.option("--uploader", default=None, metavar="ID", help="Only this uploader's assets.")
@click.option(
    "--since",
    default=None,
    metavar="DURATION",
    callback=_duration_option,
    help="Only assets changed in this window, e.g. 30m, 24h, 7d.",
)
@click.option(
    "--before",
    default=None,
    metavar="UPDATED_AT",
    help="Only assets changed at or before this updatedAt: the next page after a listing's "
    "last row (which it shows again).",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@stack_options
@operations_errors
def assets_list(
    status: str | None,
    uploader: str | None,
    since: timedelta | None,
    before: str | None,
    limit: int,
    stack_name: str,
    region: str | None,
    aws_profile: str | None,
    as_json: bool,
) -> None:
    """List assets, most recently changed first (Query on the ByStatus/ByUploader index).

    A full page ends with the --before value that lists the next one.
    """
    from mediapipe_cfn.operations import assets as ops
    from mediapipe_cfn.operations.views import show_asset_list

    aws, stack = _connect(stack_name, region, aws_profile)
    now = _now()
    query = ops.AssetQuery(
        status=status,
        uploader=uploader,
        since=None if since is None else now - since,
        before=before,
        limit=limit,
    )
    show_asset_list(ops.list_assets(aws, stack, query), now, as_json, limit)


@assets.command("retry")
@click.argument("references", nargs=-1, required=True, metavar="ASSET_ID|s3://BUCKET/KEY...")
@click.option(
    "--stuck-after",
    default="30m",
    show_default=True,
    metavar="DURATION",
    callback=_duration_option,
    help="A PENDING or PROCESSING asset without an update for this long counts as stuck.",
)
@click.option("--dry-run", is_flag=True, help="Print what would happen; send nothing.")
@stack_options
@operations_errors
def assets_retry(
    references: tuple[str, ...],
    stuck_after: timedelta,
    dry_run: bool,
    stack_name: str,
    region: str | None,
    aws_profile: str | None,
    as_json: bool,
) -> None:
    """Retry assets through the processing queue, as the orchestrator expects.

    A FAILED asset whose failure a new attempt can fix (JOB_FAILED, TRANSIENT_EXHAUSTED,
    HANDLER_CRASHED, DEAD_LETTERED) is reopened; a PENDING or PROCESSING asset stuck past
    --stuck-after is driven forward. Sending twice is harmless. Exits 1 if an asset was not
    retried (not found, not retryable, or still in progress).
    """
    from mediapipe_cfn.operations import assets as ops
    from mediapipe_cfn.operations.aws import NotFound
    from mediapipe_cfn.operations.views import show_retries

    aws, stack = _connect(stack_name, region, aws_profile)
    now = _now()
    plans = []
    for reference in references:
        asset_id = ops.resolve_asset_id(aws, stack, reference)
        try:
            item = ops.get_asset(aws, stack, asset_id)
        except NotFound as missing:
            plans.append(ops.RetryPlan(asset_id, None, None, str(missing)))
            continue
        plans.append(ops.plan_retry(item, now, stuck_after))
    sent = {}
    if not dry_run:
        for plan in plans:
            if plan.body is not None:
                sent[plan.asset_id] = ops.send_retry(aws, stack, plan)
    show_retries(plans, sent, dry_run, as_json)
    if any(plan.body is None for plan in plans):
        sys.exit(EXIT_FINDINGS)


# ------------------------------------------------------------------ dead-letter queues


def max_messages_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--max",
        "max_messages",
        type=click.IntRange(1, 100_000),
        default=5000,
        show_default=True,
        help=help_text,
    )


@click.group()
def dlq() -> None:
    """Inspect and redrive the pipeline's dead-letter queues."""


@dlq.command("show")
@click.option(
    "--queue",
    "queues",
    type=click.Choice(DLQ_CHOICES),
    multiple=True,
    help="Which queue (repeat for several). Default: all three.",
)
@max_messages_option("Read at most this many messages per queue.")
@stack_options
@operations_errors
def dlq_show(
    queues: tuple[str, ...],
    max_messages: int,
    stack_name: str,
    region: str | None,
    aws_profile: str | None,
    as_json: bool,
) -> None:
    """Summarise the dead-letter queues: messages grouped by kind and reason, with asset ids.

    The messages are read and made visible again at once; nothing is deleted. Exits 1 when a
    queue holds messages.
    """
    from mediapipe_cfn.operations import dlq as ops
    from mediapipe_cfn.operations.views import show_dead_letters

    aws, stack = _connect(stack_name, region, aws_profile)
    reports = [ops.inspect(aws, stack, queue, max_messages) for queue in queues or DLQ_CHOICES]
    show_dead_letters(reports, as_json)
    if any(report["read"] or report["heldElsewhere"] for report in reports):
        sys.exit(EXIT_FINDINGS)


@dlq.command("redrive")
@click.option("--queue", type=click.Choice(DLQ_CHOICES), default="processing", show_default=True)
@click.option(
    "--method",
    type=click.Choice(["auto", "move-task", "per-message"]),
    default="auto",
    show_default=True,
    help="processing queue only: SQS's message-move task (auto falls back to per-message "
    "where the API is missing). The events and status queues are always per message.",
)
@click.option("--rate", type=click.IntRange(1, 500), default=None,
              help="Messages per second for the move task. Default: SQS's own pace.")  # fmt: skip
@max_messages_option("Per message: move at most this many.")
@stack_options
@operations_errors
def dlq_redrive(
    queue: str,
    method: str,
    rate: int | None,
    max_messages: int,
    stack_name: str,
    region: str | None,
    aws_profile: str | None,
    as_json: bool,
) -> None:
    """Put dead letters back to be processed; a message is deleted only once it was delivered.

    processing: back to the processing queue. events: uploads to the processing queue, job
    events to the status processor. status: each failed job event to the status processor.
    Progress goes to stderr. Exits 1 when a message could not be moved.
    """
    from mediapipe_cfn.operations import dlq as ops
    from mediapipe_cfn.operations.views import show_redrive

    aws, stack = _connect(stack_name, region, aws_profile)
    if method == "move-task" and queue != "processing":
        raise click.UsageError("--method move-task applies to --queue processing only")
    result = ops.redrive(aws, stack, queue, method=method, rate=rate, max_messages=max_messages)
    show_redrive(result, as_json)
    if result.skipped or result.problems:
        sys.exit(EXIT_FINDINGS)


# ------------------------------------------------------------------ status


@click.command("status")
@stack_options
@operations_errors
def status(stack_name: str, region: str | None, aws_profile: str | None, as_json: bool) -> None:
    """The pipeline's health: queues, dead letters, alarms, jobs in flight, the last 24 h.

    Exits 1 when an alarm is in ALARM or a dead-letter queue holds messages.
    """
    from mediapipe_cfn.operations.health import health
    from mediapipe_cfn.operations.views import show_health

    aws, stack = _connect(stack_name, region, aws_profile)
    report = health(aws, stack, _now())
    show_health(report, as_json)
    if not report["healthy"]:
        sys.exit(EXIT_FINDINGS)


COMMANDS = (assets, dlq, status)
