"""The data-quality record: what reports and ``ppx validate`` show of the rows set aside."""

from __future__ import annotations

import datetime as dt

import pandas as pd

import ppxlib
from ppxlib.notebook import pseudonym
from ppxlib.validation import strip_controls, terminal_safe, utc_naive

from conftest import AS_OF


def _shop() -> dict[str, pd.DataFrame]:
    orders = pd.DataFrame({
        "order_id": ["O-7731", "O-7732", "O-7733"],
        "customer_id": ["C000123", "C000456", "C000789"],
        "order_ts": pd.to_datetime(["2025-01-02", "2025-01-03", "2025-01-04"]),
        "amount": [-10.0, -20.0, 30.0],  # two negative: excluded, shown as examples
        "email": ["ann@example.com", "bob@example.org", "cy@example.net"],
    })
    surveys = pd.DataFrame({
        "response_id": ["R-501", "R-502"], "customer_id": ["C000123", "C000456"],
        "response_ts": pd.to_datetime(["2025-01-05", "2025-01-06"]),
        "metric": ["nps", "nps"], "score": [11.0, 9.0],
        "comment": ["my name is Ann Smith and I live at 1 Main St", "fine"],
    })
    return {"orders": orders, "surveys": surveys}


def _quality():
    return ppxlib.open(_shop()).validate(as_of=AS_OF).quality


def test_examples_never_show_columns_outside_the_contract():
    quality = _quality()
    for page in (quality.to_html(), quality.to_text()):
        assert "example." not in page and "email" not in page
    assert "email" not in quality.examples[("orders", "negative_amount")].columns


def test_redacted_examples_show_pseudonyms_and_short_excerpts(monkeypatch):
    monkeypatch.setenv("PPX_REDACT_KEY", "a key for this test only")
    quality = _quality()
    plain = quality.to_html()
    assert "C000123" in plain and "O-7731" in plain  # unredacted, ids are shown
    for page in (quality.to_html(redact=True), quality.to_text(redact=True)):
        for secret in ("C000123", "C000456", "O-7731", "O-7732", "R-501", "Main St", "@"):
            assert secret not in page
        assert pseudonym("C000456") in page and pseudonym("O-7732") in page  # -20 first
        assert "my name is Ann Smith…" in page  # 20 characters and an ellipsis
    assert pseudonym("O-7731") in quality.to_html(redact=True)  # every example row


def test_terminal_output_escapes_control_characters_and_bidi_overrides():
    orders = pd.DataFrame({
        "order_id": ["1", "2"], "customer_id": ["a\x00b", "c"],
        "order_ts": pd.to_datetime(["2025-01-02", "2025-01-03"]), "amount": [-1.0, 2.0],
        "category": ["\x1b]0;owned\x07\x9b31m\u2066x\u2069", "home"],
    })
    quality = ppxlib.open({"orders": orders}).validate(as_of=AS_OF).quality
    text = quality.to_text()
    assert all(c not in text for c in "\x00\x1b\x07\x9b\u2066\u2069")
    assert r"customer_id=a\x00b" in text
    assert r"category=\x1b]0;owned\x07\x9b31m\u2066x\u2069" in text
    page = quality.to_html()
    assert all(c not in page for c in "\x00\x1b\x07\x9b\u2066\u2069")
    assert ">ab<" in page and "]0;owned31mx" in page


def test_escape_helpers():
    assert terminal_safe("ok\ttab\u202e") == r"ok\x09tab\u202e"
    assert strip_controls("a\u202db\x7fc\u200f") == "abc"
    assert terminal_safe("Ünïcode — fine") == "Ünïcode — fine"


def test_an_as_of_with_an_offset_is_converted_to_utc():
    assert utc_naive("2026-11-01T06:00+02:00") == dt.datetime(2026, 11, 1, 4, 0)
    assert utc_naive(dt.datetime(2026, 11, 1, 6, 0)) == dt.datetime(2026, 11, 1, 6, 0)
    orders = pd.DataFrame({"order_id": [1, 2], "customer_id": ["a", "b"],
                           "order_ts": pd.to_datetime(["2026-11-01 03:00", "2026-11-01 05:00"]),
                           "amount": [1.0, 2.0]})
    clean = ppxlib.open({"orders": orders}).validate(as_of="2026-11-01T06:00+02:00")
    assert clean.quality.as_of == dt.datetime(2026, 11, 1, 4, 0)
    assert clean.orders.to_pandas().order_id.tolist() == [1]  # 05:00 UTC is after 04:00 UTC


def test_adjustments_are_in_the_summary():
    orders = pd.DataFrame({"order_id": [1], "customer_id": [" a"],
                           "order_ts": pd.to_datetime(["2025-01-02"]), "amount": [1.0]})
    quality = ppxlib.open({"orders": orders}).validate(as_of=AS_OF).quality
    summary = quality.to_dict()
    assert summary["adjustments"][0]["rule"] == "padded_customer_id"
    assert summary["adjustments"][0]["action"] == "kept" and summary["exclusions"] == []
    assert quality.rows_excluded == 0
    assert "Kept, with a value blanked or noted" in quality.to_html()
