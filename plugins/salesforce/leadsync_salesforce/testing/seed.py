"""The bundled demo data as a fake Salesforce org: Leads, call Tasks, Events and CampaignMembers."""

from __future__ import annotations

from datetime import datetime

from leadsync.connectors import parse_datetime, parse_employees
from leadsync.connectors.testing import generate_demo

from leadsync_salesforce.testing.fake import SalesforceFake, sf_time

__all__ = ["seed_demo"]


def seed_demo(app: SalesforceFake, anchor: datetime, *, seed: int = 7, leads: int = 300, activities: int = 5000,
              with_fields: bool = True) -> dict[str, str]:
    """The demo leads as Leads, calls as Tasks, meetings as Events, webinars as CampaignMembers."""
    data = generate_demo(anchor, seed=seed, leads=leads, activities=activities, sales=False)
    ids: dict[str, str] = {}
    for row in data.leads:
        stamp = parse_datetime(row.get("updated_at") or row.get("created_at") or anchor.isoformat())
        ids[row["email"]] = app.add("Lead", {
            "Email": row["email"], "FirstName": row.get("first_name") or None, "LastName": row.get("last_name") or "不明",
            "Company": row.get("company") or "不明", "Title": row.get("title") or None, "Phone": row.get("phone") or None,
            "NumberOfEmployees": parse_employees(row.get("employees")), "Industry": row.get("industry") or None,
            "LeadSource": row.get("lead_source") or None, "Status": row.get("status") or "Open - Not Contacted",
            "IsConverted": False}, modstamp=stamp)
    for row in data.activities:
        who = ids.get(row["email"])
        when = parse_datetime(row["occurred_at"])
        if who is None:
            continue
        if row["type"] == "call":
            duration = int(float(row["duration_seconds"])) if row.get("duration_seconds") else None
            app.add("Task", {"WhoId": who, "TaskSubtype": "Call", "Subject": "Call", "Status": "Completed",
                             "CompletedDateTime": sf_time(when), "CallDurationInSeconds": duration,
                             "CallDisposition": row.get("outcome") or None}, modstamp=when)
        elif row["type"] == "meeting":
            app.add("Event", {"WhoId": who, "StartDateTime": sf_time(when), "DurationInMinutes": 60}, modstamp=when)
        elif row["type"] in ("webinar_registered", "webinar_attended"):
            status = "Attended" if row["type"] == "webinar_attended" else "Registered"
            app.add("CampaignMember", {"LeadId": who, "CampaignId": "701000000000001", "Status": status}, modstamp=when)
    if with_fields:
        app.define_leadsync_fields()
    return ids
