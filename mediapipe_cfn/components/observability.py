"""CloudWatch dashboard and alarms of the pipeline.

Queue depth and age come from SQS's own metrics, errors and throttles from Lambda's; everything
about assets and jobs is read from the EMF metrics the handlers write, by the names in
:mod:`mediapipe_cfn.contract`, in the namespace the functions are given. Every alarm notifies the
alarm topic when it fires and when it recovers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from troposphere import GetAtt, Ref, Sub
from troposphere.cloudwatch import (
    Alarm,
    Dashboard,
    Metric,
    MetricDataQuery,
    MetricDimension,
    MetricStat,
)

from mediapipe_cfn import contract, ids
from mediapipe_cfn.components import _refs
from mediapipe_cfn.contract import Format
from mediapipe_cfn.contract import Metric as PipelineMetric
from mediapipe_cfn.mediaconvert.settings import job_formats as settings_job_formats
from mediapipe_cfn.mediaconvert.spec import transcode_spec
from mediapipe_cfn.profile.model import Profile
from mediapipe_cfn.template import BuildContext

SQS_NAMESPACE = "AWS/SQS"
LAMBDA_NAMESPACE = "AWS/Lambda"
DASHBOARD_PERIOD_SECONDS = 300
ONE_MINUTE = 60

# The alarm on each queue that should stay empty, and on each function's errors.
DEAD_LETTER_ALARMS: dict[str, str] = {
    ids.PROCESSING_DLQ: ids.PROCESSING_DLQ_ALARM,
    ids.EVENTS_DLQ: ids.EVENTS_DLQ_ALARM,
    ids.STATUS_FAILURE_QUEUE: ids.STATUS_FAILURE_QUEUE_ALARM,
}
FUNCTION_ERROR_ALARMS: dict[str, str] = {
    ids.ORCHESTRATOR_FUNCTION: ids.ORCHESTRATOR_ERRORS_ALARM,
    ids.STATUS_FUNCTION: ids.STATUS_ERRORS_ALARM,
}
# The reconciler runs once per period, so a count per evaluation window would rarely reach the
# other functions' threshold: its alarm fires when consecutive runs fail instead.
RECONCILER_FAILED_RUNS = 2
FUNCTION_LABELS = _refs.FUNCTION_SHORT_NAMES
DEAD_LETTER_LABELS: dict[str, str] = {
    ids.PROCESSING_DLQ: "uploads that failed processing",
    ids.EVENTS_DLQ: "upload events EventBridge could not deliver",
    ids.STATUS_FAILURE_QUEUE: "job events the status processor could not handle",
}


def job_formats(profile: Profile) -> list[Format]:
    """The values the handlers put in the ``Format`` dimension: one per job an asset gets."""
    return [Format(value) for value in settings_job_formats(transcode_spec(profile))]


# --- Dashboard ------------------------------------------------------------------------------
# The body is JSON with ${...} placeholders that Fn::Sub fills in at deploy time (region, stack
# name, queue and function names).


def placeholder(logical_id: str, attribute: str | None = None) -> str:
    return f"${{{logical_id}.{attribute}}}" if attribute else f"${{{logical_id}}}"


REGION = placeholder("AWS::Region")
PIPELINE = placeholder("AWS::StackName")


def pipeline_metric(
    namespace: str, metric: PipelineMetric, fmt: Format | None = None, **options: Any
) -> list[Any]:
    """A dashboard metric line of one of the handlers' metrics, with its exact dimensions."""
    line: list[Any] = [namespace, str(metric), contract.DIMENSION_PIPELINE, PIPELINE]
    if fmt is not None:
        line += [contract.DIMENSION_FORMAT, str(fmt)]
    return [*line, options] if options else line


def queue_metric(metric_name: str, queue_id: str, label: str) -> list[Any]:
    return [
        SQS_NAMESPACE,
        metric_name,
        "QueueName",
        placeholder(queue_id, "QueueName"),
        {"label": label},
    ]


def function_metric(metric_name: str, function_id: str, **options: Any) -> list[Any]:
    return [
        LAMBDA_NAMESPACE,
        metric_name,
        "FunctionName",
        placeholder(function_id),
        {"label": f"{FUNCTION_LABELS[function_id]} {metric_name.lower()}", **options},
    ]


@dataclass(frozen=True)
class Graph:
    """One time-series widget of the dashboard."""

    title: str
    metrics: list[list[Any]]
    stat: str = "Sum"
    y_label: str = "Count"
    thresholds: Sequence[tuple[str, float]] = field(default_factory=tuple)

    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "title": self.title,
            "region": REGION,
            "view": "timeSeries",
            "stacked": False,
            "period": DASHBOARD_PERIOD_SECONDS,
            "stat": self.stat,
            "metrics": self.metrics,
            "yAxis": {"left": {"label": self.y_label, "min": 0, "showUnits": False}},
        }
        if self.thresholds:
            props["annotations"] = {
                "horizontal": [{"label": label, "value": value} for label, value in self.thresholds]
            }
        return props


FAILURE_RATE_INPUTS: tuple[tuple[str, PipelineMetric], ...] = (
    ("failures", PipelineMetric.MEDIACONVERT_JOB_FAILURES),
    ("processed", PipelineMetric.DAILY_PROCESSED_COUNT),
    ("failed", PipelineMetric.ASSETS_FAILED),
)


def failure_rate_expression() -> str:
    # No finished asset in the period means no rate, not a division by zero.
    finished = "(FILL(processed, 0) + FILL(failed, 0))"
    return f"IF({finished} > 0, 100 * FILL(failures, 0) / {finished}, 0)"


def failure_rate_metrics(namespace: str) -> list[list[Any]]:
    """The job failure rate as dashboard metric math (same formula as the alarm)."""
    return [
        [
            {
                "expression": failure_rate_expression(),
                "label": "Job failures per finished asset (%)",
                "id": "rate",
            }
        ],
        *(
            pipeline_metric(namespace, metric, id=metric_id, visible=False)
            for metric_id, metric in FAILURE_RATE_INPUTS
        ),
    ]


def graphs(profile: Profile) -> list[Graph]:
    namespace = _refs.metrics_namespace(profile)
    alarms = profile.alarms
    formats = job_formats(profile)
    functions = sorted(FUNCTION_LABELS)
    return [
        Graph(
            "Processing queue: uploads waiting and in flight",
            [
                queue_metric("ApproximateNumberOfMessagesVisible", ids.PROCESSING_QUEUE, "waiting"),
                queue_metric(
                    "ApproximateNumberOfMessagesNotVisible", ids.PROCESSING_QUEUE, "in flight"
                ),
            ],
            stat="Maximum",
            thresholds=[("depth alarm", alarms.queue_depth)],
        ),
        Graph(
            "Processing queue: age of the oldest upload",
            [queue_metric("ApproximateAgeOfOldestMessage", ids.PROCESSING_QUEUE, "oldest (s)")],
            stat="Maximum",
            y_label="Seconds",
            thresholds=[("age alarm", alarms.oldest_message_age_seconds)],
        ),
        Graph(
            "Dead-letter queues (should stay at 0)",
            [
                queue_metric("ApproximateNumberOfMessagesVisible", queue_id, label)
                for queue_id, label in sorted(DEAD_LETTER_LABELS.items())
            ],
            stat="Maximum",
        ),
        Graph(
            "Assets",
            [
                pipeline_metric(namespace, metric)
                for metric in (
                    PipelineMetric.ASSETS_RECEIVED,
                    PipelineMetric.INVALID_UPLOADS,
                    PipelineMetric.INGEST_TRANSIENT_FAILURES,
                    PipelineMetric.DAILY_PROCESSED_COUNT,
                    PipelineMetric.ASSETS_FAILED,
                    PipelineMetric.THUMBNAILS_GENERATED,
                )
            ],
        ),
        Graph(
            "Jobs submitted per format",
            [pipeline_metric(namespace, PipelineMetric.JOBS_SUBMITTED, f) for f in formats],
        ),
        *capacity_graphs(profile, namespace),
        Graph(
            "Jobs succeeded and failed per format",
            [
                pipeline_metric(namespace, metric, f)
                for metric in (PipelineMetric.FORMAT_SUCCEEDED, PipelineMetric.FORMAT_FAILED)
                for f in formats
            ],
        ),
        Graph(
            "MediaConvert job failures and retries",
            [
                pipeline_metric(namespace, PipelineMetric.MEDIACONVERT_JOB_FAILURES),
                pipeline_metric(namespace, PipelineMetric.JOB_RETRIES),
            ],
        ),
        Graph(
            "Safety net: stuck assets, reconciled assets, handler crashes, canceled jobs",
            [
                pipeline_metric(namespace, metric)
                for metric in (
                    PipelineMetric.STUCK_ASSETS,
                    PipelineMetric.ASSETS_RECONCILED,
                    PipelineMetric.HANDLER_CRASHES,
                    PipelineMetric.JOBS_CANCELED,
                )
            ],
            thresholds=[("stuck assets alarm", profile.reliability.stuck_alarm_threshold)],
        ),
        Graph(
            "Job failure rate",
            failure_rate_metrics(namespace),
            y_label="Percent",
            thresholds=[("failure rate alarm", alarms.job_failure_rate_percent)],
        ),
        Graph(
            "Job latency: upload to final state, and transcoding time",
            [
                pipeline_metric(namespace, metric, stat=stat, label=f"{label} {stat}")
                for metric, label in (
                    (PipelineMetric.JOB_LATENCY, "upload to final state"),
                    (PipelineMetric.JOB_DURATION, "job duration"),
                )
                for stat in ("p50", "p90", "Maximum")
            ],
            stat="p50",
            y_label="Seconds",
        ),
        Graph(
            "Lambda errors and throttles",
            [
                function_metric(metric_name, function_id)
                for function_id in functions
                for metric_name in ("Errors", "Throttles")
            ],
            thresholds=[("errors alarm", alarms.lambda_errors)],
        ),
        Graph(
            "Lambda duration",
            [
                function_metric(
                    "Duration",
                    function_id,
                    stat=stat,
                    label=f"{FUNCTION_LABELS[function_id]} {stat}",
                )
                for function_id in functions
                for stat in ("p50", "p99", "Maximum")
            ],
            stat="p50",
            y_label="Milliseconds",
        ),
    ]


def capacity_graphs(profile: Profile, namespace: str) -> list[Graph]:
    """A capacity section's queues: each one's jobs in flight against its budget (and reserved
    slots: in flight above them is the queue's backlog), and the jobs put off because every
    queue of their route was full."""
    capacity = profile.capacity
    if capacity is None:
        return []
    graphs = []
    for name, budget in capacity.budgets().items():
        existing = capacity.queues.get(name)
        slots = existing.reserved_slots if existing else None
        line = [*pipeline_metric(namespace, PipelineMetric.QUEUE_IN_FLIGHT)]
        line += [contract.DIMENSION_QUEUE, name, {"label": "in flight (backlog above slots)"}]
        graphs.append(
            Graph(
                f"MediaConvert queue {name}: jobs in flight against the budget",
                [line],
                stat="Maximum",
                thresholds=[("budget", budget), *([("reserved slots", slots)] if slots else [])],
            )
        )
    graphs.append(
        Graph(
            "Jobs put off: every queue of their route at its budget",
            [pipeline_metric(namespace, PipelineMetric.CAPACITY_WAITS)],
        )
    )
    if capacity.fallback is not None:
        graphs.append(
            Graph(
                f"Fallback to {capacity.fallback.region}: breaker openings",
                [pipeline_metric(namespace, PipelineMetric.FALLBACK_ACTIVATIONS)],
            )
        )
    return graphs


def dashboard_body(profile: Profile) -> str:
    """The dashboard's JSON (with Sub placeholders), laid out two graphs to a row."""
    header = {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": 24,
        "height": 2,
        "properties": {
            "markdown": (
                f"## Media pipeline {PIPELINE}\n"
                "Uploads flow from the processing queue through MediaConvert to the MediaAssets "
                "table. Alarms notify the alarm topic; see docs/operations.md for what to do."
            )
        },
    }
    widgets: list[dict[str, Any]] = [header]
    width, height = 12, 6
    for index, graph in enumerate(graphs(profile)):
        widgets.append(
            {
                "type": "metric",
                "x": (index % 2) * width,
                "y": 2 + (index // 2) * height,
                "width": width,
                "height": height,
                "properties": graph.properties(),
            }
        )
    return json.dumps({"widgets": widgets}, sort_keys=True, separators=(",", ":"))


def dashboard_name() -> Sub:
    # Dashboard names are unique per account across regions: the region keeps a stack of the
    # same name in another region from colliding.
    return Sub("${AWS::StackName}-${AWS::Region}")


def dashboard(ctx: BuildContext) -> Dashboard:
    return Dashboard(
        ids.DASHBOARD,
        DashboardName=dashboard_name(),
        DashboardBody=Sub(dashboard_body(ctx.profile)),
        Tags=_refs.tags(ctx),
    )


def dashboard_url() -> Sub:
    # The console's host name is not the partition's API URL suffix, so AWS::URLSuffix does not
    # apply; the region parameter opens the dashboard in the stack's region.
    return Sub(
        "https://console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
        f"#dashboards:name=${{{ids.DASHBOARD}}}"
    )


# --- Alarms ---------------------------------------------------------------------------------


def pipeline_alarm(
    ctx: BuildContext, logical_id: str, description: str, **properties: Any
) -> Alarm:
    """An alarm of this pipeline: tagged, notifying the alarm topic as it fires and recovers."""
    return Alarm(
        logical_id,
        AlarmDescription=description,
        AlarmActions=[Ref(ids.ALARM_TOPIC)],
        OKActions=[Ref(ids.ALARM_TOPIC)],
        Tags=_refs.tags(ctx),
        **properties,
    )


def queue_alarm(
    ctx: BuildContext,
    logical_id: str,
    queue_id: str,
    metric_name: str,
    threshold: float,
    description: str,
    sustained_minutes: int,
) -> Alarm:
    """An alarm on an SQS metric, breaching when every minute of the window breaches."""
    return pipeline_alarm(
        ctx,
        logical_id,
        description,
        Namespace=SQS_NAMESPACE,
        MetricName=metric_name,
        Dimensions=[MetricDimension(Name="QueueName", Value=GetAtt(queue_id, "QueueName"))],
        Statistic="Maximum",
        Period=ONE_MINUTE,
        EvaluationPeriods=sustained_minutes,
        DatapointsToAlarm=sustained_minutes,
        Threshold=threshold,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        # A queue with no traffic publishes no data: nothing waiting, nothing wrong.
        TreatMissingData="notBreaching",
    )


def queue_alarms(ctx: BuildContext) -> list[Alarm]:
    alarms = ctx.profile.alarms
    minutes = alarms.evaluation_minutes
    found = [
        queue_alarm(
            ctx,
            ids.QUEUE_DEPTH_ALARM,
            ids.PROCESSING_QUEUE,
            "ApproximateNumberOfMessagesVisible",
            alarms.queue_depth,
            f"At least {alarms.queue_depth} uploads have waited in the processing queue for "
            f"{minutes} min: processing is behind (concurrency, MediaConvert throttling).",
            minutes,
        ),
        queue_alarm(
            ctx,
            ids.QUEUE_AGE_ALARM,
            ids.PROCESSING_QUEUE,
            "ApproximateAgeOfOldestMessage",
            alarms.oldest_message_age_seconds,
            f"An upload has waited {alarms.oldest_message_age_seconds} s or more in the "
            "processing queue: uploads are being retried or the orchestrator is not draining.",
            minutes,
        ),
    ]
    for queue_id, alarm_id in sorted(DEAD_LETTER_ALARMS.items()):
        found.append(
            queue_alarm(
                ctx,
                alarm_id,
                queue_id,
                "ApproximateNumberOfMessagesVisible",
                1,
                f"The {queue_id} holds {DEAD_LETTER_LABELS[queue_id]}: inspect and redrive.",
                1,
            )
        )
    return found


def job_failure_rate_alarm(ctx: BuildContext) -> Alarm:
    namespace = _refs.metrics_namespace(ctx.profile)
    alarms = ctx.profile.alarms
    period = alarms.evaluation_minutes * ONE_MINUTE
    inputs = [
        MetricDataQuery(
            Id=metric_id,
            MetricStat=MetricStat(
                Metric=Metric(
                    Namespace=namespace,
                    MetricName=str(metric),
                    Dimensions=[
                        MetricDimension(Name=contract.DIMENSION_PIPELINE, Value=_refs.pipeline_id())
                    ],
                ),
                Period=period,
                Stat="Sum",
            ),
            ReturnData=False,
        )
        for metric_id, metric in FAILURE_RATE_INPUTS
    ]
    rate = MetricDataQuery(
        Id="rate",
        Expression=failure_rate_expression(),
        Label="MediaConvert job failures per finished asset (%)",
        ReturnData=True,
    )
    return pipeline_alarm(
        ctx,
        ids.JOB_FAILURE_RATE_ALARM,
        f"More than {alarms.job_failure_rate_percent}% MediaConvert job failures per finished "
        f"asset over {alarms.evaluation_minutes} min: check the job errors in the MediaConvert "
        "job log and the failed assets.",
        Metrics=[rate, *inputs],
        EvaluationPeriods=1,
        Threshold=alarms.job_failure_rate_percent,
        ComparisonOperator="GreaterThanThreshold",
        # No finished assets means no failures to rate.
        TreatMissingData="notBreaching",
    )


def function_error_alarm(ctx: BuildContext, function_id: str) -> Alarm:
    alarms = ctx.profile.alarms
    return pipeline_alarm(
        ctx,
        FUNCTION_ERROR_ALARMS[function_id],
        f"The {FUNCTION_LABELS[function_id]} function failed {alarms.lambda_errors} or more "
        f"times in {alarms.evaluation_minutes} min: read its log group.",
        Namespace=LAMBDA_NAMESPACE,
        MetricName="Errors",
        Dimensions=[MetricDimension(Name="FunctionName", Value=Ref(function_id))],
        Statistic="Sum",
        Period=alarms.evaluation_minutes * ONE_MINUTE,
        EvaluationPeriods=1,
        Threshold=alarms.lambda_errors,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


def stuck_assets_alarm(ctx: BuildContext) -> Alarm:
    """Fires when a reconciler run finds assets that nothing finished in time.

    The reconciler finishes them itself; the alarm says that some path (a handler bug, an
    outage) left them behind and is worth finding. A period of one schedule interval holds one
    run's count; no run, no data, which is not a breach (the errors alarm covers a failing run).
    """
    profile = ctx.profile
    threshold = profile.reliability.stuck_alarm_threshold
    minutes = profile.reliability.reconcile_every_minutes
    return pipeline_alarm(
        ctx,
        ids.STUCK_ASSETS_ALARM,
        f"The reconciler found {threshold} or more assets not final "
        f"{profile.stuck_after_seconds // 60} min after their last update: it finishes them; "
        "find what left them behind (docs/operations.md, StuckAssets).",
        Namespace=_refs.metrics_namespace(profile),
        MetricName=str(PipelineMetric.STUCK_ASSETS),
        Dimensions=[MetricDimension(Name=contract.DIMENSION_PIPELINE, Value=_refs.pipeline_id())],
        Statistic="Maximum",
        Period=minutes * ONE_MINUTE,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


def fallback_alarm(ctx: BuildContext) -> Alarm:
    """Fires when the regional fallback's breaker opens: jobs now go to the secondary region."""
    profile = ctx.profile
    assert profile.capacity is not None and profile.capacity.fallback is not None
    fallback = profile.capacity.fallback
    return pipeline_alarm(
        ctx,
        ids.FALLBACK_ALARM,
        f"The primary region kept failing CreateJob: jobs go to {fallback.region} for "
        f"{fallback.open_seconds // 60} min at a time, until a probe succeeds "
        "(docs/operations.md, Regional fallback).",
        Namespace=_refs.metrics_namespace(profile),
        MetricName=str(PipelineMetric.FALLBACK_ACTIVATIONS),
        Dimensions=[MetricDimension(Name=contract.DIMENSION_PIPELINE, Value=_refs.pipeline_id())],
        Statistic="Sum",
        Period=5 * ONE_MINUTE,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


def reconciler_errors_alarm(ctx: BuildContext) -> Alarm:
    """Fires when ``RECONCILER_FAILED_RUNS`` scheduled runs in a row fail.

    One failed run is harmless (the next one redoes its work); runs that keep failing mean
    nothing finishes stuck assets or owed announcements.
    """
    period = ctx.profile.reliability.reconcile_every_minutes * ONE_MINUTE
    return pipeline_alarm(
        ctx,
        ids.RECONCILER_ERRORS_ALARM,
        f"The reconciler failed on {RECONCILER_FAILED_RUNS} scheduled runs in a row: nothing "
        "is finishing stuck assets or owed announcements; read its log group.",
        Namespace=LAMBDA_NAMESPACE,
        MetricName="Errors",
        Dimensions=[MetricDimension(Name="FunctionName", Value=Ref(ids.RECONCILER_FUNCTION))],
        Statistic="Sum",
        Period=period,
        EvaluationPeriods=RECONCILER_FAILED_RUNS,
        DatapointsToAlarm=RECONCILER_FAILED_RUNS,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


def build(ctx: BuildContext) -> None:
    ctx.add(dashboard(ctx))
    for alarm in queue_alarms(ctx):
        ctx.add(alarm)
    ctx.add(job_failure_rate_alarm(ctx))
    ctx.add(stuck_assets_alarm(ctx))
    for function_id in sorted(FUNCTION_ERROR_ALARMS):
        ctx.add(function_error_alarm(ctx, function_id))
    ctx.add(reconciler_errors_alarm(ctx))
    if ctx.profile.capacity is not None and ctx.profile.capacity.fallback is not None:
        ctx.add(fallback_alarm(ctx))
    ctx.output(ids.O_DASHBOARD_URL, dashboard_url(), "CloudWatch dashboard of the pipeline.")
