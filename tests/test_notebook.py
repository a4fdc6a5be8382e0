"""Notebook display helpers: escaping, stripping what is no text, capped cells, pseudonyms."""

from __future__ import annotations

import pandas as pd
import pytest

from ppxlib import notebook as nb


def test_html_text_escapes_and_drops_control_characters_and_bidi_overrides():
    hostile = "<b>No\x00rth\x1b[31m</b>\u202egnp.exe\u2066x\u2069\x9b"
    assert nb.html_text(hostile) == "&lt;b&gt;North[31m&lt;/b&gt;gnp.exex"
    for char in "\x00\x1b\x9b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert char not in nb.html_text(f"a{char}b"), repr(char)
    assert nb.html_text("a\tb\nc") == "a\tb\nc"  # white space is text
    assert nb.html_text(None) == ""


def test_table_cells_are_stripped_and_capped():
    frame = pd.DataFrame({"region": ["\u202eevil", "x" * 3000], "orders": [1, 2]})
    page = nb.table_html(frame)
    assert "\u202e" not in page and "<td class=t>evil</td>" in page
    assert "x" * 300 + "…" in page and "x" * 301 not in page
    assert len(page) < 1000


def test_a_pseudonym_needs_a_key(monkeypatch):
    monkeypatch.delenv(nb.REDACT_KEY_ENV, raising=False)
    with pytest.raises(nb.RedactionKeyMissing, match="PPX_REDACT_KEY"):
        nb.pseudonym("C000042")
    with pytest.raises(nb.RedactionKeyMissing):
        nb.customer_ids(pd.Index(["C000042"]), redact=True)
    assert nb.customer_ids(pd.Index(["C000042"]), redact=False) == ["C000042"]


def test_pseudonyms_are_keyed_long_and_stable(monkeypatch):
    import hashlib
    import hmac

    monkeypatch.setenv(nb.REDACT_KEY_ENV, "a long private key")
    made = nb.customer_ids(pd.Index(["C000042", "C000043"]), redact=True)
    digest = hmac.new(b"a long private key", b"C000042", hashlib.sha256).hexdigest()
    assert made[0] == f"cust-{digest[:16]}" == nb.pseudonym("C000042", key="a long private key")
    assert made[0] != made[1]
    # the key is what protects the id: another key gives another pseudonym
    assert nb.pseudonym("C000042", key="other") != made[0]
    # the former default key no longer applies: hashing guessed ids with it finds nothing
    guessed = hmac.new(b"ppx", b"C000042", hashlib.sha256).hexdigest()
    assert guessed[:10] not in made[0]
