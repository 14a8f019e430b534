"""leadsync on Dagster: one partitioned asset per set of projects (a partition per leadsync.toml)."""

from leadsync_dagster.definitions import (
    leadsync_definitions,
    outcome_metadata,
    project_assets,
    sync_asset,
    sync_job,
    sync_schedule,
)
from leadsync_dagster.projects import Project, projects_from
from leadsync_dagster.runner import VERDICTS, Outcome, Verdict, run_project, verdict_for

__all__ = [
    "VERDICTS",
    "Outcome",
    "Project",
    "Verdict",
    "leadsync_definitions",
    "outcome_metadata",
    "project_assets",
    "projects_from",
    "run_project",
    "sync_asset",
    "sync_job",
    "sync_schedule",
    "verdict_for",
]
