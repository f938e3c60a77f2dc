"""HTML of the console's pages: plain string templates, every value escaped with
:func:`html.escape` (customer ids, reasons and report text come from the data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from ._charts import line_chart, stacked_bars
from ._queries import CustomerTimeline, Portfolio

__all__ = ["customer_page", "model_page", "models_page", "page", "portfolio_page"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#222}
header{background:#1f3a5f;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
main{padding:16px}
table{border-collapse:collapse;margin:8px 0 16px}
td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px;text-align:left}
th{background:#f2f2f2}
.muted{color:#777}
pre{background:#f7f7f7;padding:8px;overflow:auto;font-size:12px}
section{margin-bottom:24px}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)} - predelinq console</title><style>{_STYLE}</style></head><body>"
        "<header><a href=\"/\">Portfolio</a><a href=\"/models\">Models</a>"
        "<form method=\"get\" action=\"/search\" role=\"search\">"
        "<input name=\"customer_id\" id=\"customer-search\" placeholder=\"customer id\" "
        "aria-label=\"customer id\" required maxlength=\"200\">"
        "<button type=\"submit\">Open</button></form></header>"
        f"<main><h1>{_e(title)}</h1>{body}</main></body></html>")


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, table_id: str = "",
           raw_columns: frozenset[int] = frozenset()) -> str:
    attr = f' id="{_e(table_id)}"' if table_id else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if i in raw_columns else _e(cell)}</td>"
                         for i, cell in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _totals(values: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for day in values.values():
        for name, n in day.items():
            totals[name] = totals.get(name, 0) + n
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def _total_table(values: Mapping[str, Mapping[str, int]], label: str, table_id: str) -> str:
    return _table((label, "rows in window"), _totals(values).items(), table_id=table_id)


def portfolio_page(data: Portfolio, *, elapsed_ms: float) -> str:
    days = data.days
    psi = data.psi
    drift_rows = [(d, f"{data.mean_score[d]:.1f}" if d in data.mean_score else "",
                   f"{p:.4f}" if p is not None else "") for d, p in zip(days, psi, strict=True)]
    top_features = list(_totals(data.features))[:8]
    features = {d: {f: n for f, n in v.items() if f in top_features}
                for d, v in data.features.items()}
    window = (f"<p>{_e(data.start)} to {_e(data.end)} (UTC), {len(days)} days: "
              f"<span id=\"scores-total\">{data.scores_total}</span> scores, "
              f"<span id=\"interventions-total\">{data.interventions_total}</span> "
              f"interventions, <span id=\"suppressions-total\">{data.suppressions_total}"
              f"</span> suppressed decisions. <span class=\"muted\">"
              f"({elapsed_ms:.0f} ms)</span></p>"
              "<form method=\"get\" action=\"/\">days <input name=\"days\" size=\"4\" "
              f"value=\"{len(days)}\"> ending <input name=\"end\" type=\"date\" "
              f"value=\"{_e(data.end)}\"> <button>Show</button></form>")
    body = [window]
    body.append("<section><h2>Score bands per day</h2>"
                + stacked_bars("Scores per day by band", days, data.bands, chart_id="chart-bands")
                + _total_table(data.bands, "band", "table-bands") + "</section>")
    body.append("<section><h2>Tracks per day</h2>"
                + stacked_bars("Scores per day by track", days, data.tracks,
                               chart_id="chart-tracks")
                + _total_table(data.tracks, "track", "table-tracks") + "</section>")
    body.append("<section><h2>Interventions per day by action</h2>"
                + stacked_bars("Actionable interventions per day by action", days, data.actions,
                               chart_id="chart-actions")
                + _total_table(data.actions, "action", "table-actions") + "</section>")
    body.append("<section><h2>Suppressed decisions by reason</h2>"
                "<p class=\"muted\">interventions recorded with actionable = false: the contact "
                "rule that suppressed them (interventions.rule), or control_group for the "
                "experiment's CONTROL arm.</p>"
                + stacked_bars("Suppressed decisions per day by reason", days, data.suppressions,
                               chart_id="chart-suppressions")
                + _total_table(data.suppressions, "reason", "table-suppressions")
                + "</section>")
    body.append("<section><h2>Score drift</h2>"
                "<p class=\"muted\">daily mean score, and the population stability index of "
                "the day's score distribution (10 buckets) against the window's first day "
                "with scores (above 0.25: a large shift).</p>"
                + line_chart("Mean score per day", days,
                             {"mean score": [data.mean_score.get(d) for d in days]},
                             chart_id="chart-mean", label="score")
                + line_chart("PSI against the first day", days, {"PSI": psi},
                             chart_id="chart-psi", label="PSI")
                + _table(("day", "mean score", "PSI"), drift_rows, table_id="table-drift")
                + "</section>")
    body.append("<section><h2>Top reason features per day</h2>"
                "<p class=\"muted\">the feature of each score's first (strongest) reason; the "
                "8 most frequent of the window.</p>"
                + stacked_bars("Top reason feature per day", days, features,
                               chart_id="chart-features")
                + _total_table(data.features, "feature", "table-features") + "</section>")
    return page("Portfolio", "".join(body))


def _time(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)


def _reason_text(reasons: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{r.get('feature', '')} ({r.get('code', '')}): {r.get('text', '')}"
                     for r in reasons)


def customer_page(timeline: CustomerTimeline) -> str:
    cid = timeline.customer_id
    if not timeline.found:
        return page(f"Customer {cid}", "<p id=\"not-found\">No scores or interventions are "
                                       "recorded for this customer.</p>")
    scores = _table(
        ("scored at", "score", "band", "track", "probability", "days past due", "model",
         "challenger score", "reasons"),
        ((_time(s["scored_at"]), s["score"], s["band"], s["track"], f"{s['probability']:.4f}",
          s["days_past_due"], s["model_version"], s["challenger_score"],
          _reason_text(s["top_reasons"])) for s in timeline.scores), table_id="table-scores")
    interventions = _table(
        ("created at", "action", "channel", "priority", "score", "band", "arm", "status",
         "policy", "reasons", "id"),
        ((_time(i["created_at"]), i["action"], i["channel"], i["priority"], i["score"],
          i["band"], i["experiment_arm"],
          "actionable" if i["suppressed_by"] is None else f"suppressed: {i['suppressed_by']}",
          i["policy_version"], _reason_text(i["reasons"]), i["intervention_id"])
         for i in timeline.interventions), table_id="table-interventions")
    suppressions = _table(
        ("created at", "action", "suppressed by", "arm"),
        ((_time(i["created_at"]), i["action"], i["suppressed_by"], i["experiment_arm"])
         for i in timeline.suppressions), table_id="table-suppressions")
    if timeline.outcomes is None:
        outcomes = "<p class=\"muted\" id=\"no-outcomes\">No outcomes table in this database.</p>"
    else:
        outcomes = _table(timeline.outcome_columns,
                          ([_time(row.get(c)) for c in timeline.outcome_columns]
                           for row in timeline.outcomes), table_id="table-outcomes")
    body = (f"<p>{len(timeline.scores)} scores, {len(timeline.interventions)} interventions "
            f"(newest first).</p>"
            f"<section><h2>Scores</h2>{scores}</section>"
            f"<section><h2>Interventions</h2>{interventions}</section>"
            f"<section><h2>Suppressions</h2>{suppressions}</section>"
            f"<section><h2>Outcomes</h2>{outcomes}</section>")
    return page(f"Customer {cid}", body)


def models_page(rows: Sequence[Mapping[str, Any]], aliases: Mapping[str, str]) -> str:
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    table = _table(
        ("version", "aliases", "created", "validation ROC-AUC", "status", "report"),
        ((f'<a href="/models/{quote(r["version"])}">{_e(r["version"])}</a>',
          _e(", ".join(by_version.get(r["version"], []))), _e(r.get("created", "")),
          _e(r.get("auc", "")), _e(r.get("status", "")),
          f'<a href="/models/{quote(r["version"])}">report</a>' if r.get("report") else "none")
         for r in rows), table_id="table-models", raw_columns=frozenset(range(6)))
    if not rows:
        table = "<p id=\"no-models\">The registry has no versions.</p>"
    return page("Model versions", table)


def model_page(version: str, metadata: Mapping[str, Any] | None, report: str | None,
               plots: Sequence[str]) -> str:
    parts = []
    if report is not None:
        parts.append(f"<section><h2>report.md</h2><pre id=\"report\">{_e(report)}</pre>"
                     "</section>")
    else:
        parts.append("<p>No report.md is stored with this version.</p>")
    for name in plots:
        parts.append(f'<figure><img alt="{_e(name)}" src="/models/{quote(version)}/plots/'
                     f'{quote(name)}"><figcaption>{_e(name)}</figcaption></figure>')
    if metadata is not None:
        import json

        parts.append("<section><h2>metadata.json</h2><pre>"
                     f"{_e(json.dumps(metadata, indent=2, default=str)[:20000])}</pre></section>")
    return page(f"Model {version}", "".join(parts))
