"""The pages as a browser shows them: headless Chromium (Debian's) driven by Playwright.

Every page of a sample run, and the landing page, must load from files alone (no request
to any network address), log no console error, decode every image and fit the window's
width. Screenshots are saved under the test's temporary folder for a person to look at.

Playwright's own browser download is not used: the tests drive the ``chromium`` binary of
the machine (``apt-get install chromium``; ``$PPX_CHROMIUM`` names another one).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ppxlib.report import run_report

from conftest import SAMPLE

AS_OF = "2026-11-23T00:00:00"
#: A laptop's window and a phone's: nothing may be wider than either.
VIEWPORTS = {"laptop": (1280, 800), "phone": (390, 844)}


def _chromium() -> str | None:
    given = os.environ.get("PPX_CHROMIUM")
    if given:
        return given
    return next((found for name in ("chromium", "chromium-browser")
                 if (found := shutil.which(name))), None)


CHROMIUM = _chromium()
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
if CHROMIUM is None:
    pytest.skip("Chromium not found: the browser tests need Debian's chromium "
                "(apt-get install chromium; .ci/run installs it)", allow_module_level=True)

#: Elements wider than the window, not counting what sits inside a scrolling box (a wide
#: table scrolls inside its output area; the page itself does not).
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = el => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if ((r.right > width + 1 || r.left < -1) && r.width > 0 && !scrolls(el)) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className} (${Math.round(r.width)} px)`);
    }
  }
  return {width, page: document.documentElement.scrollWidth, wide: wide.slice(0, 5)};
}"""
BROKEN_IMAGES = """() => [...document.images]
  .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.alt)"""


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def check_page(browser, path: Path, shots: Path) -> dict:
    """Open ``path`` at every viewport; return what went wrong (empty lists when nothing)."""
    found: dict = {"requests": [], "console": [], "broken": [], "wide": {}, "title": None}
    for name, (width, height) in VIEWPORTS.items():
        page = browser.new_page(viewport={"width": width, "height": height})

        def route(route):
            url = route.request.url
            if url.startswith(("file:", "data:")):
                route.continue_()
            else:
                found["requests"].append(url)
                route.abort()

        page.route("**/*", route)
        page.on("console", lambda msg: msg.type == "error"
                and found["console"].append(msg.text))
        page.on("pageerror", lambda err: found["console"].append(str(err)))
        page.goto(path.resolve().as_uri(), wait_until="load")
        found["title"] = page.title()
        found["images"] = page.evaluate("() => document.images.length")
        found["broken"] += page.evaluate(BROKEN_IMAGES)
        layout = page.evaluate(TOO_WIDE)
        if layout["wide"] or layout["page"] > layout["width"]:
            found["wide"][name] = layout
        page.screenshot(path=str(shots / f"{path.parent.name}-{path.stem}-{name}.png"),
                        full_page=name == "laptop")
        page.close()
    return found


def _assert_clean(found: dict, where: str) -> None:
    assert found["requests"] == [], f"{where} asked the network for {found['requests'][:3]}"
    assert found["console"] == [], f"{where} logged errors: {found['console'][:3]}"
    assert found["broken"] == [], f"{where} has images that do not decode: {found['broken']}"
    assert found["wide"] == {}, f"{where} is wider than the window: {found['wide']}"


def test_a_page_that_asks_the_network_or_overflows_is_caught(browser, tmp_path):
    """The checks themselves: a page with a remote image, a script error and a wide box."""
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html><head><title>bad</title></head><body>'
                    '<img src="https://example.invalid/x.png" alt="remote">'
                    '<div style="width:3000px">wide</div><script>nothing.here()</script>'
                    "</body></html>")
    found = check_page(browser, page, tmp_path)
    assert found["requests"] == ["https://example.invalid/x.png"] * len(VIEWPORTS)
    assert any("nothing is not defined" in m for m in found["console"])
    assert found["broken"] == ["remote"] * len(VIEWPORTS)
    assert set(found["wide"]) == set(VIEWPORTS)


def test_the_landing_page_of_many_months_in_a_browser(browser, tmp_path):
    """A landing page of three months (one of them failed) without running any notebook."""
    out = tmp_path / "out"
    metrics = {"revenue": 32262.26, "customers": 469.0, "new_customers": 147.0,
               "repeat_purchase_rate": 0.45}
    for i, month in enumerate(("2025-10", "2026-09", "2026-10")):
        failed = month == "2026-09"
        (out / month).mkdir(parents=True)
        (out / month / "manifest.json").write_text(json.dumps({
            "label": month, "month": month, "shop": "sample", "status": "failed" if failed
            else "ok", "started_utc": "2026-11-23T00:00:00+00:00",
            "parameters": {"notebook_parameters": {"currency": "€"}},
            "notebooks": [{"name": "00_overview", "title": "Post-purchase overview",
                           "status": "failed" if failed else "ok", "html": None,
                           "error": "RuntimeError: " + "a very long error " * 40 if failed
                           else None, "metrics": {k: v * (1 + i / 10)
                                                  for k, v in metrics.items()}}]}))
    from ppxlib.landing import write_landing

    found = check_page(browser, write_landing(out), tmp_path)
    _assert_clean(found, "index.html")
    assert found["title"] == "Post-purchase experience reports · sample"


@pytest.mark.notebook
def test_every_page_of_a_sample_run_in_a_browser(browser, tmp_path):
    out = tmp_path / "reports"
    result = run_report(SAMPLE, out=out, as_of=AS_OF, progress=False,
                        params={"currency": "€"})
    assert result.failed == []
    shots = tmp_path / "screenshots"
    shots.mkdir()
    pages = [out / "index.html", *sorted((out / result.label).glob("*.html"))]
    assert len(pages) == 1 + len(result.notebooks)
    for path in pages:
        found = check_page(browser, path, shots)
        _assert_clean(found, path.name)
        assert found["title"] and found["title"] != "Notebook", path.name
        if path.name != "index.html":
            assert found["title"].endswith(" · October 2026 · sample"), found["title"]
            assert found["images"] == path.read_text().count("<img "), path.name
    assert len(list(shots.glob("*.png"))) == len(pages) * len(VIEWPORTS)
