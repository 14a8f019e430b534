"""opportunities.csv of the file connector: one row, one Opportunity (or the reason it is none)."""

from __future__ import annotations

from collections.abc import Mapping

from leadsync.connectors.base import Rejected
from leadsync.connectors.builtin.file_rows import RowContext
from leadsync.core.models import Opportunity, OpportunityStatus
from leadsync.core.normalize import lead_key, nfkc, parse_amount, parse_opportunity_status

__all__ = ["opportunity_from_row", "parse_amount", "parse_status"]

_FIELDS = {"id", "email", "lead_id", "name", "created_at", "stage", "amount", "closed_at", "status", "lost_reason",
           "owner"}


def parse_status(value: str | None) -> OpportunityStatus | None:
    """open / won / lost from 'Closed Won', '受注', '失注' ...; None when unknown."""
    status = parse_opportunity_status(value)
    return OpportunityStatus(status) if status else None


def opportunity_from_row(ctx: RowContext, number: int, values: Mapping[str, str], extra: Mapping[str, str],
                         emails_by_id: Mapping[str, str]) -> Opportunity | Rejected:
    """An Opportunity from one opportunities.csv row; a won or lost one needs its closed_at."""
    payload = {**values, **extra}
    lead = ctx.lead_of(number, values, payload, emails_by_id, "an opportunity")
    if isinstance(lead, Rejected):
        return lead
    email, lead_ref = lead
    source_id = nfkc(values.get("id"))
    if not source_id:
        return ctx.reject(number, f"column {ctx.column('id')}: empty (an opportunity needs its id)", payload)
    try:
        created_at = ctx.when(values, "created_at")
        closed_at = ctx.when(values, "closed_at")
    except ValueError as exc:
        return ctx.reject(number, str(exc), payload)
    if created_at is None:
        return ctx.reject(number, f"column {ctx.column('created_at')}: empty (the creation date is required)", payload)
    raw_status = values.get("status")
    status = parse_status(raw_status) if raw_status else OpportunityStatus.OPEN
    if status is None:
        return ctx.reject(number, f"column {ctx.column('status')}: {raw_status!r} is not open, won or lost", payload)
    if status is not OpportunityStatus.OPEN and closed_at is None:
        return ctx.reject(number, f"column {ctx.column('closed_at')}: empty, but the opportunity is {status.value}",
                          payload)
    amount = None
    if raw_amount := values.get("amount"):
        amount = parse_amount(raw_amount)
        if amount is None:
            return ctx.reject(number, f"column {ctx.column('amount')}: {raw_amount!r} is not an amount", payload)
    details = {name: value for name, value in values.items() if name not in _FIELDS}
    details.update(extra)
    return Opportunity(
        source_id=source_id, connection=ctx.connection, lead_key=lead_key(email, ctx.connection, lead_ref),
        email=email, lead_record_id=lead_ref, name=nfkc(values.get("name")), created_at=created_at,
        stage=nfkc(values.get("stage")), amount=amount, closed_at=closed_at, status=status,
        lost_reason=nfkc(values.get("lost_reason")), owner=nfkc(values.get("owner")), details=details,
    )
