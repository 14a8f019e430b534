"""Lead scoring with the agreed sheet (docs/scoring.md): load, score one lead, rescore the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadsync.core.scoring.engine import score_lead
from leadsync.core.scoring.rescore import RescoreResult, load_score, rescore
from leadsync.core.scoring.sheet import Rule, ScoringSheet, load_sheet

__all__ = [
    "DEFAULT_SHEET",
    "RescoreResult",
    "Rule",
    "ScoringSheet",
    "load_configured_sheet",
    "load_score",
    "load_sheet",
    "rescore",
    "score_lead",
    "scoring_conditions",
]

DEFAULT_SHEET = Path(__file__).resolve().parents[1] / "data" / "scoring-sheet.csv"


def load_configured_sheet(settings: Any, host: Any = None) -> ScoringSheet:
    """The sheet `scoring.sheet` names (relative to the config file); the bundled default sheet
    when the key is left at its default and no such file exists. Plugin conditions come from `host`."""
    path = settings.sheet_path
    if not path.exists() and settings.scoring.sheet == Path("scoring-sheet.csv"):
        path = DEFAULT_SHEET
    return load_sheet(path, settings.scoring, scoring_conditions(host) if host is not None else None)


def scoring_conditions(host: Any) -> dict[str, Callable[[str], Any]]:
    """Extra condition kinds from plugins (`register_scoring_conditions`): name -> factory(argument).

    A plugin whose hook raises is skipped; the others still register.
    """
    found: dict[str, Callable[[str], Any]] = {}
    pm = getattr(host, "pm", host)
    for plugin in pm.get_plugins():
        impl = getattr(plugin, "register_scoring_conditions", None)
        if impl is None:
            continue
        try:
            impl(register=lambda name, factory: found.setdefault(str(name).strip().lower(), factory))
        except Exception as exc:  # one plugin's bug must not stop scoring
            failed = getattr(host, "_fail", None)
            if failed is not None:
                failed(pm.get_name(plugin) or repr(plugin), exc)
    return found
