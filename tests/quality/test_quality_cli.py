"""The data-quality gate end to end: quarantine, preview, report, release; conflicting duplicates."""

from __future__ import annotations

import csv
import io


def _hottest(demo) -> str:
    plans = demo.json("handoff", "preview", "--format", "json")
    return [p for p in plans if p["action"] == "create_task"][0]["email"]


def test_a_free_mail_hot_lead_is_quarantined_then_released(demo):
    hot = _hottest(demo)
    free = hot.split("@")[0] + "@gmail.com"
    demo.replace_in_data(hot, free)
    demo.configure('[quality]\nfree_mail = "quarantine"\n')

    preview = {p["email"]: p for p in demo.json("handoff", "preview", "--format", "json")}
    assert preview[free]["action"] == "quarantined"
    assert "free_mail" in preview[free]["detail"] and "gmail.com" in preview[free]["detail"]

    summary = demo.json("sync", "run", "--json")
    assert summary["exit_status"] == 0 and summary["tasks_created"] > 0
    assert free not in demo.out("tasks.csv"), "no task"
    assert free not in demo.out("scores.csv"), "no write-back"

    report = demo.json("report", "quality", "--format", "json")
    assert {"rule": "free_mail", "action": "quarantine", "leads": 1} in report["rules"]
    assert {"email": free, "rules": ["free_mail"], "action": "quarantine"}.items() <= \
        {k: v for k, v in [e for e in report["leads"] if e["email"] == free][0].items()}.items()

    released = demo.invoke("quality", "release", free, "--by", "yamada")
    assert released.exit_code == 0 and "yamada" in released.output
    entry = [e for e in demo.json("report", "quality", "--format", "json")["leads"] if e["email"] == free][0]
    assert entry["action"] == "released" and entry["released_by"] == "yamada" and entry["released_at"] > 0

    after = demo.json("sync", "run", "--json")
    assert after["tasks_created"] == 1
    assert free in demo.out("tasks.csv") and free in demo.out("scores.csv")
    again = demo.json("sync", "run", "--json")
    assert again["tasks_created"] == 0


def test_release_of_an_unknown_or_clean_lead_is_an_error(demo):
    demo.json("sync", "run", "--json")
    assert demo.invoke("quality", "release", "nobody@nowhere.jp").exit_code == 2
    first = demo.out("tasks.csv").splitlines()[1].split(",")[1]
    result = demo.invoke("quality", "release", first)
    assert result.exit_code == 2 and "not quarantined" in result.output


def test_two_records_of_one_person_with_different_companies_are_a_conflict(demo):
    leads = demo.folder / "data" / "leads.csv"
    rows = list(csv.DictReader(io.StringIO(leads.read_text(encoding="utf-8-sig"))))
    person = rows[5]
    twin = dict(person, id="L99999", company="まったく別の商事株式会社", title="部長")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(person))
    writer.writeheader()
    writer.writerows([*rows, twin])
    leads.write_text(buffer.getvalue(), encoding="utf-8-sig")

    demo.json("sync", "run", "--json")
    report = demo.json("report", "quality", "--format", "json")
    email = person["email"].lower()
    entry = [e for e in report["leads"] if e["email"] == email][0]
    assert entry["rules"] == ["conflict"] and entry["action"] == "warn"
    detail = entry["details"][0]["detail"]
    assert "まったく別の商事株式会社" in detail and person["company"] in detail
    assert {"rule": "conflict", "action": "warn", "leads": 1} in report["rules"]
    table = demo.invoke("report", "quality")
    assert "conflict" in table.output
    text = demo.invoke("report", "quality", "--format", "csv").output
    assert text.startswith("\ufeffemail,") and email in text


def test_a_notation_difference_is_not_a_conflict(demo):
    leads = demo.folder / "data" / "leads.csv"
    rows = list(csv.DictReader(io.StringIO(leads.read_text(encoding="utf-8-sig"))))
    person = [r for r in rows if "株式会社" in r["company"]][0]
    twin = dict(person, id="L99998", company=person["company"].replace("株式会社", "（株）"))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(person))
    writer.writeheader()
    writer.writerows([*rows, twin])
    leads.write_text(buffer.getvalue(), encoding="utf-8-sig")
    demo.json("sync", "run", "--json")
    report = demo.json("report", "quality", "--format", "json")
    assert person["email"].lower() not in {e["email"] for e in report["leads"]}
