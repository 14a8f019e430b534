"""HubSpot's error bodies read for what they say: set-up missing, property problems, full detail.

HubSpot answers a property value it refuses with a 400 whose message embeds the list of problems as
JSON (`Property values were not valid: [{"isValid":false,"message":...,"error":"PROPERTY_DOESNT_EXIST",
"name":"leadsync_score"}]`), and its standard error document may also carry `errors[]` with a `code`
and `context.propertyName`. Both forms are read.
"""

from __future__ import annotations

import json
import re
from typing import Any

from leadsync.connectors import HttpStatusError, SetupMissing

__all__ = ["SETUP_CODES", "error_text", "property_problems", "setup_missing"]

_EMBEDDED = "Property values were not valid:"
# Context entries never copied into a reason: a vendor may echo credentials there.
_SENSITIVE = re.compile(r"auth|password|passwd|secret|token|key|cookie|credential|signature|sig$", re.I)
# Problems that mean the account lacks what `leadsync connections setup` creates.
SETUP_CODES = {"PROPERTY_DOESNT_EXIST", "PROPERTY_GROUP_DOESNT_EXIST", "GROUP_DOESNT_EXIST"}


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [] if value in (None, "") else [str(value)]


def property_problems(body: Any) -> list[dict[str, str]]:
    """[{code, name, message}] of every property problem a HubSpot error body names."""
    if not isinstance(body, dict):
        return []
    found: list[dict[str, str]] = []
    message = str(body.get("message") or "")
    if message.startswith(_EMBEDDED):
        try:
            rows = json.loads(message[len(_EMBEDDED):].strip())
        except ValueError:
            rows = []
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict):
                found.append({"code": str(row.get("error") or ""), "name": str(row.get("name") or ""),
                              "message": str(row.get("message") or "")})
    for error in body.get("errors") or []:
        if not isinstance(error, dict):
            continue
        context = error.get("context") or {}
        names = _names(context.get("propertyName")) or _names(context.get("groupName")) or [""]
        for name in names:
            entry = {"code": str(error.get("code") or error.get("subCategory") or ""), "name": name,
                     "message": str(error.get("message") or "")}
            if entry not in found and not any(f["code"] == entry["code"] and f["name"] == name for f in found):
                found.append(entry)
    return found


def setup_missing(exc: HttpStatusError, object_type: str) -> SetupMissing | None:
    """A SetupMissing naming what is missing, when HubSpot's refusal means the set-up was not run."""
    missing = [p for p in property_problems(exc.json) if p["code"] in SETUP_CODES]
    if not missing:
        return None
    what = ", ".join(dict.fromkeys(
        f"{object_type} property group {p['name']}" if "GROUP" in p["code"] else f"{object_type} property {p['name']}"
        for p in missing))
    return SetupMissing(f"{what} (HubSpot {missing[0]['code']})", status=exc.status)


def error_text(error: dict[str, Any]) -> str:
    """A dead-letter reason keeping HubSpot's own detail: category, message, the properties named,
    the rest of the context, and the correlationId HubSpot support asks for."""
    parts = [f"{error.get('category') or 'ERROR'}: {error.get('message') or 'rejected by HubSpot'}"]
    problems = property_problems(error)
    if problems:
        parts.append("properties: " + "; ".join(f"{p['name']} {p['code']}".strip() for p in problems))
    context = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
               for k, v in (error.get("context") or {}).items()
               if k not in ("ids", "id", "objectWriteTraceId", "objectWriteTraceIds") and not _SENSITIVE.search(str(k))}
    if context:
        parts.append("context: " + json.dumps(context, ensure_ascii=False, sort_keys=True))
    if error.get("subCategory"):
        parts.append(f"subCategory: {error['subCategory']}")
    if error.get("correlationId"):
        parts.append(f"correlationId: {error['correlationId']}")
    return " | ".join(parts)
