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


# --------------------------------------------------------------------------- issue 17


def _kept(clean, table: str = "orders") -> dict[str, int]:
    ad = clean.quality.adjustments
    return dict(ad[ad.table == table][["rule", "rows"]].itertuples(index=False))


def test_folder_names_above_the_files_are_not_columns():
    # DuckDB's hive partitioning would read amount=0 into every order and add the password.
    source = CORPUS / "folder_names" / "amount=0" / "shop_password=HUNTER2" / "channel=web"
    clean = ppxlib.open(source).validate(as_of=AS_OF)
    orders = _orders(clean)
    assert orders.amount.tolist() == [10.5, 20.0, 30.0]
    assert orders.channel.tolist() == ["app", "store", None]
    assert "shop_password" not in clean.orders.columns
    assert "HUNTER2" not in clean.quality.to_html() + clean.quality.to_text()


def test_a_partitioned_parquet_folder_gives_only_contract_columns():
    clean = _open("partitioned_parquet")
    orders = _orders(clean)
    assert list(orders.columns) == ["order_id", "customer_id", "order_ts", "amount", "channel"]
    assert orders.channel.tolist() == ["web", "app", "app", None]  # year=2025 is not used


def test_a_run_the_morning_after_month_end_keeps_late_october_orders():
    clean = ppxlib.open(CORPUS / "future_deliveries").validate(as_of="2026-11-01T06:00")
    orders = _orders(clean)
    assert orders.order_id.tolist() == ["1", "2", "3", "4"]  # only the 08:00 order is future
    assert _exclusions(clean) == {"future_order_ts": 1}
    assert _kept(clean) == {"future_delivered_ts": 2}  # delivered after 06:00: not yet
    assert orders.delivered_ts.isna().tolist() == [False, True, True, True]
    assert orders.promised_ts.notna().all()  # a promise in the future is normal
    assert _exclusions(clean, "tickets") == {"future_opened_ts": 1}
    assert _kept(clean, "tickets") == {"future_resolved_ts": 1}
    tickets = clean.tickets.to_pandas().sort_values("ticket_id")
    assert tickets.resolved_ts.isna().tolist() == [False, True]  # T2 is still open
    # The same data a month later: nothing is in the future any more.
    later = _open("future_deliveries")
    assert len(_orders(later)) == 5 and later.quality.adjustments.empty


def test_nan_inf_and_huge_numbers_are_excluded_as_row_problems():
    clean = _open("non_finite_numbers")
    assert _exclusions(clean) == {"not_finite_amount": 6,  # nan inf Infinity 1e400 2e29 -inf
                                  "negative_amount": 1,  # -inf
                                  "not_finite_discount": 1}
    assert _orders(clean).order_id.tolist() == ["1", "9"]
    example = clean.quality.examples[("orders", "not_finite_amount")]
    assert len(example) == 3
    assert _exclusions(clean, "surveys") == {"not_finite_score": 2}


def test_copies_without_a_key_keep_one_copy():
    clean = _open("copies_without_keys")
    assert _exclusions(clean, "returns") == {"duplicate_row": 2}
    assert _exclusions(clean, "surveys") == {"duplicate_row": 2}
    assert clean.returns.count().execute() == 2
    assert sorted(clean.surveys.to_pandas().score) == [3.0, 4.0, 9.0]


def test_cancelled_orders_are_not_purchases_and_unknown_statuses_are_listed():
    clean = _open("cancelled_orders")
    assert _exclusions(clean) == {"cancelled_order": 3}  # "Cancelled ", CANCELED, refused
    orders = _orders(clean)
    assert orders.order_id.tolist() == ["1", "5", "6", "7", "8"]
    assert orders.amount.sum() == 270  # revenue without the cancelled 90
    assert _kept(clean) == {"unknown_status": 1}  # "on hold": kept, and said so
    assert clean.quality.examples[("orders", "unknown_status")].status.tolist() == ["on hold"]
    assert _exclusions(clean, "returns") == {"unknown_order": 1}  # return of a cancelled order


def test_padded_ids_are_trimmed_and_reported_blank_ids_are_missing():
    clean = _open("messy_ids")
    orders = _orders(clean)
    assert orders.groupby("customer_id").size().to_dict() == {"C1": 3, "C2": 1}
    assert _exclusions(clean) == {"missing_customer_id": 2}  # "   " and a tab
    assert _kept(clean) == {"padded_customer_id": 2, "padded_order_id": 1}
    assert "order_id had spaces around it" in clean.quality.to_text()
    assert clean.returns.count().execute() == 1  # "6 " is order " 6"
    assert _exclusions(clean, "returns") == {}


def test_float_ids_are_not_rounded_into_other_ids_and_nan_is_missing():
    clean = _open("float_ids")
    assert _exclusions(clean) == {"fractional_customer_id": 2, "missing_customer_id": 1}
    assert sorted(_orders(clean).customer_id) == [123, 124]  # 123.4 and 123.6 are not them
    example = clean.quality.examples[("orders", "fractional_customer_id")]
    assert sorted(example.customer_id) == [123.4, 123.6]


def test_a_column_given_twice_is_structural():
    with pytest.raises(ContractError) as err:
        _open("duplicate_columns")
    assert "orders.amount: the column appears 2 times ('amount', ' AMOUNT ')" in str(err.value)


def test_impossible_dates_and_discounts():
    clean = _open("impossible_values")
    assert _exclusions(clean) == {"implausible_order_ts": 2,  # 1500 and year 1
                                  "discount_above_amount": 1}
    assert _kept(clean) == {"delivered_before_order": 2, "implausible_promised_ts": 1,
                            "implausible_delivered_ts": 1}
    orders = _orders(clean)  # no OutOfBoundsDatetime: nothing before 1900 is left
    assert orders.order_id.tolist() == ["1", "2", "3", "7"]
    # Delivered the day of a 10:00 order, as a date: kept; a day before the order: blanked.
    assert orders.delivered_ts.isna().tolist() == [False, True, False, True]
    assert orders.promised_ts.isna().tolist() == [False, False, False, True]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("csv_named_parquet", "orders: the file orders.parquet is not a Parquet file (it looks "
                              "like text: a CSV file? then name it .csv)"),
        ("gzip_named_csv", "orders: the file orders.csv is gzip-compressed: name it "
                           "orders.csv.gz"),
        ("mixed_line_endings", "orders: the file mixes line endings: 3 lines end in CRLF "
                               "(Windows) and 1 in LF (Unix), the first LF one is line 3"),
    ],
)
def test_files_that_are_not_what_they_seem_are_named_for_what_they_are(case, message):
    with pytest.raises(ContractError) as err:
        _open(case)
    assert message in str(err.value)
    assert "do not share one layout" not in str(err.value)


def test_a_file_that_is_not_a_database_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"shop.duckdb: not a DuckDB database .*not a valid"):
        ppxlib.open(CORPUS / "not_a_database" / "shop.duckdb")


def test_an_over_long_comment_costs_its_answer_not_the_report():
    clean = _open("long_comment")
    assert _exclusions(clean, "surveys") == {"line_too_long": 1}
    tally = clean.quality.tables.set_index("table").loc["surveys"]
    assert (tally.rows_read, tally.rows_excluded, tally.rows_kept) == (3, 1, 2)
    assert sorted(clean.surveys.to_pandas().customer_id) == ["a", "c"]
    example = clean.quality.examples[("surveys", "line_too_long")]
    assert example.values.tolist() == [[3, 2_500_019]]  # its real line and size


def test_control_characters_are_escaped_in_text_and_removed_in_html():
    quality = _open("control_characters").quality
    text, page = quality.to_text(), quality.to_html()
    assert "\x1b" not in text and "\u202e" not in text
    assert r"category=\x1b[2J\x1b[31mred" in text and r"region=\u202eevil" in text
    assert "\x1b" not in page and "\u202e" not in page
    assert "[2J[31mred" in page and ">evil<" in page
