"""Broken inputs as shops really send them, each with the exact behaviour expected.

Every folder under ``tests/corpus/`` is a small shop with one defect. A defect that makes a
file unusable stops with a ContractError naming the table and what to do; a defect in some
rows excludes exactly those rows and counts them; a format the contract accepts is read to
the right values.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import ppxlib
from ppxlib.contract import ContractError

from conftest import AS_OF

CORPUS = Path(__file__).parent / "corpus"


def _open(case: str):
    return ppxlib.open(CORPUS / case).validate(as_of=AS_OF)


def _exclusions(clean, table: str = "orders") -> dict[str, int]:
    ex = clean.quality.exclusions
    return dict(ex[ex.table == table][["rule", "rows"]].itertuples(index=False))


def _orders(clean) -> pd.DataFrame:
    return clean.orders.to_pandas().sort_values("order_id").reset_index(drop=True)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty_file", "orders: the file orders.csv is empty (0 bytes); expected a header row "
                       "naming the columns (order_id, customer_id, order_ts, amount)"),
        ("empty_optional_file", "returns: the file returns.csv is empty (0 bytes)"),
        ("header_only", "orders: the table has no rows"),
        ("wrong_encoding", "orders: the file is not UTF-8 text (line 2); the line reads "
                           "'1,a,2025-01-02,10.5,\ufffd\ufffd\ufffd\ufffd\ufffd'. Save it as "
                           "UTF-8, for example `iconv -f cp1251 -t utf-8 orders.csv"),
        ("ragged_rows", "orders: the file cannot be read as CSV: its lines do not share one "
                        "layout"),
    ],
)
def test_unusable_files_stop_with_a_message_naming_table_and_remedy(case, message):
    with pytest.raises(ContractError) as err:
        _open(case)
    assert message in str(err.value)
    assert "Traceback" not in str(err.value)


def test_a_semicolon_file_with_decimal_commas_is_read_whole():
    clean = _open("wrong_delimiter")
    orders = _orders(clean)
    assert _exclusions(clean) == {}
    assert orders.order_id.tolist() == ["001", "002", "003"]  # leading zeros kept
    assert orders.amount.tolist() == [10.5, 20.0, 7.25]  # "10,5" and "7.25" alike
    assert orders.category.tolist() == ["Кухня", "Дом", "Дом"]


def test_a_byte_order_mark_does_not_rename_the_first_column():
    orders = _orders(_open("bom"))
    assert orders.columns[0] == "order_id"
    assert orders.order_id.tolist() == ["1", "2"]


def test_mixed_date_formats_keep_iso_dates_and_exclude_the_ambiguous_ones():
    clean = _open("mixed_date_formats")
    # 03/01/2025 and 04.01.2025 may be day-first or month-first: excluded, not guessed.
    assert _exclusions(clean) == {"unparseable_order_ts": 2}
    example = clean.quality.examples[("orders", "unparseable_order_ts")]
    assert set(example.order_ts) == {"03/01/2025", "04.01.2025"}
    assert _orders(clean).order_ts.astype(str).tolist() == [
        "2025-01-02 00:00:00", "2025-01-04 10:00:00", "2025-01-05 08:30:00"]


def test_zoned_timestamps_are_converted_to_utc_and_naive_ones_taken_as_utc():
    orders = _orders(_open("time_zones"))
    assert orders.order_ts.astype(str).tolist() == [
        "2025-01-02 08:00:00",  # +02:00
        "2025-01-04 04:30:00",  # -05:00, the next day in UTC
        "2025-01-04 12:00:00",  # Z
        "2025-01-05 12:00:00",  # naive
    ]


def test_ids_that_look_numeric_stay_text():
    clean = _open("numeric_looking_ids")
    orders = _orders(clean)
    by_customer = orders.groupby("customer_id").size().to_dict()
    assert by_customer == {"00123": 2, "123": 1}  # 00123 and 123 are two customers
    assert sorted(orders.order_id) == ["0001", "0002", "1"]


def test_duplicates_keep_one_exact_copy_and_drop_conflicting_ids():
    clean = _open("duplicate_rows")
    assert _exclusions(clean) == {"duplicate_row": 2, "conflicting_order_id": 2}
    assert _orders(clean).order_id.tolist() == ["1", "2"]


def test_a_one_row_shop_is_valid():
    clean = _open("one_row_shop")
    assert clean.quality.rows_excluded == 0
    assert len(_orders(clean)) == 1
    assert clean.returns is None and clean.surveys is None and clean.tickets is None


def test_amounts_with_currency_symbols_are_excluded_and_shown_as_written():
    clean = _open("currency_symbols")
    assert _exclusions(clean) == {"unparseable_amount": 3}
    example = clean.quality.examples[("orders", "unparseable_amount")]
    assert set(example.amount) == {"$10.50", "1,200.00 €", "12.5 грн"}
    assert _orders(clean).amount.tolist() == [12.0, 0.0]


def test_unparseable_and_off_scale_scores_are_excluded_rule_by_rule():
    clean = _open("unparseable_scores")
    assert _exclusions(clean, "surveys") == {
        "unparseable_score": 2,  # "five", "4/5"
        "missing_score": 1,
        "unknown_metric": 1,  # "stars"
        "score_outside_scale": 1,  # CES 8 on a 1-7 scale
    }
    kept = clean.surveys.to_pandas()
    assert kept.metric.tolist() == ["nps", "nps"]  # "NPS " normalised
    assert "<script>alert(1)</script>" in set(
        clean.quality.examples[("surveys", "unparseable_score")].comment)
    assert "<script>" not in clean.quality.to_html()  # shown, but as text
