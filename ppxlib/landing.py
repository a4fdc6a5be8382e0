"""The landing page of a report set (``out/index.html``): what matters this month, every month.

It reads only the runs' manifests (``out/<label>/manifest.json``): the headline metrics the
notebooks recorded with :func:`ppxlib.notebook.record_metrics`. Nothing is recomputed here.
The page shows

* the latest month's headline numbers beside the month before and the same month a year
  before, each with a small trend chart of every month on record (inline SVG: the page opens
  offline and runs no script);
* every run, newest first, with links to its reports; failed reports stay listed with their
  error, and a month whose every report failed keeps its row.

A number a month does not have (its report was not run or failed) shows as "n/a", never 0.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ppxlib.plots_svg import sparkline


@dataclass(frozen=True)
class Headline:
    """One number of the landing page and where a run's manifest holds it.

    ``metric`` is the name the report records; one ending in ``*`` is a prefix (the CSAT
    metric carries its scale: ``csat_1-5``), and the scale with most answers is taken.
    """

    key: str
    label: str
    unit: str  # "count", "currency", "share" or "points"
    notebook: str
    metric: str
    higher_is_better: bool = True


HEADLINES = (
    Headline("revenue", "Revenue", "currency", "00_overview", "revenue"),
    Headline("customers", "Customers who ordered", "count", "00_overview", "customers"),
    Headline("new_customers", "New customers", "count", "00_overview", "new_customers"),
    Headline("repeat_purchase_rate", "Repeat purchase rate (365 days)", "share",
             "00_overview", "repeat_purchase_rate"),
    Headline("churn_rate", "Churn rate (lost, net of those won back)", "share", "01_retention",
             "churn_rate", higher_is_better=False),
    Headline("expected_value", "Expected value per customer, next 12 months", "currency",
             "03_clv", "mean_clv"),
    Headline("nps", "NPS (12 months)", "points", "04_experience", "nps_0-10"),
    Headline("csat", "CSAT, share satisfied (12 months)", "share", "04_experience", "csat_*"),
    Headline("on_time_rate", "On-time delivery", "share", "04_experience", "on_time_rate"),
    Headline("return_rate", "Orders returned (12 months)", "share", "04_experience",
             "return_rate_12m", higher_is_better=False),
)
#: The reports the headlines come from, as the page names them.
REPORTS = {"00_overview": "overview", "01_retention": "retention", "03_clv": "customer value",
           "04_experience": "experience"}
#: The horizon the expected-value headline is named for; another horizon is another number.
VALUE_HORIZON = "horizon_months"


def read_manifests(out: str | os.PathLike) -> list[dict[str, Any]]:
    """Every readable ``out/*/manifest.json``, newest label first (unreadable ones skipped)."""
    runs = []
    for path in sorted(Path(out).glob("*/manifest.json"), reverse=True):
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(manifest, dict):
            manifest.setdefault("label", path.parent.name)
            runs.append(manifest)
    return runs


def _month(run: dict[str, Any]) -> pd.Period | None:
    try:
        return pd.Period(str(run.get("month")), freq="M")
    except (ValueError, TypeError):
        return None


def runs_by_month(runs: list[dict[str, Any]]) -> dict[pd.Period, dict[str, Any]]:
    """The run whose numbers count for each month: the one labelled as the month, else the
    latest started (a month re-run under another label, ``2026-10-final``)."""
    chosen: dict[pd.Period, dict[str, Any]] = {}
    for run in runs:
        month = _month(run)
        if month is None:
            continue
        best = chosen.get(month)
        rank = (run.get("label") == str(month), str(run.get("started_utc", "")))
        if best is None or rank > (best.get("label") == str(month),
                                   str(best.get("started_utc", ""))):
            chosen[month] = run
    return chosen


def _metric(run: dict[str, Any], headline: Headline) -> float:
    """A headline's value in one run; NaN when its report is missing, failed or silent."""
    report = next((nb for nb in run.get("notebooks", [])
                   if isinstance(nb, dict) and nb.get("name") == headline.notebook), None)
    if report is None or report.get("status") != "ok":
        return math.nan
    metrics = report.get("metrics") or {}
    if headline.metric.endswith("*"):
        prefix = headline.metric[:-1]
        scales = [k for k in metrics if k.startswith(prefix) and not k.endswith("_n")]
        if not scales:
            return math.nan
        name = max(scales, key=lambda k: (_number(metrics.get(f"{k}_n")) or 0, k))
    else:
        name = headline.metric
    value = _number(metrics.get(name))
    if headline.key == "expected_value" and _number(metrics.get(VALUE_HORIZON)) not in (None,
                                                                                       12):
        return math.nan  # valued over another horizon: not the 12-month number
    return math.nan if value is None else value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def metric_history(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The headline numbers by month: one row per month from the first to the last on record.

    Months between them without a run are rows of NaN (the trend line breaks there).
    Columns: one per :data:`HEADLINES` key, ``currency`` (the symbol the run was given,
    "" if none) and ``label`` (the run the numbers come from).

    Examples
    --------
    >>> runs = [{"label": "2026-10", "month": "2026-10", "notebooks": [
    ...     {"name": "00_overview", "status": "ok", "metrics": {"revenue": 5.0}}]},
    ...         {"label": "2026-08", "month": "2026-08", "notebooks": [
    ...     {"name": "00_overview", "status": "failed", "metrics": {"revenue": 9.0}}]}]
    >>> metric_history(runs)["revenue"].tolist()
    [nan, nan, 5.0]
    """
    chosen = runs_by_month(runs)
    columns = [h.key for h in HEADLINES] + ["currency", "label"]
    if not chosen:
        return pd.DataFrame(columns=columns, index=pd.PeriodIndex([], freq="M", name="month"))
    rows = {}
    for month, run in chosen.items():
        given = (run.get("parameters") or {}).get("notebook_parameters") or {}
        currency = given.get("currency") if isinstance(given.get("currency"), str) else ""
        rows[month] = {**{h.key: _metric(run, h) for h in HEADLINES},
                       "currency": currency, "label": run.get("label")}
    months = pd.period_range(min(rows), max(rows), freq="M", name="month")
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(months)
    return frame[columns]


def comparison(history: pd.DataFrame, month: pd.Period) -> pd.DataFrame:
    """Each headline in ``month`` beside the month before and the same month a year before.

    Changes are relative for counts and amounts (NaN when the earlier value is 0 or missing)
    and differences for shares and points.

    Examples
    --------
    >>> h = pd.DataFrame({"revenue": [100.0, 120.0]},
    ...                  index=pd.period_range("2026-09", periods=2, freq="M"))
    >>> row = comparison(h, pd.Period("2026-10", "M")).set_index("key").loc["revenue"]
    >>> float(row.value), float(row.previous), round(float(row.change_previous), 3)
    (120.0, 100.0, 0.2)
    >>> bool(math.isnan(row.year_ago))
    True
    """
    def at(key: str, when: pd.Period) -> float:
        if key not in history.columns or when not in history.index:
            return math.nan
        value = history.at[when, key]
        return math.nan if value is None or pd.isna(value) else float(value)

    rows = []
    for h in HEADLINES:
        value, previous, year_ago = at(h.key, month), at(h.key, month - 1), at(h.key, month - 12)
        rows.append({"key": h.key, "label": h.label, "unit": h.unit, "value": value,
                     "previous": previous, "year_ago": year_ago,
                     "change_previous": _change(value, previous, h.unit),
                     "change_year": _change(value, year_ago, h.unit)})
    return pd.DataFrame(rows)


def _change(value: float, before: float, unit: str) -> float:
    if math.isnan(value) or math.isnan(before):
        return math.nan
    if unit in ("share", "points"):
        return value - before
    return (value - before) / before if before else math.nan


def format_number(value: float | None, unit: str, currency: str = "") -> str:
    """A headline number as the page shows it; "n/a" when there is none.

    Examples
    --------
    >>> format_number(32262.26, "currency", "€"), format_number(0.4516, "share")
    ('€32,262', '45.2%')
    >>> format_number(22.97, "points"), format_number(float("nan"), "count")
    ('+23', 'n/a')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "points":
        return f"{value:+.0f}"
    if unit == "currency":
        return f"{currency}{value:,.2f}" if abs(value) < 1000 else f"{currency}{value:,.0f}"
    return f"{value:,.0f}"


def format_change(change: float, unit: str) -> str:
    """A change as the page shows it: % for counts and amounts, pp for shares, points.

    Examples
    --------
    >>> format_change(0.1808, "currency"), format_change(0.006, "share")
    ('+18.1%', '+0.6 pp')
    >>> format_change(-4.2, "points"), format_change(float("nan"), "count")
    ('-4 points', 'n/a')
    """
    if change is None or math.isnan(change):
        return "n/a"
    if unit == "share":
        return f"{change * 100:+.1f} pp"
    if unit == "points":
        return f"{change:+.0f} points"
    return f"{change:+.1%}"


def _direction(change: float, unit: str, higher_is_better: bool) -> str:
    """CSS class of a change: good, bad or flat (under 0.5 % or 0.5 pp or 0.5 points)."""
    if change is None or math.isnan(change):
        return "flat"
    size = change * 100 if unit in ("share", "currency", "count") else change
    if abs(size) < 0.5:
        return "flat"
    return "good" if (change > 0) == higher_is_better else "bad"


def _month_words(month: pd.Period) -> str:
    return month.strftime("%B %Y")


def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _card(h: Headline, row: pd.Series, history: pd.DataFrame, month: pd.Period,
          run: dict[str, Any] | None) -> str:
    """One headline: value, the two comparisons, the trend."""
    currency = history.at[month, "currency"] if month in history.index else ""
    currency = currency if isinstance(currency, str) else ""

    def earlier(when: pd.Period, value: float, change: float) -> str:
        if when in history.index and isinstance(history.at[when, "currency"], str):
            symbol = history.at[when, "currency"]
        else:
            symbol = currency
        shown = _e(format_number(value, h.unit, symbol))
        if math.isnan(change):  # nothing to compare: the earlier number alone
            return f'<div class="c flat">{_e(_month_words(when))}: {shown}</div>'
        css = _direction(change, h.unit, h.higher_is_better)
        return (f'<div class="c {css}">{_e(format_change(change, h.unit))} vs '
                f"{_e(_month_words(when))} ({shown})</div>")

    values = [None if pd.isna(v) else float(v) for v in history[h.key]] if len(history) else []
    first, last = (history.index[0], history.index[-1]) if len(history) else (month, month)
    trend = sparkline(values, f"{h.label} by month, {_month_words(first)} to "
                              f"{_month_words(last)}",
                      start=first.strftime("%b %Y"), end=last.strftime("%b %Y")
                      ) if len(values) > 1 and any(v is not None for v in values) else ""
    label = _e(h.label)
    report = next((nb for nb in (run or {}).get("notebooks", [])
                   if isinstance(nb, dict) and nb.get("name") == h.notebook), None)
    if report and report.get("html") and report.get("status") == "ok":
        href = _e(f"{run['label']}/{report['html']}")
        label = f'<a href="{href}">{label}</a>'
    why = ""
    if math.isnan(row.value):
        status = "was not run" if report is None else (
            "failed" if report.get("status") != "ok" else "has no number for it")
        why = (f'<div class="c why">The {_e(REPORTS.get(h.notebook, h.notebook))} report '
               f"{status} for {_e(_month_words(month))}.</div>")
    return (f'<div class="card"><div class="l">{label}</div>'
            f'<div class="v">{_e(format_number(row.value, h.unit, currency))}</div>{why}'
            f"{earlier(month - 1, row.previous, row.change_previous)}"
            f"{earlier(month - 12, row.year_ago, row.change_year)}"
            f'<div class="t">{trend}</div></div>')


def headline_html(runs: list[dict[str, Any]]) -> str:
    """The latest month's headline section ("" when no run names a month)."""
    history = metric_history(runs)
    chosen = runs_by_month(runs)
    if not chosen:
        return ""
    month = max(chosen)
    run = chosen[month]
    table = comparison(history, month).set_index("key")
    cards = "".join(_card(h, table.loc[h.key], history, month, run) for h in HEADLINES)
    failed = [nb.get("title") or nb.get("name") for nb in run.get("notebooks", [])
              if isinstance(nb, dict) and nb.get("status") != "ok"]
    notice = ""
    if failed:
        notice = (f'<p class="notice">Reports that failed for {_e(_month_words(month))}: '
                  f"{_e(', '.join(map(str, failed)))}. Their numbers show as n/a; the list "
                  "below has the errors.</p>")
    if len(history) > 1:
        trends = (f"The small charts show every month on record ({len(chosen)} months, "
                  f"{_e(_month_words(history.index[0]))} to {_e(_month_words(month))}), each "
                  f"on its own scale; the red dot is {_e(_month_words(month))}.")
    else:
        trends = "Trend charts appear once a second month is on record."
    start = ""
    readable = [nb for nb in run.get("notebooks", []) if isinstance(nb, dict)
                and nb.get("status") == "ok" and nb.get("html")]
    first = min(readable, key=lambda nb: str(nb.get("name")), default=None)
    if first is not None:  # the first report in order: the one-page summary when it exists
        href = _e(f"{run['label']}/{first['html']}")
        start = (f'<p class="start">Start with <a href="{href}">'
                 f"{_e(first.get('title') or first.get('name'))}</a>.</p>")
    return (f'<section class="headline"><h2>{_e(_month_words(month))} at a glance</h2>'
            f"{start}"
            f'<p class="lead">Each number beside the month before and the same month a year '
            f"before; n/a where a month has no report for it. {trends}</p>{notice}"
            f'<div class="cards">{cards}</div></section>')


def months_html(runs: list[dict[str, Any]]) -> str:
    """Every run, newest label first: its reports (failed ones with their error)."""
    rows = []
    for run in runs:
        label = _e(run.get("label", "?"))
        month = _month(run)
        shown = label
        if month is not None:
            shown = _e(_month_words(month))
            if run.get("label") != str(month):
                shown += f'<div class="meta">{label}</div>'
        links = []
        for nb in run.get("notebooks", []):
            if not isinstance(nb, dict):
                continue
            name = _e(nb.get("title") or nb.get("name", "?"))
            css = "ok" if nb.get("status") == "ok" else "failed"
            if nb.get("html"):
                href = _e(f"{run.get('label')}/{nb['html']}")
                link = f'<a href="{href}">{name}</a>'
            else:
                link = name
            mark = ""
            if css != "ok":
                error = str(nb.get("error") or "failed")[:300]
                mark = (' <span class="bad">failed:</span> '
                        f'<span class="err">{_e(error)}</span>')
            links.append(f'<li class="{css}">{link}{mark}</li>')
        missing = [name for name, given in (run.get("tables") or {}).items() if not given]
        if missing:
            links.append(f'<li class="note">not provided: {_e(", ".join(missing))} '
                         "(their sections say so)</li>")
        status = "ok" if run.get("status") == "ok" else "failed"
        words = "all reports ok" if status == "ok" else "some reports failed"
        if status != "ok" and run.get("notebooks") and all(
                isinstance(nb, dict) and nb.get("status") != "ok" for nb in run["notebooks"]):
            words = "every report failed"
        rows.append(
            f'<tr><td class="month">{shown}</td><td><ul>{"".join(links)}</ul></td>'
            f'<td class="{status}">{_e(words)}</td>'
            f'<td class="meta">{_e(str(run.get("started_utc", "")).replace("T", " "))}</td>'
            "</tr>")
    body = "".join(rows) or '<tr><td colspan="4">No reports yet.</td></tr>'
    return ('<section><h2>Every month</h2><p class="lead">One row per report run, newest '
            "first. Failed reports are listed too, with their error.</p>"
            '<table class="months"><thead><tr><th>month</th><th>reports</th><th>status</th>'
            f"<th>run (UTC)</th></tr></thead><tbody>{body}</tbody></table></section>")


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:64em;
  margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;margin:1.4em 0 .3em;
  border-bottom:1px solid #e3e3e3;padding-bottom:.2em}
p.lead{color:#555;margin-top:0} a{color:#2f6690} p.start{font-size:1.1em;margin:.4em 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(14.5em,1fr));gap:.8em}
.card{border:1px solid #dde3e8;border-radius:6px;padding:.6em .8em;min-width:0}
.card .l{color:#555;font-size:.9em} .card .v{font-size:1.55em;font-weight:600}
.card .c{font-size:.82em} .card .t{margin-top:.3em} .card svg{max-width:100%;height:auto}
.good{color:#3a7d44} .bad,.failed{color:#d1495b;font-weight:600} .flat{color:#777}
.c.bad{font-weight:normal} .ok{color:#3a7d44}
.notice{background:#fff6e5;border:1px solid #f0c36d;padding:.4em .8em;border-radius:4px}
table.months{border-collapse:collapse;width:100%}
.months th,.months td{text-align:left;border-bottom:1px solid #e3e3e3;padding:.5em .6em;
  vertical-align:top;overflow-wrap:anywhere}
td.month{font-weight:600;white-space:nowrap} ul{margin:0;padding-left:1.1em}
.meta{color:#777;font-size:.85em;font-weight:normal} .err{color:#555;font-size:.85em}
li.note{list-style:none;margin-left:-1.1em;color:#8a6d1d;font-size:.85em}
"""


def landing_html(runs: list[dict[str, Any]]) -> str:
    """The whole landing page for the given manifests."""
    chosen = runs_by_month(runs)
    latest = chosen[max(chosen)] if chosen else (runs[0] if runs else {})
    shop = str(latest.get("shop") or "")
    title = "Post-purchase experience reports" + (f" · {shop}" if shop else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style></head><body>
<h1>Post-purchase experience reports{f" · {_e(shop)}" if shop else ""}</h1>
{headline_html(runs)}
{months_html(runs)}
</body></html>
"""


def write_landing(out: str | os.PathLike) -> Path:
    """Write ``out/index.html`` from every run's manifest under ``out`` (atomically)."""
    out = Path(out)
    page = landing_html(read_manifests(out))
    index = out / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    return index
