"""The landing page: the latest month's headline numbers, their trends and every run."""

from __future__ import annotations

import html
import json
import math
import re

import pandas as pd
import pytest

import ppxlib
from ppxlib.kpis import headline_kpis
from ppxlib.landing import comparison, landing_html, metric_history, write_landing
from ppxlib.report import default_notebook_dir, run_report

from conftest import SAMPLE

AS_OF = "2026-11-23T00:00:00"


def _text(page: str) -> str:
    """Visible text: tags (and the SVG titles inside them) removed, entities decoded."""
    page = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _manifest(month: str, overview: dict | None = None, experience: dict | None = None,
              status: dict | None = None, currency: str | None = None,
              label: str | None = None) -> dict:
    """A run's manifest as the runner writes it, with the given reports' metrics."""
    status = status or {}
    notebooks = []
    for name, metrics in (("00_overview", overview), ("04_experience", experience)):
        if metrics is None:
            continue
        state = status.get(name, "ok")
        notebooks.append({"name": name, "title": name, "status": state,
                          "html": f"{name}.html", "metrics": metrics,
                          "error": None if state == "ok" else f"RuntimeError: {name} broke"})
    given = {"currency": currency} if currency is not None else {}
    return {"label": label or month, "month": month, "shop": "acme",
            "started_utc": f"{month}-28T00:00:00+00:00",
            "status": "ok" if all(n["status"] == "ok" for n in notebooks) else "failed",
            "parameters": {"notebook_parameters": given}, "notebooks": notebooks}


def _write(out, *manifests) -> None:
    for manifest in manifests:
        folder = out / manifest["label"]
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps(manifest))


def test_history_has_every_month_on_record_and_nan_where_a_number_is_missing():
    runs = [_manifest("2026-10", {"revenue": 300.0}, {"csat_1-5": 0.8, "csat_1-5_n": 40,
                                                      "csat_1-10": 0.5, "csat_1-10_n": 3}),
            _manifest("2026-08", {"revenue": 100.0}),
            _manifest("2025-10", {"revenue": 50.0}, {"on_time_rate": 0.9},
                      status={"00_overview": "failed"})]
    history = metric_history(runs)
    assert list(history.index.astype(str)) == [str(p) for p in pd.period_range(
        "2025-10", "2026-10", freq="M")]
    assert history.loc[pd.Period("2026-08", "M"), "revenue"] == 100.0
    assert math.isnan(history.loc[pd.Period("2026-09", "M"), "revenue"])  # no run: a gap
    # a failed report's numbers are not taken; the other report of that month is
    assert math.isnan(history.loc[pd.Period("2025-10", "M"), "revenue"])
    assert history.loc[pd.Period("2025-10", "M"), "on_time_rate"] == 0.9
    # CSAT: the scale with most answers
    assert history.loc[pd.Period("2026-10", "M"), "csat"] == 0.8


def test_comparison_against_the_month_before_and_a_year_before():
    runs = [_manifest("2026-10", {"revenue": 300.0, "repeat_purchase_rate": 0.45},
                      {"nps_0-10": 20.0}),
            _manifest("2026-09", {"revenue": 240.0, "repeat_purchase_rate": 0.40},
                      {"nps_0-10": 25.0}),
            _manifest("2025-10", {"revenue": 200.0, "repeat_purchase_rate": 0.5})]
    table = comparison(metric_history(runs), pd.Period("2026-10", "M")).set_index("key")
    assert table.loc["revenue", "change_previous"] == pytest.approx(0.25)
    assert table.loc["revenue", "change_year"] == pytest.approx(0.5)
    # shares and points change by their difference
    assert table.loc["repeat_purchase_rate", "change_previous"] == pytest.approx(0.05)
    assert table.loc["repeat_purchase_rate", "change_year"] == pytest.approx(-0.05)
    assert table.loc["nps", "change_previous"] == pytest.approx(-5.0)
    assert math.isnan(table.loc["nps", "year_ago"]) and math.isnan(table.loc["nps",
                                                                             "change_year"])


def test_the_page_shows_the_numbers_with_currency_and_na_never_zero(tmp_path):
    _write(tmp_path,
           _manifest("2026-10", {"revenue": 32262.26, "customers": 469.0}, currency="€"),
           _manifest("2026-09", {"revenue": 27323.0, "customers": 436.0}, currency="€"),
           _manifest("2025-10", {"revenue": 24747.0, "customers": 379.0}, currency="€"))
    page = write_landing(tmp_path).read_text()
    text = _text(page)
    assert "October 2026 at a glance" in text
    assert "€32,262" in text
    assert "+18.1% vs September 2026 (€27,323)" in text
    assert "+30.4% vs October 2025 (€24,747)" in text
    assert "+7.6% vs September 2026 (436)" in text
    # the experience report never ran: its numbers are n/a, and the page says why
    nps = text[text.index("NPS (12 months)"):][:200]
    assert nps.startswith("NPS (12 months) n/a The experience report was not run")
    assert not re.search(r"NPS \(12 months\) [+-]?0\b", text)
    # one trend chart per headline, inline SVG, no script, nothing from the network
    assert page.count("<svg") == 2  # revenue and customers: the others have no number
    assert "<script" not in page.lower() and "http" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "<title>Post-purchase experience reports · acme</title>" in page


def test_a_month_whose_every_report_failed_keeps_its_row_with_the_errors(tmp_path):
    _write(tmp_path,
           _manifest("2026-10", {"revenue": 1.0}, {"nps_0-10": 3.0},
                     status={"00_overview": "failed", "04_experience": "failed"}),
           _manifest("2026-09", {"revenue": 240.0}))
    text = _text(write_landing(tmp_path).read_text())
    row = text[text.index("Every month"):]
    assert "October 2026" in row and "every report failed" in row
    assert "RuntimeError: 00_overview broke" in row and "RuntimeError: 04_experience broke" in row
    # the latest month is the failed one: its numbers are n/a (not last month's, not 0)
    glance = text[text.index("October 2026 at a glance"):text.index("Every month")]
    assert "Reports that failed for October 2026" in glance
    revenue = glance[glance.index("Revenue"):][:120]
    assert revenue.startswith("Revenue n/a The overview report failed for October 2026")
    assert "September 2026: 240.00" in revenue


def test_a_month_rerun_under_another_label_takes_the_months_own_run(tmp_path):
    _write(tmp_path, _manifest("2026-10", {"revenue": 10.0}),
           _manifest("2026-10", {"revenue": 99.0}, label="2026-10-draft"))
    text = _text(write_landing(tmp_path).read_text())
    assert "Revenue 10.00" in text  # the run labelled 2026-10, not the draft
    assert "2026-10-draft" in text  # which still has its row


def test_text_from_manifests_is_escaped(tmp_path):
    manifest = _manifest("2026-10", {"revenue": 1.0}, status={"00_overview": "failed"})
    manifest["shop"] = "<script>x</script>"
    manifest["notebooks"][0]["error"] = "<img src=x onerror=alert(1)>"
    _write(tmp_path, manifest)
    page = write_landing(tmp_path).read_text()
    assert "<script" not in page and "<img" not in page and "&lt;img" in page


def test_no_reports_yet(tmp_path):
    assert "No reports yet." in landing_html([])


@pytest.mark.notebook
def test_the_sample_landing_page_shows_october_revenue_beside_september_and_a_year_before(
        tmp_path):
    overview = [default_notebook_dir() / "00_overview.ipynb"]
    for month in ("2025-10", "2026-09", "2026-10"):
        run_report(SAMPLE, out=tmp_path, month=month, notebooks=overview, as_of=AS_OF,
                   progress=False, params={"currency": "€"})
    text = _text((tmp_path / "index.html").read_text())
    clean = ppxlib.open(SAMPLE).validate(as_of=pd.Timestamp(AS_OF).to_pydatetime())

    def revenue(month: str) -> float:
        return float(headline_kpis(clean.orders, month).set_index("kpi").at["revenue", "value"])

    assert round(revenue("2026-10")) == 32262
    card = text[text.index("October 2026 at a glance"):]
    card = card[card.index("Revenue"):][:200]
    september, year_ago = revenue("2026-09"), revenue("2025-10")
    assert card.startswith("Revenue €32,262 ")
    assert f"vs September 2026 (€{september:,.0f})" in card
    assert f"vs October 2025 (€{year_ago:,.0f})" in card
    assert f"{(revenue('2026-10') / year_ago - 1):+.1%} vs October 2025" in card
    # the reports that were not run show n/a, never 0
    assert "Churn rate (lost, net of those won back) n/a The retention report was not run" in text


def test_the_page_starts_with_the_first_report_of_the_latest_month(tmp_path):
    latest = _manifest("2026-10", {"revenue": 1.0}, {"nps_0-10": 3.0})
    latest["notebooks"].insert(0, {"name": "00_briefing", "title": "This month in one page",
                                   "status": "ok", "html": "00_briefing.html", "metrics": {}})
    _write(tmp_path, latest)
    page = write_landing(tmp_path).read_text()
    assert 'Start with <a href="2026-10/00_briefing.html">This month in one page</a>.' in page
