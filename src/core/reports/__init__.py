"""Reports for people: handoff status (SLA, first touch) and the sales feedback loop."""

from __future__ import annotations

from leadsync.core.reports.feedback import feedback_report
from leadsync.core.reports.handoff_status import handoff_status

__all__ = ["feedback_report", "handoff_status"]
