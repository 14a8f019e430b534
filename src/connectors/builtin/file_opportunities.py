"""opportunities.csv of the file connector: one row, one Opportunity (or the reason it is none)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from leadsync.connectors.base import Rejected
from leadsync.connectors.builtin.csvfiles import header_key
from leadsync.connectors.builtin.file_rows import RowContext
from leadsync.core.models import Opportunity, OpportunityStatus
from leadsync.core.normalize import lead_key, nfkc, normalize_email

__all__ = ["STATUS_ALIASES", "opportunity_from_row", "parse_amount", "parse_status"]

STATUS_ALIASES: dict[OpportunityStatus, tuple[str, ...]] = {
    OpportunityStatus.OPEN: ("open", "in progress", "active", "商談中", "進行中", "オープン", "検討中", "提案中"),
    OpportunityStatus.WON: ("won", "closed won", "closedwon", "win", "受注", "成約", "契約", "受注済"),
    OpportunityStatus.LOST: ("lost", "closed lost", "closedlost", "lose", "失注", "見送り", "不成立"),
}
_STATUS_INDEX = {header_key(name): status for status, names in STATUS_ALIASES.items()
                 for name in (status.value, *names)}
_FIELDS = {"id", "email", "lead_id", "name", "created_at", "stage", "amount", "closed_at", "status", "lost_reason",
           "owner"}


def parse_status(value: str | None) -> OpportunityStatus | None:
    """open / won / lost from 'Closed Won', '受注', '失注' ...; None when unknown."""
    return _STATUS_INDEX.get(header_key(value)) if value else None


def parse_amount(value: str) -> float | None:
    """A money amount from '1,200,000', '¥1,200,000', '120万円', '1.2億'; None when not a number."""
    text = (nfkc(value) or "").replace(",", "").replace("¥", "").replace("円", "").replace("JPY", "").strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(万|億)?", text)
    if not match:
        return None
    number = float(match.group(1))
    return number * {"万": 10_000, "億": 100_000_000}.get(match.group(2) or "", 1)


def opportunity_from_row(ctx: RowContext, number: int, values: Mapping[str, str], extra: Mapping[str, str],
                         emails_by_id: Mapping[str, str]) -> Opportunity | Rejected:
    """An Opportunity from one opportunities.csv row; a won or lost one needs its closed_at."""
    payload = {**values, **extra}
    raw_email = values.get("email")
    email = normalize_email(raw_email)
    if raw_email and not email:
        return ctx.reject(number, f"column {ctx.column('email')}: {raw_email!r} is not an e-mail address", payload)
    lead_ref = nfkc(values.get("lead_id"))
    if not email and lead_ref:
        email = normalize_email(lead_ref) or emails_by_id.get(lead_ref)
    if not email and not lead_ref:
        return ctx.reject(number, "no email and no lead_id: an opportunity must name its lead", payload)
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
