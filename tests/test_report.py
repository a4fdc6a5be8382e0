"""The report runner: notebooks executed with papermill, HTML without code, manifest, index."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import ppxlib
from ppxlib.cli import main
from ppxlib.kpis import headline_kpis
from ppxlib.report import run_report, write_index
from ppxlib.simulate import simulate_shop

from conftest import SAMPLE

CORPUS = Path(__file__).parent / "corpus"

AS_OF = "2026-11-23T00:00:00"


def _alts(page: str) -> list[str | None]:
    """The alt text of every ``<img>`` of a page, in order (None where there is none)."""
    from html.parser import HTMLParser

    found: list[str | None] = []

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                found.append(dict(attrs).get("alt"))

    Images().feed(page)
    return found


def _text(page: str) -> str:
    """The visible text of an HTML page, tags removed and entities decoded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = run_report(SAMPLE, out=out, as_of=AS_OF, progress=False)
    return out, result


def test_sample_run_renders_every_notebook_into_the_month_folder(sample_run):
    out, result = sample_run
    assert result.label == "2026-10"  # the last complete month of the sample
    assert result.failed == []
    assert (out / "index.html").exists()
    assert (out / "2026-10" / "00_overview.html").exists()
    assert (out / "2026-10" / "notebooks" / "00_overview.ipynb").exists()
    assert not list(out.glob(".staging-*")) and not list(out.glob(".old-*"))


def test_html_has_no_code_no_scripts_and_stays_small(sample_run):
    out, _ = sample_run
    for page in (out / "2026-10").glob("*.html"):
        text = page.read_text()
        assert "<script" not in text.lower(), page.name
        assert "import ppxlib" not in text and "nb.takeaway(" not in text, page.name
        assert "cdnjs" not in text and "mathjax" not in text.lower(), page.name
        assert page.stat().st_size <= 1_500_000, page.name  # at most 1.5 MB
        sources = re.findall(r'<img [^>]*src="([^"]*)"', text)
        assert all(s.startswith("data:image/png;base64,") for s in sources), page.name
        assert sources or page.stem == "00_briefing", page.name  # figures, inlined
        # one small stylesheet, inlined once (nbconvert's own is 257 KB)
        styles = re.findall(r"<style[^>]*>(.*?)</style>", text, flags=re.S)
        assert sum(len(css) for css in styles) < 20_000, page.name


def test_manifest_records_parameters_status_versions_and_the_kpis(sample_run):
    out, _ = sample_run
    manifest = json.loads((out / "2026-10" / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["month"] == "2026-10"
    assert manifest["parameters"]["as_of"] == AS_OF
    assert {"ppxlib", "pandas", "duckdb", "papermill", "nbconvert"} <= set(manifest["versions"])
    overview = next(n for n in manifest["notebooks"] if n["name"] == "00_overview")
    clean = ppxlib.open(SAMPLE).validate(as_of=pd.Timestamp(AS_OF).to_pydatetime())
    expected = headline_kpis(clean.orders, "2026-10").set_index("kpi")["value"]
    for kpi, value in expected.items():
        assert overview["metrics"][kpi] == pytest.approx(value, rel=1e-12), kpi
    assert overview["metrics"]["rows_excluded"] == clean.quality.rows_excluded == 17


def test_overview_shows_the_data_quality_tally(sample_run):
    out, _ = sample_run
    text = (out / "2026-10" / "00_overview.html").read_text()
    assert "exact copy of an earlier row" in text
    assert "amount is negative" in text
    assert "order_id used by rows with different contents" in text
    assert "17 of" in text  # the takeaway counts what was set aside
    assert "In October 2026," in text


def test_executed_notebook_got_the_parameters_and_read_the_runs_snapshot(sample_run):
    out, _ = sample_run
    nb = nbformat.read(out / "2026-10" / "notebooks" / "00_overview.ipynb", as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "month = \"2026-10\"" in injected.source
    # the validated copy of data/sample, made once for the run and deleted after it
    snapshot = re.search(r"source = \"(.*)\"", injected.source).group(1)
    assert snapshot.endswith("/snapshot") and not Path(snapshot).exists()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    page = _text((out / "2026-10" / "00_overview.html").read_text())
    assert re.search(r"source: folder \S*data/sample", page)  # the source, not the copy


def test_every_report_says_on_its_first_screen_that_it_holds_customer_data(sample_run):
    out, _ = sample_run
    for page in sorted((out / "2026-10").glob("*.html")):
        text = page.read_text()
        first_screen = _text(text[: text.index("<h2")])  # before the first section
        assert "Contains customer-level data" in first_screen, page.name
        assert "--redact" in first_screen, page.name


def test_every_page_has_a_real_title_and_every_chart_says_what_it_shows(sample_run):
    out, result = sample_run
    names = {"00_briefing": "This month in one page",
             "00_overview": "Post-purchase overview", "01_retention": "Retention",
             "02_churn": "Churn diagnostics", "03_clv": "Customer lifetime value",
             "04_experience": "Post-purchase experience"}
    for page in sorted((out / "2026-10").glob("*.html")):
        text = page.read_text()
        title = re.search(r"<title>(.*?)</title>", text).group(1)
        assert html.unescape(title) == f"{names[page.stem]} · October 2026 · sample", page.name
        alts = _alts(text)
        assert alts or page.stem == "00_briefing", page.name  # the charts' reports
        for alt in alts:
            assert alt and alt.strip() and alt not in ("Chart", "No description has been provided "
                                                          "for this image"), (page.name, alt)
            assert not alt.startswith("Chart in the section"), (page.name, alt)  # its own
    overview = (out / "2026-10" / "00_overview.html").read_text()
    assert _alts(overview) == ["Orders (orders per month); Revenue (revenue per month)"]
    assert {nb["title"] for nb in result.manifest["notebooks"]} == set(names.values())
    assert result.manifest["shop"] == "sample"
    assert "Post-purchase overview" in (out / "index.html").read_text()  # links by name


def test_a_chart_shown_without_its_title_gets_its_section_as_alt_text(tmp_path, caplog):
    from ppxlib.report import render_html

    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
           "RU5ErkJggg==")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Weekly *check*"),
                nbformat.v4.new_markdown_cell("## Returns by week"),
                nbformat.v4.new_code_cell("x", outputs=[
                    nbformat.v4.new_output("display_data", data={"image/png": png}),
                    nbformat.v4.new_output("display_data", data={"image/png": png},
                                           metadata={"image/png": {"alt": 'Returns "<by>"'}})])]
    nbformat.write(nb, tmp_path / "r.ipynb")
    with caplog.at_level("WARNING"):
        render_html(tmp_path / "r.ipynb", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert _alts(page) == ["Chart in the section Returns by week", 'Returns "<by>"']
    assert "<by>" not in page
    assert "Alternative text is missing" not in caplog.text
    assert "<title>Weekly check</title>" in page  # no shop given: the report's heading


def test_params_reach_the_notebooks_that_have_them_typed_and_are_recorded(shop_folder,
                                                                          tmp_path):
    def notebook(name: str, parameters: str) -> Path:
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}})
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"),
                    nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(
                        "from ppxlib import notebook as nb\n"
                        "names = ('currency', 'horizon_months', 'rate', 'flag', 'anything')\n"
                        "got = {k: [type(v).__name__, v] for k, v in dict(globals()).items()\n"
                        "       if k in names}\n"
                        "nb.record_metrics(metrics_path, got=str(sorted(got.items())))")]
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        return path

    common = ("source = None\ntables = None\nmonth = None\nas_of = None\nredact = False\n"
              "metrics_path = None\n")
    first = notebook("a", common + "currency = ''\nhorizon_months = 12\nrate = 0.01\n"
                              "flag = False\nanything = None\n")
    second = notebook("b", common + "currency = ''\n")
    result = run_report(shop_folder, out=tmp_path / "out", notebooks=[first, second],
                        as_of=AS_OF, progress=False,
                        params={"currency": "1", "horizon_months": "24", "rate": "1",
                                "flag": "true", "anything": "[1, 2]"})
    assert result.failed == []
    got = {nb.name: nb.metrics["got"] for nb in result.notebooks}
    assert got["a"] == str(sorted({"currency": ["str", "1"], "horizon_months": ["int", 24],
                                   "rate": ["float", 1.0], "flag": ["bool", True],
                                   "anything": ["list", [1, 2]]}.items()))
    assert got["b"] == str([("currency", ["str", "1"])])  # only what b has
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["parameters"]["notebook_parameters"] == {
        "currency": "1", "horizon_months": 24, "rate": 1.0, "flag": True, "anything": [1, 2]}
    assert {nb["name"]: nb["parameters"] for nb in manifest["notebooks"]}["b"] == {
        "currency": "1"}


def test_two_runs_give_the_same_metrics_and_the_same_html(sample_run, tmp_path):
    out, first = sample_run
    second = run_report(SAMPLE, out=tmp_path, as_of=AS_OF, progress=False)
    assert [nb.metrics for nb in second.notebooks] == [nb.metrics for nb in first.notebooks]
    for page in sorted((out / "2026-10").glob("*.html")):
        again = (tmp_path / "2026-10" / page.name).read_bytes()
        assert again == page.read_bytes(), page.name  # byte for byte, figures included


@pytest.fixture(scope="module")
def broken_shop(tmp_path_factory):
    """A folder with duplicate order ids and negative amounts."""
    folder = tmp_path_factory.mktemp("broken")
    shop = simulate_shop(customers=400, seed=9, start="2025-01-01", end="2025-07-01")
    orders = pd.concat([shop.orders, shop.orders.head(2),
                        shop.orders.iloc[[5]].assign(amount=-20.0, order_id=1)])
    orders.to_csv(folder / "orders.csv", index=False)
    return folder


def test_a_failing_notebook_leaves_the_others_and_the_index_intact(broken_shop, tmp_path):
    good = ppxlib.report.default_notebook_dir() / "00_overview.ipynb"
    bad = tmp_path / "99_broken.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3",
                                                           "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("source = None", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("raise RuntimeError('boom in the report')")]
    nbformat.write(nb, bad)
    out = tmp_path / "out"
    result = run_report(broken_shop, out=out, notebooks=[good, bad], as_of=AS_OF,
                        progress=False)
    assert result.failed == ["99_broken"]
    assert result.label == "2025-06"
    index = (out / "index.html").read_text()
    assert "99_broken" in index and "boom in the report" in index
    assert 'href="2025-06/00_overview.html"' in index
    failed_html = (out / "2025-06" / "99_broken.html").read_text()
    assert "boom in the report" in failed_html  # the error is shown in its report
    manifest = json.loads((out / "2025-06" / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    # the good report lists the broken rows
    overview = _text((out / "2025-06" / "00_overview.html").read_text())
    assert "orders: 2 rows (0.34%) — exact copy of an earlier row" in overview
    assert "orders: 1 row (0.17%) — amount is negative" in overview


def test_rerunning_a_month_replaces_it_and_the_index_lists_every_month(tmp_path):
    shop = simulate_shop(customers=200, seed=4, start="2025-01-01", end="2025-04-01")
    shop.write(tmp_path / "shop")
    out = tmp_path / "out"
    good = [ppxlib.report.default_notebook_dir() / "00_overview.ipynb"]
    run_report(tmp_path / "shop", out=out, month="2025-02", notebooks=good, as_of=AS_OF,
               progress=False)
    (out / "2025-02" / "stale.txt").write_text("left from the first run")
    run_report(tmp_path / "shop", out=out, month="2025-02", notebooks=good, as_of=AS_OF,
               progress=False)
    run_report(tmp_path / "shop", out=out, month="2025-03", notebooks=good, as_of=AS_OF,
               progress=False)
    assert not (out / "2025-02" / "stale.txt").exists()
    index = (out / "index.html").read_text()
    assert index.index("2025-03") < index.index("2025-02")  # newest first
    assert sorted(p.name for p in out.iterdir()) == ["2025-02", "2025-03", "index.html"]


def test_index_escapes_labels_and_errors(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({
        "label": "<b>x</b>", "status": "failed", "started_utc": "",
        "notebooks": [{"name": "n", "status": "failed", "html": None,
                       "error": "<img src=x onerror=alert(1)>"}]}))
    text = write_index(tmp_path).read_text()
    assert "<img" not in text and "&lt;img" in text and "<b>x</b>" not in text


@pytest.mark.parametrize("snapshot", [True, False])
def test_a_secret_in_the_source_never_reaches_any_output(tmp_path, snapshot):
    """A source string holding a token goes to the notebooks by environment variable only.

    (A folder whose name carries the token stands in for a warehouse URL: it is a source
    that really opens here, and the masking does not care which kind it is.)
    """
    shop = simulate_shop(customers=150, seed=2, start="2025-01-01", end="2025-03-01")
    source = tmp_path / "access_token=hunter2"
    shop.write(source)
    out = tmp_path / "out"
    good = [ppxlib.report.default_notebook_dir() / "00_overview.ipynb"]
    result = run_report(source, out=out, notebooks=good, month="2025-02", as_of=AS_OF,
                        progress=False, snapshot=snapshot)
    assert result.failed == []
    for path in out.rglob("*"):
        if path.is_file():
            assert "hunter2" not in path.read_text(errors="replace"), path
    assert result.manifest["parameters"]["source"].endswith("access_token=***")


def test_retention_report_records_what_the_library_computes(sample_run):
    from ppxlib.lifecycle import thresholds
    from ppxlib.pointintime import as_at, month_end
    from ppxlib.retention import period_metrics

    out, _ = sample_run
    manifest = json.loads((out / "2026-10" / "manifest.json").read_text())
    got = next(n for n in manifest["notebooks"] if n["name"] == "01_retention")["metrics"]
    clean = as_at(ppxlib.open(SAMPLE).validate(as_of=pd.Timestamp(AS_OF).to_pydatetime()),
                  month_end("2026-10"))
    found = thresholds(clean.orders)
    row = period_metrics(clean.orders, "2026-10", activity_window_days=found["lost_days"]
                         ).set_index("month").iloc[-1]
    assert got["retention_rate"] == pytest.approx(row.retention_rate, rel=1e-12)
    assert got["retention_rate_exact"] == pytest.approx(row.retention_rate_exact, rel=1e-12)
    assert got["simple_clv"] == pytest.approx(row.simple_clv, rel=1e-12)
    assert 0 < got["reorder_within_90"] < 1 and got["sleeping_days"] < got["lost_days"]
    # one word, one number: the retention table and the lifecycle section agree
    assert got["lost"] == got["lifecycle_lost"] > 0
    assert got["current_customers"] == got["lifecycle_current"]
    text = _text((out / "2026-10" / "01_retention.html").read_text())
    assert "Across cohorts," in text and "Champions are" in text
    assert f"{got['lost']:,} were lost" in text  # the lifecycle sentence's number
    assert "(share kept)" in text and "Definitions" in text


def test_a_one_month_shop_says_there_is_nothing_to_show_yet(tmp_path):
    shop = simulate_shop(customers=40, seed=1, start="2025-03-01", end="2025-04-01")
    shop.write(tmp_path / "shop")
    result = run_report(tmp_path / "shop", out=tmp_path / "out", as_of=AS_OF, progress=False)
    assert result.failed == []
    text = _text((tmp_path / "out" / "2025-03" / "01_retention.html").read_text())
    assert "No cohort is old enough yet" in text
    assert "not enough history yet to compute retention" in text
    assert "Traceback" not in text


def test_churn_and_clv_reports_record_the_fitted_model(sample_run):
    from ppxlib.clv import fit_clv
    from ppxlib.pointintime import as_at, month_end
    from ppxlib.summary import rfm_summary

    out, _ = sample_run
    manifest = json.loads((out / "2026-10" / "manifest.json").read_text())
    metrics = {n["name"]: n["metrics"] for n in manifest["notebooks"]}
    clean = as_at(ppxlib.open(SAMPLE).validate(as_of=pd.Timestamp(AS_OF).to_pydatetime()),
                  month_end("2026-10"))
    summary = rfm_summary(clean.orders, "2026-10-31", freq_multiplier=7)
    used = metrics["02_churn"]["purchase_model"]
    assert used in ("MBG/NBD", "Pareto/NBD") and metrics["03_clv"]["purchase_model"] == used
    model = fit_clv(summary, time_unit_days=7, purchase_model=used)
    prefix = used.replace("/", "").lower()
    for name in model.params_.index:
        key = f"gg_{name}" if name in ("p", "q", "gamma") else f"{prefix}_{name}"
        assert metrics["02_churn"][key] == pytest.approx(model.params_[name]), key
    assert not any(k.startswith("bgnbd_") for k in metrics["02_churn"])
    assert metrics["03_clv"]["mean_clv"] == pytest.approx(
        model.clv(summary, 12, 0.01).mean(), rel=1e-9)
    low, high = (metrics["03_clv"]["expected_repeat_orders_low"],
                 metrics["03_clv"]["expected_repeat_orders_high"])
    assert low < metrics["03_clv"]["expected_repeat_orders"] < high
    churn = (out / "2026-10" / "02_churn.html").read_text()
    assert re.search(r"C00\d{4}", churn)  # not redacted: ids shown ...
    assert "contains customer ids" in churn or "shows customer ids" in churn  # ... and said
    assert f"predicted with {used}" in _text(churn)  # which model, and why, is said


def test_redacted_churn_report_shows_pseudonyms_only(tmp_path):
    notebook = ppxlib.report.default_notebook_dir() / "02_churn.ipynb"
    result = run_report(SAMPLE, out=tmp_path, notebooks=[notebook], as_of=AS_OF, redact=True,
                        progress=False)
    assert result.failed == []
    page = (tmp_path / "2026-10" / "02_churn.html").read_text()
    assert not re.search(r"C00\d{4}", page)
    assert "cust-" in page
    first_screen = _text(page[: page.index("<h2")])
    assert "Redacted: customer ids are replaced by pseudonyms" in first_screen
    assert "Contains customer-level data" not in _text(page)


def test_running_one_notebook_keeps_the_months_other_reports(sample_run, tmp_path,
                                                            monkeypatch):
    import shutil

    out, _ = sample_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    folder = ppxlib.report.default_notebook_dir()
    monkeypatch.chdir(folder.parent)  # a path relative to where the command was given
    notebook = Path(folder.name) / "00_overview.ipynb"
    result = run_report(SAMPLE, out=copy, notebooks=[notebook], as_of=AS_OF, progress=False)
    assert not result.failed
    names = {n["name"] for n in json.loads((copy / "2026-10" / "manifest.json").read_text())[
        "notebooks"]}
    assert names == {"00_briefing", "00_overview", "01_retention", "02_churn", "03_clv",
                     "04_experience"}
    assert (copy / "2026-10" / "03_clv.html").exists()


def test_experience_report_detects_late_delivery_and_escapes_comments(sample_run):
    from ppxlib.simulate import ShopParameters

    out, _ = sample_run
    manifest = json.loads((out / "2026-10" / "manifest.json").read_text())
    metrics = next(n for n in manifest["notebooks"] if n["name"] == "04_experience")["metrics"]
    assert metrics["repurchase90_diff_delivery_late"] == pytest.approx(
        ShopParameters().repurchase_difference(90), abs=0.03)
    assert 0.5 < metrics["on_time_rate"] < 1
    page = (out / "2026-10" / "04_experience.html").read_text()
    assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page
    assert "late delivery were" in _text(page) or "late delivery" in _text(page)


def _notebook(path: Path, *code: str) -> Path:
    """A minimal report notebook: a parameters cell, then ``code`` cells."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3",
                                                           "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"),
                nbformat.v4.new_code_cell("source = None", metadata={"tags": ["parameters"]}),
                *(nbformat.v4.new_code_cell(c) for c in code)]
    nbformat.write(nb, path)
    return path


def test_a_cell_over_the_time_limit_fails_only_its_report(shop_folder, tmp_path):
    overview = ppxlib.report.default_notebook_dir() / "00_overview.ipynb"
    slow = _notebook(tmp_path / "50_slow.ipynb", "import time\ntime.sleep(60)")
    out = tmp_path / "out"
    code = main(["report", "--source", str(shop_folder), "--out", str(out), "--quiet",
                 "--as-of", AS_OF, "--month", "2025-03", "--timeout", "20",
                 "--notebook", str(overview), "--notebook", str(slow)])
    assert code == 1
    manifest = json.loads((out / "2025-03" / "manifest.json").read_text())
    status = {nb["name"]: (nb["status"], nb["error"]) for nb in manifest["notebooks"]}
    assert status["00_overview"] == ("ok", None)
    assert status["50_slow"][0] == "failed" and "timed out" in status["50_slow"][1]
    index = (out / "index.html").read_text()
    assert 'href="2025-03/00_overview.html"' in index and "timed out" in index


def test_duckdb_running_out_of_memory_in_a_notebook_says_how_to_raise_the_cap(shop_folder,
                                                                              tmp_path):
    greedy = _notebook(tmp_path / "50_greedy.ipynb",
                       "import os\nos.environ['PPX_DUCKDB_MEMORY_LIMIT'] = '40MB'\n"
                       "import ppxlib\ncon = ppxlib.open(source).backend\n"
                       "con.raw_sql('SELECT list(range) FROM range(50000000)').fetchall()")
    out = tmp_path / "out"
    code = main(["report", "--source", str(shop_folder), "--out", str(out), "--quiet",
                 "--as-of", AS_OF, "--month", "2025-03", "--notebook", str(greedy)])
    assert code == 1
    manifest = json.loads((out / "2025-03" / "manifest.json").read_text())
    error = manifest["notebooks"][0]["error"]
    assert error.startswith("OutOfMemoryException: DuckDB ran out of memory (Out of Memory")
    assert "PPX_DUCKDB_MEMORY_LIMIT=8GB" in error
    assert "Possible solutions" not in error


def _threads_probe(folder: Path) -> tuple[Path, Path]:
    """A notebook that writes its DuckDB connection's thread count to a file."""
    seen = folder / "threads.txt"
    probe = _notebook(folder / "50_threads.ipynb",
                      "import ppxlib\ncon = ppxlib.open(source).backend\n"
                      "threads = con.raw_sql(\"SELECT current_setting('threads')\").fetchone()[0]\n"
                      f"open({str(seen)!r}, 'w').write(str(threads))")
    return probe, seen


def test_reports_run_in_their_folders_and_leave_the_runners_own_alone(shop_folder, tmp_path):
    here = Path.cwd()
    seen = {}
    probes = []
    for name in ("50_a", "51_b"):
        folder = tmp_path / name
        folder.mkdir()
        seen[name] = tmp_path / f"{name}.txt"
        probes.append(_notebook(folder / f"{name}.ipynb",
                                "import os, time\ntime.sleep(2)\n"
                                f"open({str(seen[name])!r}, 'w').write(os.getcwd())"))
    assert main(["report", "--source", str(shop_folder), "--out", str(tmp_path / "out"),
                 "--quiet", "--as-of", AS_OF, "--month", "2025-03", "--workers", "2",
                 *(arg for probe in probes for arg in ("--notebook", str(probe)))]) == 0
    assert Path.cwd() == here
    for name, path in seen.items():
        assert Path(path.read_text()) == tmp_path / name


@pytest.mark.parametrize("workers", [1, 2])
def test_each_kernel_gets_its_share_of_the_cores_as_duckdb_threads(shop_folder, tmp_path,
                                                                   monkeypatch, workers):
    monkeypatch.delenv("PPX_DUCKDB_THREADS", raising=False)
    probe, seen = _threads_probe(tmp_path)
    code = main(["report", "--source", str(shop_folder), "--out", str(tmp_path / "out"),
                 "--quiet", "--as-of", AS_OF, "--month", "2025-03", "--notebook", str(probe),
                 "--workers", str(workers)])
    assert code == 0
    cores = os.cpu_count() or 1
    assert int(seen.read_text()) == max(1, cores // workers)
    assert ppxlib.report.threads_per_kernel(workers, cores=8) == 8 // workers


def test_the_users_own_duckdb_threads_setting_reaches_the_kernels(shop_folder, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("PPX_DUCKDB_THREADS", "3")
    probe, seen = _threads_probe(tmp_path)
    assert main(["report", "--source", str(shop_folder), "--out", str(tmp_path / "out"),
                 "--quiet", "--as-of", AS_OF, "--month", "2025-03",
                 "--notebook", str(probe)]) == 0
    assert seen.read_text() == "3"


def test_duckdb_running_out_of_memory_before_any_notebook_is_a_clear_error(
        shop_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PPX_DUCKDB_MEMORY_LIMIT", "10MB")
    code = main(["report", "--source", str(shop_folder), "--out", str(tmp_path / "out"),
                 "--quiet", "--as-of", AS_OF, "--month", "2025-03"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("ppx report: DuckDB ran out of memory (Out of Memory Error")
    assert "PPX_DUCKDB_MEMORY_LIMIT=8GB" in err and "Traceback" not in err


def test_a_source_that_disappears_mid_run(shop_folder, tmp_path):
    overview = ppxlib.report.default_notebook_dir() / "00_overview.ipynb"
    vanish = _notebook(tmp_path / "00_vanish.ipynb",
                       f"import shutil\nshutil.rmtree({str(shop_folder)!r})")
    backup = tmp_path / "backup"
    import shutil

    shutil.copytree(shop_folder, backup)
    # The run reads a snapshot validated before the first notebook: nothing is lost.
    out = tmp_path / "pinned"
    code = main(["report", "--source", str(shop_folder), "--out", str(out), "--quiet",
                 "--as-of", AS_OF, "--month", "2025-03", "--notebook", str(vanish),
                 "--notebook", str(overview)])
    assert code == 0 and not shop_folder.exists()
    assert "In March 2025," in _text((out / "2025-03" / "00_overview.html").read_text())
    # Without the snapshot, the notebooks after the loss fail, visibly, and only they.
    shutil.copytree(backup, shop_folder)
    out = tmp_path / "unpinned"
    code = main(["report", "--source", str(shop_folder), "--out", str(out), "--quiet",
                 "--as-of", AS_OF, "--month", "2025-03", "--no-snapshot",
                 "--notebook", str(vanish), "--notebook", str(overview)])
    assert code == 1
    index = (out / "index.html").read_text()
    assert "source not found" in index and 'href="2025-03/00_vanish.html"' in index


def test_a_one_row_shop_with_only_orders_gets_every_report(tmp_path):
    result = run_report(CORPUS / "one_row_shop", out=tmp_path, as_of=AS_OF, progress=False)
    assert result.label == "2025-01"  # its only month, though incomplete
    assert result.failed == []
    assert result.manifest["tables"] == {"orders": True, "returns": False, "surveys": False,
                                         "tickets": False}
    index = _text((tmp_path / "index.html").read_text())
    assert "not provided: returns, surveys, tickets" in index
    experience = _text((tmp_path / "2025-01" / "04_experience.html").read_text())
    assert "No returns table" in experience and "No surveys table" in experience
    for page in (tmp_path / "2025-01").glob("*.html"):
        assert "Traceback" not in page.read_text(), page.name


def test_a_month_outside_the_data_is_refused_before_any_report(tmp_path, capsys):
    code = main(["report", "--source", str(CORPUS / "one_row_shop"), "--out", str(tmp_path),
                 "--as-of", AS_OF, "--month", "2024-12"])
    assert code == 2
    assert "month 2024-12 is outside the data: orders run from 2025-01-02 to 2025-01-02" in (
        capsys.readouterr().err)
    assert not (tmp_path / "2024-12").exists()


def test_a_killed_run_leaves_the_previous_month_whole(shop_folder, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    overview = ppxlib.report.default_notebook_dir() / "00_overview.ipynb"
    out = tmp_path / "out"
    args = ["report", "--source", str(shop_folder), "--out", str(out), "--quiet",
            "--as-of", AS_OF, "--month", "2025-03", "--notebook", str(overview)]
    assert main(args) == 0
    before = (out / "2025-03" / "00_overview.html").read_bytes()
    slow = _notebook(tmp_path / "50_slow.ipynb", "import time\ntime.sleep(60)")
    run = subprocess.Popen([sys.executable, "-m", "ppxlib.cli", *args, "--notebook", str(slow)])
    deadline = time.time() + 60
    while not list(out.glob(".run-*/2025-03/notebooks/50_slow.ipynb")) and time.time() < deadline:
        time.sleep(0.2)  # until the run is inside the slow notebook
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert (out / "2025-03" / "00_overview.html").read_bytes() == before
    assert list(out.glob(".run-*")), "the killed run's work folder is there ..."
    assert main(args) == 0
    assert not list(out.glob(".run-*")), "... until the next run removes it"


GUARD = '''
# Test guard: fail when a query brings more than LIMIT rows from the engine to Python.
import json as _json
import ibis.backends.duckdb as _duckdb

_LIMIT, _LOG, _NOTEBOOK = {limit}, {log!r}, {notebook!r}
_seen = {{"calls": 0, "largest": 0}}


def _check(rows, what):
    _seen["calls"] += 1
    _seen["largest"] = max(_seen["largest"], rows)
    with open(_LOG, "a") as handle:
        handle.write(_json.dumps({{"rows": rows, "what": what, "notebook": _NOTEBOOK}}) + "\\n")
    if rows > _LIMIT:
        raise AssertionError(f"{{what}} brought {{rows}} rows into Python (limit {{_LIMIT}})")


def _wrap(name):
    original = getattr(_duckdb.Backend, name)

    def guarded(self, expr, *args, **kwargs):
        result = original(self, expr, *args, **kwargs)
        rows = getattr(result, "num_rows", None)
        if rows is None:
            rows = len(result) if hasattr(result, "__len__") else 1
        _check(rows, name)
        return result

    setattr(_duckdb.Backend, name, guarded)


for _name in ("execute", "to_pyarrow"):
    _wrap(_name)


_batches = _duckdb.Backend.to_pyarrow_batches


def _counted_batches(self, expr, *args, **kwargs):  # streamed rows count as much as others
    import pyarrow as _pa

    table = _batches(self, expr, *args, **kwargs).read_all()
    _check(table.num_rows, "to_pyarrow_batches")
    return _pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


_duckdb.Backend.to_pyarrow_batches = _counted_batches
'''


def test_the_orders_table_never_comes_to_python(tmp_path):
    """Every report runs with a guard on the engine: no result may be a quarter of the orders.

    The shop has 18 orders per customer, so customer-sized results pass and anything sized by
    orders (or by survey answers, of which there are five per customer) fails the report.
    """
    from ppxlib.simulate import ShopParameters

    parameters = ShopParameters(r=2.0, alpha=4.0, a=0.3, b=6.0, late_churn=0.05)
    shop = simulate_shop(customers=400, seed=5, start="2024-11-01", end="2026-11-01",
                         parameters=parameters)
    shop.write(tmp_path / "shop")
    limit = len(shop.orders) // 4
    assert limit > 4 * shop.orders.customer_id.nunique()
    assert len(shop.surveys) > limit
    log = tmp_path / "guard.jsonl"
    guarded = []
    for original in sorted(ppxlib.report.default_notebook_dir().glob("[0-9]*.ipynb")):
        nb = nbformat.read(original, as_version=4)
        params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get(
            "tags", []))
        nb.cells.insert(params + 1, nbformat.v4.new_code_cell(
            GUARD.format(limit=limit, log=str(log), notebook=original.stem)))
        nbformat.write(nb, tmp_path / original.name)
        guarded.append(tmp_path / original.name)
    result = run_report(tmp_path / "shop", out=tmp_path / "out", notebooks=guarded,
                        as_of=AS_OF, progress=False)
    assert result.failed == [], [nb.error for nb in result.notebooks]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    # the guard saw the reports' queries (results shared between reports are computed,
    # under the guard, by whichever report asks first; 03_clv may find all of its own
    # shared already) ...
    assert len(calls) > 40
    assert {"01_retention", "02_churn", "04_experience"} <= {c["notebook"] for c in calls}
    assert max(c["rows"] for c in calls) <= limit  # ... and none was order-sized



def _dead_pid() -> int:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_only_folders_ppx_marked_are_deleted_or_replaced(tmp_path):
    from ppxlib.report import (
        MARKER,
        _mark,
        _remove_abandoned_runs,
        _swap_into_place,
    )

    pid = _dead_pid()
    theirs = [tmp_path / ".old-budget", tmp_path / f".run-{pid}-mine"]
    ours = [tmp_path / ".old-2026-10-abc", tmp_path / f".run-{pid}-12345678"]
    for folder in theirs + ours:
        folder.mkdir()
        (folder / "keep.txt").write_text("x")
    for folder in ours:
        _mark(folder)
    _remove_abandoned_runs(tmp_path)
    assert all(f.exists() for f in theirs) and not any(f.exists() for f in ours)

    staging = tmp_path / "staging"
    staging.mkdir()
    _mark(staging)
    foreign = tmp_path / "2026-10"
    foreign.mkdir()
    (foreign / "budget.xlsx").write_text("numbers")
    with pytest.raises(ValueError, match="ppx did not make it"):
        _swap_into_place(staging, foreign)
    assert (foreign / "budget.xlsx").read_text() == "numbers" and staging.exists()
    # a month an older ppx wrote (its manifest names it; no marker yet) is replaced
    older = tmp_path / "2026-09"
    older.mkdir()
    (older / "manifest.json").write_text(json.dumps({"label": "2026-09", "notebooks": []}))
    _swap_into_place(staging, older)
    assert (older / MARKER).is_file() and not (older / "manifest.json").exists()
    assert not list(tmp_path.glob(".old-2026-09-*"))


def test_out_may_contain_the_source_but_not_be_in_it(tmp_path):
    from ppxlib.report import check_out

    source = tmp_path / "data" / "shop"
    source.mkdir(parents=True)
    check_out(tmp_path, str(source))  # --out . beside data/: ppx touches only its folders
    check_out(tmp_path / "reports", str(source))
    check_out(source, "postgres://db/shop")  # a URL has no folder to protect
    for inside in (source, source / "reports", source / "a" / "b"):
        with pytest.raises(ValueError, match="inside the source folder"):
            check_out(inside, str(source))


def test_a_redacted_run_without_a_key_makes_one_and_keeps_it_private(tmp_path, monkeypatch,
                                                                     capsys):
    import stat

    from ppxlib.report import KEY_FILE, redaction_key

    monkeypatch.delenv("PPX_REDACT_KEY", raising=False)
    key = redaction_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert len(key) == 64 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err and "made a random" in err
    assert redaction_key(tmp_path) == key  # the next month: the same pseudonyms
    assert redaction_key(tmp_path, progress=False) == key
    other = tmp_path / "other"
    other.mkdir()
    assert redaction_key(other) != key  # random, not derived from anything guessable
    monkeypatch.setenv("PPX_REDACT_KEY", "given")
    assert redaction_key(tmp_path) == "given"


def test_a_secret_in_a_table_location_is_never_a_notebook_parameter(tmp_path):
    source = tmp_path / "shop.duckdb"
    with pytest.raises(ValueError, match=r"--table orders=.*sig=\*\*\* holds a secret") as err:
        run_report(source, out=tmp_path / "out", snapshot=False, progress=False,
                   tables={"orders": "https://acct.blob.core.windows.net/c/o.csv?sig=AbC"})
    assert "AbC" not in str(err.value)


def test_only_some_notebooks_never_mix_redacted_and_plain_reports(tmp_path):
    from ppxlib.report import _check_same_redaction

    month = tmp_path / "2026-10"
    month.mkdir()
    (month / "manifest.json").write_text(json.dumps({"parameters": {"redact": False}}))
    _check_same_redaction(month, False)
    with pytest.raises(ValueError, match="made without redaction"):
        _check_same_redaction(month, True)


def test_a_redacted_page_shows_no_error_details_or_printed_text(tmp_path):
    from ppxlib.report import render_html

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# r"), nbformat.v4.new_code_cell(
        "x", outputs=[nbformat.v4.new_output("stream", name="stdout", text="C000042 spent 9"),
                      nbformat.v4.new_output("error", ename="KeyError", evalue="'C000042'",
                                             traceback=["KeyError: 'C000042'"])])]
    nbformat.write(nb, tmp_path / "r.ipynb")
    render_html(tmp_path / "r.ipynb", tmp_path / "plain.html")
    assert "C000042" in (tmp_path / "plain.html").read_text()
    render_html(tmp_path / "r.ipynb", tmp_path / "redacted.html", redact=True)
    page = (tmp_path / "redacted.html").read_text()
    assert "C000042" not in page and "This section failed (KeyError)" in page


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_full_disk_stops_the_run_and_keeps_the_previous_month(shop_folder, tmp_path,
                                                                monkeypatch, capsys):
    import errno

    overview = ppxlib.report.default_notebook_dir() / "00_overview.ipynb"
    out = tmp_path / "out"
    args = ["report", "--source", str(shop_folder), "--out", str(out), "--quiet",
            "--as-of", AS_OF, "--month", "2025-03", "--notebook", str(overview)]
    assert main(args) == 0
    before = (out / "2025-03" / "00_overview.html").read_bytes()
    write_text = Path.write_text

    def full_disk(self, *args, **kwargs):
        if self.suffix == ".html" and ".run-" in str(self):  # the run's rendered report
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    capsys.readouterr()
    assert main(args) == 1
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("ppx report: [Errno 28] No space left on device")
    assert "nothing was replaced" in line
    assert (out / "2025-03" / "00_overview.html").read_bytes() == before
    assert not list(out.glob(".run-*")) and not list(out.glob(".old-*"))


def test_ctrl_c_ends_the_run_in_one_line_and_leaves_nothing_behind(shop_folder, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    overview = ppxlib.report.default_notebook_dir() / "00_overview.ipynb"
    out = tmp_path / "out"
    args = ["report", "--source", str(shop_folder), "--out", str(out), "--quiet",
            "--as-of", AS_OF, "--month", "2025-03", "--notebook", str(overview)]
    assert main(args) == 0
    before = (out / "2025-03" / "00_overview.html").read_bytes()
    slow = _notebook(tmp_path / "50_slow.ipynb", "import time\ntime.sleep(120)")
    run = subprocess.Popen([sys.executable, "-m", "ppxlib.cli", *args, "--notebook", str(slow)],
                           stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(out.glob(".run-*/2025-03/notebooks/50_slow.ipynb")) and time.time() < deadline:
        time.sleep(0.2)  # until the run is inside the slow notebook
    time.sleep(1)
    stopped = time.time()
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130
    # (papermill warns that the test notebook takes only some parameters: not ppx's lines)
    err = "\n".join(line for line in err.splitlines()
                    if not line.startswith("Passed unknown parameter"))
    assert _one_line(err).startswith("ppx report: interrupted: nothing was replaced")
    assert time.time() - stopped < 30  # the kernels were stopped, not waited for
    assert (out / "2025-03" / "00_overview.html").read_bytes() == before
    assert not list(out.glob(".run-*")), "the interrupted run's work folder is removed"


def _visible_files(out: Path) -> dict[str, str]:
    """Every file under ``out`` as text, inline images left out (their bytes are no text)."""
    return {str(p.relative_to(out)): re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "",
                                            p.read_text(errors="replace"))
            for p in out.rglob("*") if p.is_file()}


@pytest.mark.notebook
def test_a_redacted_sample_run_shows_no_customer_id_or_email_in_any_file(tmp_path,
                                                                         monkeypatch):
    import shutil

    source = tmp_path / "sample"
    shutil.copytree(SAMPLE, source)
    orders = pd.read_csv(source / "orders.csv", dtype=str)
    orders["email"] = orders.customer_id.str.lower() + "@example.com"  # an extra column
    orders.to_csv(source / "orders.csv", index=False)
    ids = set(orders.customer_id.dropna())
    for name in ("surveys", "tickets"):
        ids |= set(pd.read_csv(source / f"{name}.csv", dtype=str).customer_id.dropna())
    secrets = ids | set(orders.email.dropna())
    monkeypatch.delenv("PPX_REDACT_KEY", raising=False)
    out = tmp_path / "out"
    result = run_report(source, out=out, as_of=AS_OF, redact=True, progress=False)
    files = _visible_files(out)
    key = files.pop(".ppx-redact-key").strip()
    assert {"index.html", "2026-10/manifest.json", "2026-10/00_overview.html"} <= set(files)
    assert not [f for f in files if f.endswith(".ipynb")]  # no executed notebooks kept
    leaks = {name: sorted(s for s in secrets if s in text)[:5] for name, text in files.items()}
    leaks = {name: found for name, found in leaks.items() if found}
    assert not leaks, f"customer ids or e-mails in: {leaks}"
    assert not [name for name, text in files.items() if key in text]
    assert result.failed == [], [nb.error for nb in result.notebooks]
    assert "cust-" in files["2026-10/02_churn.html"]


@pytest.mark.notebook
def test_a_shop_with_hostile_labels_renders_every_report(tmp_path):
    """Mathtext, a 3,000-character category, 2,500 regions, control characters in labels."""
    import base64

    shop = simulate_shop(customers=1400, seed=3, start="2025-01-01", end="2026-11-01")
    orders = shop.orders.copy()
    hostile = [r"$\undefinedmacro$", r"$\frac{a}{b}$", "\u202eevil\x1b[31m", "x" * 3000]
    regions = hostile + [f"region {i}" for i in range(2500 - len(hostile))]
    orders["region"] = [regions[i % len(regions)] for i in range(len(orders))]
    assert len(orders) > 2500
    orders["channel"] = orders.channel.map(
        {"web": r"$\undefinedmacro$", "app": r"$\frac{a}{b}$"}).fillna(orders.channel)
    categories = sorted(orders.category.unique())
    orders["category"] = orders.category.map(
        {categories[0]: "c" * 3000, categories[1]: r"$\sqrt{x}$"}).fillna(orders.category)
    tickets = shop.tickets.assign(channel=r"$\undefinedmacro$")
    tickets.loc[tickets.index[::3], "channel"] = "y" * 3000
    surveys = shop.surveys.assign(touchpoint=r"$\frac{a}{b}$")
    folder = tmp_path / "shop"
    folder.mkdir()
    for name, frame in (("orders", orders), ("returns", shop.returns), ("surveys", surveys),
                        ("tickets", tickets)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    result = run_report(folder, out=tmp_path / "out", as_of=AS_OF, progress=False)
    assert result.failed == [], [nb.error for nb in result.notebooks]
    for page in sorted((tmp_path / "out" / result.label).glob("*.html")):
        text = page.read_text()
        assert "Traceback" not in text and "ParseFatalException" not in text, page.name
        assert "\u202e" not in text and "\x1b" not in text, page.name
        for image in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text):
            header = base64.b64decode(image[:48])[16:24]
            width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
            assert width <= 1600 and height <= 2000, (page.name, width, height)
        assert page.stat().st_size < 3 * 2**20, page.name


#: Method words that belong in a "How this is computed" note, a table or the Definitions.
METHOD_WORDS = ("Wilson", "log-rank", "Holm", "Newcombe", "BG/NBD", "Pareto/NBD",
                "Gamma-Gamma", "Kaplan", "p =", "(E − N)", "(E−N)", "seeds", "redact=",
                "top two boxes", "mean absolute error", "censored")


def test_sample_pages_show_no_chart_twice_and_methods_only_in_notes(sample_run):
    # issue 16: 04 drew the late-delivery curves in the grid and again alone; method names
    # and formulas sat in section intros, takeaways and chart titles
    out, _ = sample_run
    for name in ("00_overview", "01_retention", "02_churn", "03_clv", "04_experience"):
        page = out / "2026-10" / f"{name}.html"
        text = page.read_text()
        images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
        assert len(images) == len(set(images)), page.name
        assert "How this is computed</summary>" in text, page.name
        body = re.split(r'<section[^>]*id="definitions"', text)[0]  # the reference may
        body = re.sub(r"<details.*?</details>|<table.*?</table>", "", body, flags=re.S)
        shown = _text(body)
        assert not [w for w in METHOD_WORDS if w in shown], page.name


def test_a_kernel_that_dies_before_starting_is_started_once_more(monkeypatch, tmp_path):
    """A port taken by another process between jupyter_client's pick and the kernel's bind
    kills the kernel before any cell runs; the runner starts a second one, once."""
    import papermill

    from ppxlib.report import _execute

    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < failures + 1:
            raise RuntimeError("Kernel died before replying to kernel_info")

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    failures = 1
    assert _execute(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {}, tmp_path, 60) is None
    assert len(calls) == 2
    calls.clear()
    failures = 2  # dying twice is a failed report, not an endless retry
    error = _execute(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {}, tmp_path, 60)
    assert "died before replying" in error and len(calls) == 2


def test_a_report_is_found_by_name_or_by_path(tmp_path):
    from ppxlib.report import default_notebook_dir, find_notebooks

    folder = default_notebook_dir()
    mine = _notebook(tmp_path / "my report.ipynb", "x = 1")
    assert find_notebooks(["04_experience", "03_clv.ipynb", str(mine),
                           folder / "04_experience.ipynb"]) == [
        folder / "04_experience.ipynb", folder / "03_clv.ipynb", mine]
    assert find_notebooks(None) == sorted(folder.glob("[0-9]*.ipynb"))
    (tmp_path / "07_mine.ipynb").write_bytes(mine.read_bytes())
    assert find_notebooks(["07_mine"], folder=tmp_path) == [tmp_path / "07_mine.ipynb"]
    with pytest.raises(FileNotFoundError, match=r"--notebook 07_mine: .*reports: 00_brief"):
        find_notebooks(["07_mine"])  # a name is looked up in the notebooks folder only


def test_progress_names_the_section_being_computed_while_it_runs(shop_folder, tmp_path,
                                                                 monkeypatch, capsys):
    """A long cell is not silence: every heartbeat says which report is in which section;
    two reports at once never share a line."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name, heading in (("50_kettle", "Boiling the *kettle*"), ("51_toast", "Toast \x1b[2J")):
        nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
            "name": "python3", "display_name": "Python 3", "language": "python"}})
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"),
                    nbformat.v4.new_code_cell("source = None",
                                              metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_markdown_cell(f"Some words.\n\n## {heading}\n"),
                    nbformat.v4.new_code_cell("import time\ntime.sleep(1.2)")]
        nbformat.write(nb, folder / f"{name}.ipynb")
    monkeypatch.setattr(ppxlib.report, "default_notebook_dir", lambda: folder)
    monkeypatch.setattr(ppxlib.report, "HEARTBEAT_S", 0.3)
    out = tmp_path / "out"
    code = main(["report", "--source", str(shop_folder), "--out", str(out), "--as-of", AS_OF,
                 "--month", "2025-03", "--notebook", "50_kettle", "--notebook", "51_toast.ipynb",
                 "--workers", "2"])
    assert code == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "2 reports for 2025-03, 2 at a time"
    beat = re.compile(r"(50_kettle|51_toast) \.\.\. (starting its kernel|computing '.+'|"
                      r"rendering its page) \(\d+ s\)")
    ends = re.compile(r"(50_kettle|51_toast) \.\.\. ok \(\d+\.\d s\)")
    assert all(beat.fullmatch(line) or ends.fullmatch(line) for line in lines[1:]), lines
    assert len([x for x in lines if ends.fullmatch(x)]) == 2
    kettle = [x for x in lines if x.startswith("50_kettle ... computing 'Boiling the kettle'")]
    toast = [x for x in lines if x.startswith(r"51_toast ... computing 'Toast \x1b[2J'")]
    assert len(kettle) >= 2 and len(toast) >= 2, lines
    manifest = json.loads((out / "2025-03" / "manifest.json").read_text())
    assert [nb["name"] for nb in manifest["notebooks"]] == ["50_kettle", "51_toast"]
