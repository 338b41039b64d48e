"""Pipeline metrics as CloudWatch Embedded Metric Format log lines (no PutMetricData calls).

The dashboard and alarms read exactly the names in :class:`mediapipe_cfn.contract.Metric` with
the dimension ``Pipeline``; the metrics in ``PER_FORMAT_METRICS`` carry ``Format`` as well, and
are also published under ``Pipeline`` alone so totals need no metric math.

Powertools' EMF provider does the serialisation. Its default ``service`` dimension is turned
off: a dimension the dashboard does not ask for would make these metrics invisible to it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from mediapipe_cfn.contract import (
    DIMENSION_FORMAT,
    DIMENSION_PIPELINE,
    DIMENSION_QUEUE,
    PER_FORMAT_METRICS,
    PER_QUEUE_METRICS,
    Metric,
)


@dataclass
class PipelineMetrics:
    """Collects one invocation's metrics and writes them as EMF when flushed."""

    namespace: str
    pipeline_id: str
    _values: dict[tuple[str | None, str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )
    _per_queue: dict[tuple[str, str], list[float]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def count(self, metric: Metric, value: float = 1, *, job_format: str | None = None) -> None:
        self._add(metric, MetricUnit.Count, value, job_format)

    def per_queue(self, metric: Metric, queue: str, value: float) -> None:
        """A count about one MediaConvert queue (Pipeline and Queue dimensions only)."""
        if metric not in PER_QUEUE_METRICS:
            raise ValueError(f"{metric} is not a per-queue metric")
        self._per_queue[(queue, metric.value)].append(value)

    def seconds(self, metric: Metric, value: float, *, job_format: str | None = None) -> None:
        self._add(metric, MetricUnit.Seconds, max(0.0, value), job_format)

    def _add(self, metric: Metric, unit: MetricUnit, value: float, job_format: str | None) -> None:
        if (metric in PER_FORMAT_METRICS) != (job_format is not None):
            raise ValueError(f"{metric} {'needs' if job_format is None else 'takes no'} format")
        self._values[(job_format, metric.value, unit.value)].append(value)

    def flush(self) -> None:
        """Print one EMF document per dimension set, then forget what was printed."""
        by_format: dict[str | None, list[tuple[str, str, list[float]]]] = defaultdict(list)
        for (job_format, name, unit), values in sorted(
            self._values.items(), key=lambda item: (item[0][0] or "", item[0][1])
        ):
            by_format[job_format].append((name, unit, values))
        for job_format, metrics in by_format.items():
            provider = AmazonCloudWatchEMFProvider(namespace=self.namespace, service="")
            provider.add_dimension(DIMENSION_PIPELINE, self.pipeline_id)
            if job_format is not None:
                provider.add_dimension(DIMENSION_FORMAT, job_format)
                provider.add_dimensions(**{DIMENSION_PIPELINE: self.pipeline_id})
            for name, unit, values in metrics:
                for value in values:
                    provider.add_metric(name=name, unit=unit, value=value)
            provider.flush_metrics()
        self._values.clear()
        for (queue, name), values in sorted(self._per_queue.items()):
            provider = AmazonCloudWatchEMFProvider(namespace=self.namespace, service="")
            provider.add_dimension(DIMENSION_PIPELINE, self.pipeline_id)
            provider.add_dimension(DIMENSION_QUEUE, queue)
            for value in values:
                provider.add_metric(name=name, unit=MetricUnit.Count, value=value)
            provider.flush_metrics()
        self._per_queue.clear()
