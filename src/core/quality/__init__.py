"""The data-quality gate: rules checked before any handoff or write-back (docs/quality.md)."""

from __future__ import annotations

from leadsync.core.quality.gate import (
    Verdict,
    check,
    held,
    quality_report,
    quarantining_rules,
    record_conflicts,
    release_lead,
)
from leadsync.core.quality.rules import Finding, conflicts, findings

__all__ = ["Finding", "Verdict", "check", "conflicts", "held", "findings", "quality_report",
           "quarantining_rules", "record_conflicts", "release_lead"]
