"""Business metrics (Powertools Metrics, CloudWatch EMF): tasks created, ended by status, generation time.

Each is recorded right after the conditional write that made it true, so a retried or raced step,
whose write is refused, never counts twice. Handlers flush with ``@metrics.log_metrics``.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from videotasks.domain.models import TaskStatus, TaskType

NAMESPACE = "videotasks"  # the alarms in template.yaml read this namespace
metrics = Metrics(namespace=NAMESPACE)

_ENDED = {
    TaskStatus.COMPLETED: "TasksCompleted",
    TaskStatus.FAILED: "TasksFailed",
    TaskStatus.CANCELLED: "TasksCancelled",
}


def task_created(task_type: TaskType) -> None:
    metrics.add_metric(name="TasksCreated", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"{task_type.value.title()}TasksCreated", unit=MetricUnit.Count, value=1)


def task_deleted() -> None:
    metrics.add_metric(name="TasksDeleted", unit=MetricUnit.Count, value=1)


def task_ended(status: TaskStatus, *, generation_seconds: float | None = None, error_code: str | None = None) -> None:
    metrics.add_metric(name=_ENDED[status], unit=MetricUnit.Count, value=1)
    if error_code == "TIMEOUT":
        metrics.add_metric(name="TasksTimedOut", unit=MetricUnit.Count, value=1)
    if generation_seconds is not None:
        metrics.add_metric(name="GenerationSeconds", unit=MetricUnit.Seconds, value=generation_seconds)
