"""The Dagster side: a partitioned asset over leadsync projects, its job, a schedule, `Definitions`.

Each partition is one project (keyed by its name); materializing it runs that project's sync once
in the step's process. Exit 0 succeeds; 1 (dead letters) and 6 (writes wait in the outbox) succeed
with a warning; 2, 3, 4 and 5 raise `dagster.Failure` (no retry) with the summary as metadata;
7 (interrupted between batches) raises `RetryRequested`, and the retry resumes the run.
"""

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryRequested,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    schedule,
)

from leadsync_dagster.projects import Project, projects_from
from leadsync_dagster.runner import Outcome, Verdict, run_project

if TYPE_CHECKING:  # the class define_asset_job returns; not exported by dagster itself
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

__all__ = ["leadsync_definitions", "outcome_metadata", "project_assets", "sync_asset", "sync_job", "sync_schedule"]

_ASSET_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_COUNTS = ("scored", "segment_changes", "scores_planned", "scores_pushed", "tasks_planned", "tasks_created",
           "dead_lettered", "waiting_activities", "waiting_opportunities", "leads_removed", "retry_later", "duplicates_removed")


def outcome_metadata(outcome: Outcome) -> dict[str, Any]:
    """Dagster metadata for a run: the `sync run --json` counts, exit status, verdict, project."""
    s = outcome.summary
    meta: dict[str, Any] = {
        "project": outcome.project.name,
        "config": MetadataValue.path(str(outcome.project.config)),
        "exit_status": outcome.exit_status,
        "verdict": outcome.verdict.value,
        "summary": MetadataValue.json(json.loads(json.dumps(s, default=str))),
    }
    if s.get("run_id") is not None:
        meta["run_id"] = int(s["run_id"])
    for key in _COUNTS:
        if key in s:
            meta[key] = int(s[key])
    if "pulled" in s:
        meta["pulled"] = MetadataValue.json(s["pulled"])
        meta["records_pulled"] = sum(n for streams in s["pulled"].values() for n in streams.values())
    if s.get("failures"):
        meta["failures"] = MetadataValue.json(s["failures"])
    if s.get("interrupted"):
        meta["interrupted"] = str(s["interrupted"])
    if outcome.error:
        meta["error"] = outcome.error
    if "duration_s" in s:
        meta["duration_s"] = float(s["duration_s"])
    return meta


def _forward(context: AssetExecutionContext) -> Any:
    def forward(level: int, line: str) -> None:
        (context.log.error if level >= logging.ERROR else context.log.warning if level >= logging.WARNING
         else context.log.info)(line)
    return forward


def _materialize(context: AssetExecutionContext, project: Project, max_duration_s: float | None, retries: int,
                 retry_wait_s: float) -> MaterializeResult:
    """Run the project's sync and turn its exit status into what Dagster does (module docstring)."""
    outcome = run_project(project, max_duration_s=max_duration_s, log=_forward(context))
    metadata = outcome_metadata(outcome)
    if outcome.verdict is Verdict.FAILURE:
        raise Failure(description=outcome.describe(), metadata=metadata, allow_retries=False)
    if outcome.verdict is Verdict.RETRY:
        context.log.warning(outcome.describe() + "; retrying: the next attempt resumes where this one stopped")
        raise RetryRequested(max_retries=retries, seconds_to_wait=retry_wait_s)
    if outcome.verdict is Verdict.WARNING:
        context.log.warning(outcome.describe())
    else:
        context.log.info(outcome.describe())
    return MaterializeResult(metadata=metadata)


def sync_asset(projects: Iterable[str | Path] | Mapping[str, str | Path], *, name: str = "leadsync_sync",
               group_name: str = "leadsync", max_duration_minutes: float | None = None, retries: int = 3,
               retry_wait_s: float = 60.0) -> AssetsDefinition:
    """An asset partitioned by project: materializing a partition runs that project's sync once.

    `max_duration_minutes` stops a run between batches after that long (like `--max-duration`);
    the interrupted run is retried up to `retries` times, `retry_wait_s` apart, each resuming it.
    """
    by_name = {p.name: p for p in projects_from(projects)}
    max_duration_s = max_duration_minutes * 60 if max_duration_minutes else None

    @asset(name=name, group_name=group_name, partitions_def=StaticPartitionsDefinition(list(by_name)),
           description="One leadsync sync run of the partition's project (pull, score, hand off, push).")
    def _sync(context: AssetExecutionContext) -> MaterializeResult:
        return _materialize(context, by_name[context.partition_key], max_duration_s, retries, retry_wait_s)

    return _sync


def project_assets(projects: Iterable[str | Path] | Mapping[str, str | Path], *, prefix: str = "leadsync_",
                   group_name: str = "leadsync", max_duration_minutes: float | None = None, retries: int = 3,
                   retry_wait_s: float = 60.0) -> list[AssetsDefinition]:
    """One unpartitioned asset per project (`leadsync_<name>`), for a job that syncs every project
    in one run; under Dagster's multiprocess executor they run in parallel, a process each."""
    max_duration_s = max_duration_minutes * 60 if max_duration_minutes else None

    def build(project: Project) -> AssetsDefinition:
        @asset(name=prefix + _ASSET_UNSAFE.sub("_", project.name), group_name=group_name,
               description=f"One leadsync sync run of {project.name} ({project.config}).")
        def _sync(context: AssetExecutionContext) -> MaterializeResult:
            return _materialize(context, project, max_duration_s, retries, retry_wait_s)

        return _sync

    return [build(project) for project in projects_from(projects)]


def sync_job(assets_def: AssetsDefinition, *, name: str | None = None) -> "UnresolvedAssetJobDefinition":
    """The job that materializes `assets_def`, one partition (project) per run."""
    return define_asset_job(name or f"{assets_def.key.to_user_string()}_job", selection=[assets_def])


def sync_schedule(job: "UnresolvedAssetJobDefinition", assets_def: AssetsDefinition, cron_schedule: str, *,
                  name: str | None = None, execution_timezone: str = "Asia/Tokyo") -> ScheduleDefinition:
    """A schedule that requests one run per project at each tick (run key: project and tick time).

    Overlap is harmless: a run that finds its project's previous run still going exits 3 and fails
    fast. Pick a cron interval longer than a typical run.
    """
    keys = list(assets_def.partitions_def.get_partition_keys()) if assets_def.partitions_def else []

    @schedule(name=name or f"{job.name}_schedule", cron_schedule=cron_schedule, job=job,
              execution_timezone=execution_timezone)
    def _tick(context: ScheduleEvaluationContext) -> Iterator[RunRequest]:
        stamp = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
        for key in keys:
            yield RunRequest(run_key=f"{key}@{stamp}", partition_key=key)

    return _tick


def leadsync_definitions(projects: Iterable[str | Path] | Mapping[str, str | Path], *,
                         cron_schedule: str | None = "*/15 * * * *", execution_timezone: str = "Asia/Tokyo",
                         name: str = "leadsync_sync", max_duration_minutes: float | None = None,
                         retries: int = 3, retry_wait_s: float = 60.0) -> Definitions:
    """`Definitions` for a code location: the asset over `projects`, its job and (unless
    `cron_schedule` is None) a schedule running every project at each tick."""
    assets_def = sync_asset(projects, name=name, max_duration_minutes=max_duration_minutes, retries=retries,
                            retry_wait_s=retry_wait_s)
    job = sync_job(assets_def)
    schedules = [sync_schedule(job, assets_def, cron_schedule, execution_timezone=execution_timezone)] \
        if cron_schedule else []
    return Definitions(assets=[assets_def], jobs=[job], schedules=schedules)
