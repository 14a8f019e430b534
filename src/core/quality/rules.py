"""The data-quality rules: what each one finds in a lead (docs/quality.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from leadsync.core.config import QualitySettings
from leadsync.core.models import Lead
from leadsync.core.normalize import nfkc, normalize_company

__all__ = ["CONFLICT_FIELDS", "FREE_MAIL_DOMAINS", "RULES", "ROLE_PREFIXES", "TEST_MARKERS", "Finding",
           "conflicts", "findings"]

# Consumer mailbox providers: a B2B lead from one of these names no company. Extend with
# [quality] free_mail_domains.
FREE_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.jp", "ymail.com", "ymail.ne.jp", "rocketmail.com",
    "icloud.com", "me.com", "mac.com", "outlook.com", "outlook.jp", "hotmail.com", "hotmail.co.jp",
    "live.com", "live.jp", "msn.com", "aol.com", "aol.jp", "protonmail.com", "proton.me", "gmx.com", "gmx.net",
    "mail.com", "yandex.com", "yandex.ru", "qq.com", "163.com", "126.com", "naver.com", "hanmail.net",
    "docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp", "disney.ne.jp",
    "nifty.com", "biglobe.ne.jp", "ocn.ne.jp", "so-net.ne.jp", "excite.co.jp", "infoseek.jp", "goo.jp",
    "livedoor.com", "zoho.jp", "tutanota.com",
})

# Shared mailboxes rather than a person. Extend with [quality] role_prefixes.
ROLE_PREFIXES = frozenset({
    "info", "information", "sales", "support", "contact", "contactus", "admin", "administrator", "office",
    "webmaster", "postmaster", "hostmaster", "noreply", "no-reply", "donotreply", "marketing", "hr", "recruit",
    "saiyo", "jinji", "soumu", "eigyo", "toiawase", "otoiawase", "inquiry", "inquiries", "help", "helpdesk",
    "service", "customer", "team", "billing", "accounting", "keiri", "press", "pr", "mail", "all", "staff",
})

# Words that mark test or dummy records (matched as whole words in names, company and e-mail).
TEST_MARKERS = frozenset({"test", "tests", "testing", "dummy", "sample", "テスト", "てすと", "ダミー", "サンプル",
                          "試験", "asdf", "qwerty", "hoge", "fuga"})
# Reserved example domains (the domain itself) and reserved top-level domains.
TEST_DOMAINS = frozenset({"example.com", "example.net", "example.org", "example.jp", "example.co.jp", "test.com"})
TEST_TLDS = (".test", ".example", ".invalid", ".localhost")

CONFLICT_FIELDS = ("company", "title")

# rule name -> the QualitySettings field that holds its action
RULES = {
    "free_mail": "free_mail",
    "role_address": "role_address",
    "required_fields": "required_fields",
    "test_data": "test_data",
    "competitor": "competitor",
    "conflict": "conflict",
}


@dataclass(frozen=True)
class Finding:
    rule: str
    action: str  # "warn" | "quarantine"
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "action": self.action, "detail": self.detail}


def _domain(email: str | None) -> tuple[str, str]:
    if not email or "@" not in email:
        return "", ""
    local, _, domain = email.rpartition("@")
    return local.casefold(), domain.casefold().rstrip(".")


def _in_domains(domain: str, domains: set[str]) -> str | None:
    """The listed domain `domain` is, or is a subdomain of."""
    for listed in domains:
        if domain == listed or domain.endswith("." + listed):
            return listed
    return None


def _words(text: str | None) -> list[str]:
    folded = (nfkc(text) or "").casefold()
    return [w for w in re.split(r"[\s@._\-+/,()（）・「」]+", folded) if w]


def _test_marker(lead: Lead, markers: set[str]) -> str | None:
    texts = [lead.first_name, lead.last_name, lead.company, (lead.email or "").split("@")[0]]
    for text in texts:
        folded = (nfkc(text) or "").casefold()
        for word in _words(text):
            if word in markers or re.sub(r"\d+$", "", word) in markers:
                return word
        for marker in markers:  # Japanese markers are not space-separated: テスト株式会社
            if not marker.isascii() and marker in folded:
                return marker
    _, domain = _domain(lead.email)
    if domain in TEST_DOMAINS or domain.endswith(TEST_TLDS):
        return domain
    return None


def conflicts(views: list[tuple[str, str, Lead]]) -> dict[str, list[dict[str, Any]]]:
    """Fields on which one person's records disagree: {field: [{connection, record_id, value}]}.

    Values are compared normalized (NFKC, case, 株式会社 and other legal forms), so notation
    differences are not conflicts; empty values never are.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    if len(views) < 2:
        return found
    for name in CONFLICT_FIELDS:
        seen = []
        for connection, record_id, lead in views:
            value = getattr(lead, name)
            if value in (None, ""):
                continue
            norm = normalize_company(value) if name == "company" else (nfkc(value) or "")
            seen.append((re.sub(r"\s+", "", (norm or "").casefold()), connection, record_id, value))
        if len({s[0] for s in seen}) > 1:
            found[name] = [{"connection": c, "record_id": r, "value": v} for _, c, r, v in seen]
    return found


def findings(lead: Lead, settings: QualitySettings,
             lead_conflicts: dict[str, list[dict[str, Any]]] | None = None) -> list[Finding]:
    """Every rule the lead breaks whose action is not `off`."""
    found: list[Finding] = []
    local, domain = _domain(lead.email)

    def hit(rule: str, detail: str) -> None:
        action = getattr(settings, RULES[rule])
        if action != "off":
            found.append(Finding(rule, action, detail))

    free = _in_domains(domain, set(FREE_MAIL_DOMAINS) | {d.casefold() for d in settings.free_mail_domains})
    if free:
        hit("free_mail", f"free-mail domain {free}")
    prefixes = set(ROLE_PREFIXES) | {p.casefold() for p in settings.role_prefixes}
    if local and (local in prefixes or local.split("+")[0] in prefixes):
        hit("role_address", f"role address {local}@")
    missing = [name for name in settings.required if getattr(lead, name) in (None, "")]
    if missing:
        hit("required_fields", "missing " + ", ".join(missing))
    marker = _test_marker(lead, set(TEST_MARKERS) | {m.casefold() for m in settings.test_markers})
    if marker:
        hit("test_data", f"test data ({marker})")
    competitor = _in_domains(domain, {c.casefold().lstrip("@") for c in settings.competitors})
    if competitor:
        hit("competitor", f"competitor domain {competitor}")
    if lead_conflicts:
        shown = "; ".join(f"{name}: " + " / ".join(dict.fromkeys(str(v["value"]) for v in values))
                          for name, values in lead_conflicts.items())
        hit("conflict", f"records disagree on {shown}")
    return found
