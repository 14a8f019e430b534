"""`report html`: one self-contained HTML file (inline SVG charts, no script, no network)."""

from __future__ import annotations

import html
import io
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["render_html"]

# Japanese-capable fonts first: the SVG keeps its text as text, so the browser draws it.
FONTS = ["Noto Sans CJK JP", "IPAexGothic", "IPAGothic", "Hiragino Sans", "Yu Gothic", "Meiryo", "DejaVu Sans",
         "sans-serif"]
SEGMENT_COLORS = {"hot": "#d62728", "warm": "#ff7f0e", "cold": "#1f77b4"}
STAGE_LABELS = {"calls": "架電", "connects": "通電", "conversations": "有効会話", "meetings_set": "商談獲得",
                "meetings_held": "商談実施", "opportunities": "案件化", "wins": "受注"}
WEEKDAYS_JA = ("月", "火", "水", "木", "金", "土", "日")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyph-width warnings for CJK text measured with a Latin font
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: inline SVG in HTML


def _figure(width: float = 7.5, height: float = 3.6) -> tuple[Any, Any]:
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.ERROR)  # missing-font notices for the CJK families
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.family": FONTS, "svg.hashsalt": "leadsync"})
    return plt.subplots(figsize=(width, height))


def funnel_chart(funnel: Mapping[str, Any]) -> str:
    fig, ax = _figure()
    stages = [s for s in STAGE_LABELS if s in funnel["stages"]]
    values = [funnel["stages"][s] for s in stages]
    bars = ax.barh([f"{STAGE_LABELS[s]} ({s})" for s in stages][::-1], values[::-1], color="#1f77b4")
    ax.bar_label(bars, labels=[f"{v:,}" for v in values[::-1]], padding=3)
    ax.set_xlabel("件数")
    ax.set_title(f"ファネル {funnel['from']} .. {funnel['to']}")
    return _svg(fig)


def heatmap_chart(timing: Mapping[str, Any]) -> str:
    import numpy as np

    cells = timing["cells"]
    hours = sorted({c["hour"] for c in cells}) or list(range(9, 19))
    grid = np.full((7, len(hours)), np.nan)
    for c in cells:
        if c["connect_rate"] is not None:
            grid[WEEKDAYS.index(c["weekday"]), hours.index(c["hour"])] = c["connect_rate"] * 100
    fig, ax = _figure(7.5, 3.4)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="YlGn", aspect="auto", vmin=0)
    ax.set_xticks(range(len(hours)), [f"{h}時" for h in hours])
    ax.set_yticks(range(7), WEEKDAYS_JA)
    for (row, col), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(col, row, f"{value:.0f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label="通電率 %")
    ax.set_title("曜日 x 時間帯の通電率")
    return _svg(fig)


def sla_chart(status: Mapping[str, Any]) -> str:
    touch = status["first_touch"]
    within = touch["within_sla"]
    late = touch["touched"] - within
    untouched = status["handoffs"] - touch["touched"]
    fig, ax = _figure(7.5, 2.4)
    labels = ["SLA内に初回接触", "SLA超過", "未接触"]
    values = [within, late, untouched]
    bars = ax.barh(labels[::-1], values[::-1], color=["#7f7f7f", "#d62728", "#2ca02c"])
    ax.bar_label(bars, labels=[str(v) for v in values[::-1]], padding=3)
    ax.set_title(f"引き渡しのSLA遵守 ({status['handoffs']}件)")
    return _svg(fig)


def score_chart(histogram: list[tuple[int, str, int]]) -> str:
    bands = sorted({band for band, _, _ in histogram}) or [0]
    fig, ax = _figure()
    bottom = [0] * len(bands)
    for segment in ("cold", "warm", "hot"):
        counts = [sum(n for b, s, n in histogram if b == band and s == segment) for band in bands]
        ax.bar([str(b) for b in bands], counts, bottom=bottom, color=SEGMENT_COLORS[segment], label=segment)
        bottom = [x + y for x, y in zip(bottom, counts, strict=True)]
    ax.set_xlabel("スコア帯 (点)")
    ax.set_ylabel("リード数")
    ax.legend()
    ax.set_title("スコア分布")
    return _svg(fig)


def feedback_chart(feedback: Mapping[str, Any]) -> str:
    rules = feedback["by_rule"][:12]
    fig, ax = _figure(7.5, max(2.0, 0.35 * len(rules) + 1))
    if rules:
        names = [r["rule"] for r in rules][::-1]
        bars = ax.barh(names, [r["rejection_rate"] * 100 for r in rules][::-1], color="#9467bd")
        ax.bar_label(bars, labels=[f"{r['rejected']}/{r['mqls']}" for r in rules][::-1], padding=3)
    else:
        ax.text(0.5, 0.5, "引き渡しなし", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("却下率 %")
    ax.set_title("ルール別のフィードバック(却下率)")
    return _svg(fig)


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_html(*, funnel: Mapping[str, Any], timing: Mapping[str, Any], status: Mapping[str, Any],
                histogram: list[tuple[int, str, int]], feedback: Mapping[str, Any], title: str) -> str:
    """The whole report page: charts as inline SVG, the figures behind them as tables."""
    bench = funnel["benchmarks"]
    rates = _table(["指標", "値", "ベンチマーク"], [
        [name, _pct(value), f"{bench[name]['low']:.0%}-{bench[name]['high']:.0%}" if name in bench else ""]
        for name, value in funnel["rates"].items()])
    best = _table(["曜日", "時", "架電", "通電", "通電率"], [
        [WEEKDAYS_JA[WEEKDAYS.index(b["weekday"])], b["hour"], b["calls"], b["connects"], _pct(b["connect_rate"])]
        for b in timing["best"]])
    sections = [
        ("funnel", "ファネル (Funnel)", funnel_chart(funnel) + rates),
        ("call-timing", "架電タイミング (Call timing)", heatmap_chart(timing) + best),
        ("sla", "SLA遵守 (Handoff SLA)", sla_chart(status)),
        ("scores", "スコア分布 (Score distribution)", score_chart(histogram)),
        ("feedback", "営業フィードバック (Feedback by rule)", feedback_chart(feedback)),
    ]
    body = "\n".join(f'<section id="{key}"><h2>{html.escape(name)}</h2>\n{content}</section>'
                     for key, name, content in sections)
    return f"""<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif; margin: 2em; color: #222; }}
section {{ margin-bottom: 2.5em; }} svg {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; margin-top: .5em; }} td, th {{ border: 1px solid #ccc; padding: .2em .6em; }}
</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{html.escape(funnel['from'])} .. {html.escape(funnel['to'])}</p>
{body}
</body></html>
"""
