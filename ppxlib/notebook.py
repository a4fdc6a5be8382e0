"""Helpers that notebooks use to show results: escaped tables, takeaways, headline metrics.

They only display; every number they show was computed elsewhere. All text passes through
:func:`html.escape`, because values such as categories or customer comments are untrusted.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ppxlib.plots import INVISIBLE, currency_prefix, use_style

STYLE = """
<style>
.ppx-takeaway{font-size:1.05em;color:#333;margin:.2em 0 .8em;border-left:4px solid #2f6690;
  padding:.2em .7em;background:#f4f7fa}
.ppx-meta{color:#666;font-size:.9em}
.ppx-kpis{display:flex;flex-wrap:wrap;gap:.8em;margin:.5em 0 1em}
.ppx-kpi{border:1px solid #dde3e8;border-radius:6px;padding:.6em .9em;min-width:10em}
.ppx-kpi .v{font-size:1.5em;font-weight:600;color:#222}
.ppx-kpi .l{color:#555;font-size:.9em}
.ppx-kpi .c{font-size:.85em}
.ppx-up{color:#3a7d44}.ppx-down{color:#d1495b}.ppx-flat{color:#777}
table.ppx{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
table.ppx th,table.ppx td{border-bottom:1px solid #e3e3e3;padding:.25em .7em;text-align:right}
table.ppx th:first-child,table.ppx td:first-child,table.ppx .t{text-align:left}
table.ppx th{vertical-align:bottom} table.ppx td:first-child{white-space:nowrap}
.ppx-quality table{border-collapse:collapse;font-size:.9em;margin:.3em 0}
.ppx-quality td,.ppx-quality th{border-bottom:1px solid #e3e3e3;padding:.2em .6em}
.ppx-notice{background:#fff6e5;border:1px solid #f0c36d;padding:.4em .8em;border-radius:4px}
.ppx-takeaway,.ppx-meta,.ppx-notice{overflow-wrap:anywhere}
details.ppx-how{color:#555;font-size:.9em;margin:.3em 0 1em}
details.ppx-how summary{cursor:pointer;color:#2f6690}
details.ppx-how p{margin:.3em 0 .3em 1em;overflow-wrap:anywhere}
</style>
"""


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def setup() -> None:
    """Style figures and tables for a report; call once at the top of a notebook."""
    from IPython import get_ipython
    from IPython.display import HTML

    use_style()
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
        shell.run_line_magic("config", "InlineBackend.rc = {'figure.dpi': 100}")
    _display(HTML(STYLE))


def plain_text(text: object) -> str:
    r"""A value as text with control characters and bidi overrides removed (not escaped).

    Examples
    --------
    >>> plain_text("evil\u202egnp.exe\x1b[31m")
    'evilgnp.exe[31m'
    """
    return INVISIBLE.sub("", "" if text is None else str(text))


def html_text(text: object) -> str:
    r"""Escape any value for HTML, dropping control characters and bidi overrides.

    Examples
    --------
    >>> html_text("<b>\u202eN\x00orth</b>")
    '&lt;b&gt;North&lt;/b&gt;'
    """
    return html.escape(plain_text(text))


def heading(text: str, level: int = 2) -> None:
    """Show a heading (escaped)."""
    from IPython.display import HTML

    _display(HTML(f"<h{level}>{html_text(text)}</h{level}>"))


def takeaway(text: str) -> None:
    """Show a one-line takeaway under a chart or table (escaped)."""
    from IPython.display import HTML

    _display(HTML(f'<p class="ppx-takeaway">{html_text(text)}</p>'))


def note(text: str, kind: str = "meta") -> None:
    """Show a small note (``kind`` = "meta" or "notice")."""
    from IPython.display import HTML

    _display(HTML(f'<p class="ppx-{kind}">{html_text(text)}</p>'))


def how_computed_html(text: str | list[str] | tuple[str, ...]) -> str:
    """A collapsed "How this is computed" note (escaped): methods, tests and parameters.

    Titles and takeaways say what was found in words; the method behind them goes here,
    closed until the reader opens it. A list gives one paragraph per item; empty items are
    left out, and nothing at all gives an empty string.

    Examples
    --------
    >>> how_computed_html(["Wilson interval.", "p < 0.05"])[:67]
    '<details class="ppx-how"><summary>How this is computed</summary><p>'
    >>> "p &lt; 0.05" in how_computed_html(["Wilson interval.", "p < 0.05"])
    True
    >>> how_computed_html([])
    ''
    """
    items = [text] if isinstance(text, str) else list(text)
    paragraphs = "".join(f"<p>{html_text(t)}</p>" for t in items if t and str(t).strip())
    if not paragraphs:
        return ""
    return (f'<details class="ppx-how"><summary>How this is computed</summary>{paragraphs}'
            "</details>")


def how_computed(text: str | list[str] | tuple[str, ...]) -> None:
    """Show :func:`how_computed_html` under a section (nothing when there is nothing to say)."""
    from IPython.display import HTML

    markup = how_computed_html(text)
    if markup:
        _display(HTML(markup))


def raw_html(markup: str) -> None:
    """Show markup produced by the library (which escapes its own values)."""
    from IPython.display import HTML

    _display(HTML(markup))


def show(fig) -> None:
    """Display a figure once, with its title as the image's alt text, and release it.

    The alt text travels in the output's metadata (``image/png`` → ``alt``); the report
    template writes it into the ``<img>``, so a screen reader says what the chart shows.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig, metadata={"image/png": {"alt": figure_alt(fig)}})
    plt.close(fig)


def figure_alt(fig) -> str:
    """What a figure shows, in words: its title, else its panels' titles, else its axes.

    A figure with a title and titled panels gives "title: panel; panel", a panel's y axis
    label in brackets after its title. A panel without a title is described by its axis
    labels ("revenue by month"); a figure with no axes by its text (the "nothing to show"
    figures). Control characters are dropped; at most 300 characters.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, (a, b) = plt.subplots(2)
    >>> _ = fig.suptitle("Orders and revenue"); _ = a.set_title("Orders")
    >>> _ = a.set_ylabel("orders per month")
    >>> _ = b.set_ylabel("revenue"); _ = b.set_xlabel("month")
    >>> figure_alt(fig)
    'Orders and revenue: Orders (orders per month); revenue by month'
    >>> plt.close(fig)
    """
    def clean(text: object) -> str:
        return " ".join(plain_text(text).split())

    suptitle = getattr(fig, "_suptitle", None)
    title = clean(suptitle.get_text()) if suptitle is not None else ""
    panels = []
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        name = next((clean(ax.get_title(loc)) for loc in ("center", "left", "right")
                     if clean(ax.get_title(loc))), "")
        y, x = clean(ax.get_ylabel()), clean(ax.get_xlabel())
        if not name:
            name = f"{y} by {x}" if y and x else y or x
        elif y and y.lower() != name.lower():
            name = f"{name} ({y})"  # "Orders (orders per month)"
        if name and name not in panels:
            panels.append(name)
    if not title and not panels:
        texts = [clean(t.get_text()) for t in fig.texts]
        texts += [clean(t.get_text()) for ax in fig.axes for t in ax.texts]
        return "; ".join(t for t in texts if t)[:300] or "Chart"
    if title and panels and panels != [title]:
        return f"{title}: {'; '.join(panels)}"[:300]
    return (title or "; ".join(panels))[:300]


def format_value(value: float, unit: str, currency: str = "") -> str:
    """Format a KPI value by unit ("count", "currency", "share").

    Amounts carry the currency (a code such as "EUR" gets a space), the sign before it.

    Examples
    --------
    >>> format_value(32262.4, "currency", "€"), format_value(-60.3, "currency", "EUR")
    ('€32,262', '−EUR 60.30')
    >>> format_value(60.3, "currency")
    '60.30'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "currency":
        sign = "−" if value < 0 else ""
        amount = f"{abs(value):,.2f}" if abs(value) < 1000 else f"{abs(value):,.0f}"
        return f"{sign}{currency_prefix(currency)}{amount}"
    return f"{value:,.0f}"


def money_format(currency: str = "", decimals: int = 0) -> Callable[[Any], str]:
    """A table column formatter for amounts: ``money_format("€")(1234.5) == '€1,235'``.

    Examples
    --------
    >>> money_format("€", 2)(-5), money_format()(1234.5)
    ('−€5.00', '1,234')
    """
    prefix = currency_prefix(currency)

    def fmt(value: Any) -> str:
        value = float(value)
        return f"{'−' if value < 0 else ''}{prefix}{abs(value):,.{decimals}f}"

    return fmt


def kpi_cards_html(kpis: pd.DataFrame, previous_label: str, currency: str = "") -> str:
    """KPI cards (value, label, change against the previous period) as escaped HTML."""
    cards = []
    for row in kpis.itertuples():
        if row.unit == "share":
            change = "n/a" if math.isnan(row.change) else f"{row.change * 100:+.1f} pp"
            direction = row.change
        else:
            change = "n/a" if math.isnan(row.change_pct) else f"{row.change_pct:+.1%}"
            direction = row.change_pct
        css = ("ppx-flat" if direction is None or math.isnan(direction) or abs(direction) < 0.005
               else "ppx-up" if direction > 0 else "ppx-down")
        cards.append(
            f'<div class="ppx-kpi"><div class="l">{html_text(row.label)}</div>'
            f'<div class="v">{html_text(format_value(row.value, row.unit, currency))}</div>'
            f'<div class="c {css}">{html_text(change)} vs {html_text(previous_label)} '
            f'({html_text(format_value(row.previous, row.unit, currency))})</div></div>'
        )
    return '<div class="ppx-kpis">' + "".join(cards) + "</div>"


def table_html(frame: pd.DataFrame, formats: Mapping[str, Callable[[Any], str]] | None = None,
               labels: Mapping[str, str] | None = None, max_rows: int = 200,
               max_chars: int = 300) -> str:
    """An HTML table with every cell escaped, per-column formatters and header labels.

    Text columns are left-aligned, numbers right-aligned; missing values show as "–". At most
    ``max_rows`` rows are shown (a note counts the others) and a cell's text is cut at
    ``max_chars`` characters with "…": a 3,000-character category must not make the page
    three screens wide (comments are cut to 280 before they get here).

    Examples
    --------
    >>> "<td class=t>xxxxx…</td>" in table_html(pd.DataFrame({"region": ["x" * 500]}),
    ...                                         max_chars=5)
    True
    """
    formats = formats or {}
    labels = labels or {}
    text_cols = {c for c in frame.columns
                 if frame[c].dtype == object and c not in formats}
    head = "".join(
        f'<th{" class=t" if c in text_cols else ""}>{html_text(labels.get(c, c))}</th>'
        for c in frame.columns)
    body = []
    for row in frame.head(max_rows).itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            text = "–" if missing else formats[col](value) if col in formats else value
            text = plain_text(text)
            if len(text) > max_chars:
                text = text[:max_chars] + "…"
            css = " class=t" if col in text_cols else ""
            cells.append(f"<td{css}>{html_text(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f'<p class="ppx-meta">{len(frame) - max_rows:,} more rows not shown.</p>'
            if len(frame) > max_rows else "")
    rows = "".join(body)
    return (f'<table class="ppx"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            f"{more}")


REDACT_KEY_ENV = "PPX_REDACT_KEY"
#: Hex digits of the keyed hash kept: 64 bits, so a million customers share a pseudonym with
#: odds of about 1 in 30 million. Length is not what protects the ids: without the key, no
#: number of guesses tells which id gave a pseudonym (HMAC-SHA256 with a secret key).
PSEUDONYM_HEX = 16


class RedactionKeyMissing(RuntimeError):
    """Raised when a pseudonym is asked for without a redaction key."""


def pseudonym(value: object, key: str | None = None) -> str:
    """A stable pseudonym for a customer id: a keyed hash, the same in every report.

    The key comes from ``$PPX_REDACT_KEY`` unless given. There is no default key: with a
    known key anyone could hash guessed ids and match them. ``ppx report --redact`` makes a
    random key and keeps it in the output folder when none is set.

    Raises
    ------
    RedactionKeyMissing
        When neither ``key`` nor ``$PPX_REDACT_KEY`` is given.

    Examples
    --------
    >>> pseudonym("C000042", key="k") == pseudonym("C000042", key="k")
    True
    >>> pseudonym("C000042", key="k")
    'cust-1398ffbf2365d029'
    """
    import hashlib
    import hmac
    import os

    secret = key if key is not None else os.environ.get(REDACT_KEY_ENV)
    if not secret:
        raise RedactionKeyMissing(
            f"no redaction key: set ${REDACT_KEY_ENV} (any long random text, kept private) "
            "or pass key=; ppx report --redact makes one when none is set")
    digest = hmac.new(secret.encode(), str(value).encode(), hashlib.sha256).hexdigest()
    return f"cust-{digest[:PSEUDONYM_HEX]}"


def customer_ids(ids: pd.Index | pd.Series, redact: bool) -> list[str]:
    """Ids as shown in a report: as they are, or pseudonyms when ``redact``."""
    return [pseudonym(i) if redact else str(i) for i in ids]


def record_metrics(path: str | Path | None, **metrics: Any) -> None:
    """Merge headline metrics into the JSON file the report runner collects into the manifest.

    Values must be JSON numbers, strings or None; NaN becomes None. ``path=None`` (an
    interactive session) records nothing.
    """
    if not path:
        return
    path = Path(path)
    current = json.loads(path.read_text()) if path.exists() else {}
    for key, value in metrics.items():
        if isinstance(value, float) and math.isnan(value):
            value = None
        elif hasattr(value, "item"):  # numpy scalars
            value = value.item()
        current[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2, sort_keys=True))


def findings_html(texts: list[str], links: list[str]) -> str:
    """The briefing's ranked findings: a numbered list, each sentence linking to where it is
    shown in full (escaped; links are pages or anchors the runner writes, never data).

    Examples
    --------
    >>> findings_html(["Revenue rose <a lot>."], ["00_overview.html"])
    '<ol class="ppx-findings"><li>Revenue rose &lt;a lot&gt;. <a href="00_overview.html">\
Details</a></li></ol>'
    """
    items = "".join(f'<li>{html_text(text)} <a href="{html.escape(link, quote=True)}">'
                    f"Details</a></li>" for text, link in zip(texts, links, strict=True))
    return f'<ol class="ppx-findings">{items}</ol>'
