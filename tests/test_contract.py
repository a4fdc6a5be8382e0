"""The data contract: structural problems raise, row problems are excluded and counted."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

import ppxlib
from ppxlib.contract import CONTRACT, ContractError, conform

from conftest import AS_OF


def _validate(**frames):
    return ppxlib.open(frames).validate(as_of=AS_OF)


def _orders(**columns) -> pd.DataFrame:
    base = {"order_id": [1, 2, 3], "customer_id": ["a", "b", "c"],
            "order_ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "amount": [10.0, 20.0, 30.0]}
    base.update(columns)
    return pd.DataFrame(base)


def _excluded(clean, table):
    ex = clean.quality.exclusions
    return dict(ex[ex.table == table][["rule", "rows"]].itertuples(index=False))


def test_contract_lists_the_design_tables_and_required_columns():
    assert list(CONTRACT) == ["orders", "returns", "surveys", "tickets"]
    assert CONTRACT["orders"].required_columns == ["order_id", "customer_id", "order_ts",
                                                   "amount"]
    assert CONTRACT["tickets"].required_columns == ["ticket_id", "customer_id", "opened_ts"]
    assert CONTRACT["orders"].required and not CONTRACT["surveys"].required


def test_missing_required_column_names_table_and_column():
    with pytest.raises(ContractError) as err:
        _validate(orders=_orders().drop(columns="amount"))
    assert "orders.amount" in str(err.value)
    assert "required column is missing" in str(err.value)
    assert [(p.table, p.column) for p in err.value.problems] == [("orders", "amount")]


def test_every_structural_problem_is_reported_at_once():
    surveys = pd.DataFrame({"customer_id": ["a"], "response_ts": ["2024-01-01"]})
    with pytest.raises(ContractError) as err:
        _validate(orders=_orders().drop(columns=["amount", "order_ts"]), surveys=surveys)
    found = {(p.table, p.column) for p in err.value.problems}
    assert found == {("orders", "amount"), ("orders", "order_ts"), ("surveys", "metric"),
                     ("surveys", "score")}


def test_a_text_column_that_never_parses_is_structural():
    with pytest.raises(ContractError) as err:
        _validate(orders=_orders(amount=["ten", "twenty", "thirty"]))
    assert "orders.amount: cannot be read as a number" in str(err.value)
    assert "'ten'" in str(err.value)


def test_a_boolean_amount_is_the_wrong_type():
    with pytest.raises(ContractError, match=r"orders.amount: expected a number, found boolean"):
        _validate(orders=_orders(amount=[True, False, True]))


def test_empty_orders_is_structural():
    with pytest.raises(ContractError, match="orders: the table has no rows"):
        _validate(orders=_orders().iloc[:0])


def test_a_few_unparseable_values_are_excluded_with_the_raw_text_as_example():
    clean = _validate(orders=_orders(amount=["10.5", "n/a", " 7 "],
                                     order_ts=["2024-01-01", "2024-01-02", "yesterday"]))
    assert _excluded(clean, "orders") == {"unparseable_amount": 1, "unparseable_order_ts": 1}
    assert clean.orders.to_pandas().amount.tolist() == [10.5]
    example = clean.quality.examples[("orders", "unparseable_amount")]
    assert example.amount.tolist() == ["n/a"]


def test_column_names_match_case_and_spaces_insensitively():
    frame = _orders().rename(columns={"amount": " Amount ", "order_ts": "ORDER_TS"})
    clean = _validate(orders=frame)
    assert set(clean.orders.columns) == {"order_id", "customer_id", "order_ts", "amount"}


def test_types_are_conformed():
    t = ibis.memtable(_orders(amount=[1, 2, 3], order_ts=["2024-01-01"] * 3))
    conformed, problems = conform("orders", t)
    assert problems == []
    schema = conformed.schema()
    assert schema["amount"].is_floating() and schema["order_ts"].is_timestamp()


def test_duplicates_exact_copies_keep_one_conflicting_ids_keep_none():
    frame = pd.concat([_orders(), _orders().iloc[[0]], _orders().iloc[[1]].assign(amount=99.0)])
    clean = _validate(orders=frame)
    assert _excluded(clean, "orders") == {"duplicate_row": 1, "conflicting_order_id": 2}
    assert sorted(clean.orders.to_pandas().order_id) == [1, 3]


def test_unique_ids_skip_the_whole_table_windows_and_a_shared_id_does_not():
    from ppxlib.validation import validate_tables

    def checked_sql(frame):
        clean, _ = validate_tables({"orders": ibis.memtable(frame)}, as_of=AS_OF, cache=False)
        return ibis.to_sql(clean["orders"]).upper()

    assert " OVER " not in checked_sql(_orders())
    assert " OVER " in checked_sql(_orders(order_id=[1, 2, 2]))
    assert " OVER " in checked_sql(_orders(order_id=[1, 2, None]))  # a missing id is not unique


def test_a_missing_id_does_not_hide_an_exact_copy():
    frame = pd.concat([_orders(order_id=[1, None, 3]), _orders().iloc[[2]]])
    clean = _validate(orders=frame)
    assert _excluded(clean, "orders") == {"missing_order_id": 1, "duplicate_row": 1}
    assert sorted(clean.orders.to_pandas().order_id) == [1, 3]


def test_negative_amounts_null_ids_and_future_dates_are_excluded():
    frame = _orders(amount=[10.0, -5.0, 0.0], customer_id=["a", None, "c"],
                    order_ts=pd.to_datetime(["2024-01-01", "2024-01-02", "2030-01-01"]))
    clean = _validate(orders=frame)
    assert _excluded(clean, "orders") == {"missing_customer_id": 1, "negative_amount": 1,
                                          "future_order_ts": 1}
    assert clean.quality.tables.set_index("table").loc["orders", "rows_excluded"] == 2
    assert clean.orders.to_pandas().order_id.tolist() == [1]


def test_zero_amounts_are_kept():
    clean = _validate(orders=_orders(amount=[0.0, 1.0, 2.0]))
    assert clean.orders.count().execute() == 3


def test_timezones_are_converted_to_utc_and_dropped():
    ts = pd.to_datetime(["2024-01-01 02:00"] * 3).tz_localize("Europe/Kyiv")
    clean = _validate(orders=_orders(order_ts=ts))
    got = clean.orders.to_pandas().order_ts
    assert got.dt.tz is None and got.iloc[0] == pd.Timestamp("2024-01-01 00:00")


def test_survey_rules_unknown_metric_and_scale():
    surveys = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "c", "c"],
        "response_ts": pd.to_datetime(["2024-01-05"] * 6),
        "metric": ["NPS ", "nps", "csat", "CSAT", "ces", "nsp"],
        "score": [10, 11, 7, 5, 6, 5],
        "scale_max": [None, None, 7, None, None, None],
    })
    clean = _validate(orders=_orders(), surveys=surveys)
    assert _excluded(clean, "surveys") == {"unknown_metric": 1, "score_outside_scale": 1}
    kept = clean.surveys.to_pandas()
    assert sorted(kept.metric) == ["ces", "csat", "csat", "nps"]  # normalised spelling
    assert 7 in kept.score.tolist()  # within its stated 1-7 scale


def test_ticket_resolved_before_opened_and_duplicate_ids():
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t3"], "customer_id": ["a", "b", "c", "c"],
        "opened_ts": pd.to_datetime(["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"]),
        "resolved_ts": pd.to_datetime(["2024-01-06", "2024-01-05", None, None]),
    })
    clean = _validate(orders=_orders(), tickets=tickets)
    assert _excluded(clean, "tickets") == {"resolved_before_opened": 1,
                                           "conflicting_ticket_id": 2}
    assert clean.tickets.to_pandas().ticket_id.tolist() == ["t1"]


def test_returns_must_refer_to_a_valid_order_placed_before_them():
    orders = _orders(amount=[10.0, -1.0, 30.0])  # order 2 is excluded
    returns = pd.DataFrame({"order_id": [1, 2, 3, 77],
                            "return_ts": pd.to_datetime(["2024-01-09", "2024-01-09",
                                                         "2023-12-31", "2024-01-09"])})
    clean = _validate(orders=orders, returns=returns)
    assert _excluded(clean, "returns") == {"unknown_order": 2, "return_before_order": 1}
    assert clean.returns.to_pandas().order_id.tolist() == [1]


def test_returns_match_orders_when_id_types_differ():
    returns = pd.DataFrame({"order_id": ["1", "3"],
                            "return_ts": pd.to_datetime(["2024-01-09", "2024-01-09"])})
    clean = _validate(orders=_orders(), returns=returns)
    assert clean.returns.count().execute() == 2


def test_quality_text_and_html_escape_untrusted_values():
    frame = _orders(customer_id=["<script>x</script>", "b", "c"], amount=[-1.0, 2.0, 3.0])
    quality = _validate(orders=frame).quality
    html = quality.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "1 row: amount is negative [negative_amount]" in quality.to_text()
    assert quality.to_dict()["exclusions"][0]["rows"] == 1


def test_status_values_are_compared_without_case_spaces_or_hyphens():
    statuses = ["In-Transit", " DELIVERED", "Payment Failed", "void", "backordered", None, " "]
    frame = pd.DataFrame({
        "order_id": range(1, 8), "customer_id": list("abcdefg"),
        "order_ts": pd.to_datetime(["2024-01-01"] * 7), "amount": [1.0] * 7,
        "status": statuses,
    })
    clean = _validate(orders=frame)
    assert _excluded(clean, "orders") == {"cancelled_order": 2}
    assert sorted(clean.orders.to_pandas().order_id) == [1, 2, 5, 6, 7]
    ad = clean.quality.adjustments
    assert ad[["rule", "rows", "action"]].values.tolist() == [["unknown_status", 1, "kept"]]


def test_float_ids_from_frames_keep_whole_numbers_only():
    frame = _orders(customer_id=[7.0, 7.5, float("nan")], order_id=[1.0, 2.0, 1e20])
    clean = _validate(orders=frame)
    assert _excluded(clean, "orders") == {"fractional_order_id": 1,  # 1e20 is past 2**53
                                          "fractional_customer_id": 1,
                                          "missing_customer_id": 1}
    orders = clean.orders.to_pandas()
    assert orders.order_id.tolist() == [1] and orders.customer_id.tolist() == [7]


def test_blank_and_padded_text_ids_from_frames():
    frame = _orders(customer_id=[" a", "\t", "a"], order_id=["1", "2 ", " "])
    clean = _validate(orders=frame)
    assert _excluded(clean, "orders") == {"missing_order_id": 1, "missing_customer_id": 1}
    assert clean.orders.to_pandas().customer_id.tolist() == ["a"]
    ad = clean.quality.adjustments.set_index("rule")
    assert ad.at["padded_customer_id", "rows"] == 1  # row 1 (row 2's id is blank, excluded)


def test_blanked_values_keep_their_column_and_type():
    frame = _orders(delivered_ts=pd.to_datetime(["2024-01-05", "2023-12-01", "2030-01-01"]))
    clean = _validate(orders=frame)
    assert _excluded(clean, "orders") == {}
    assert dict(clean.quality.adjustments[["rule", "rows"]].values) == {
        "future_delivered_ts": 1, "delivered_before_order": 1}
    assert clean.orders.schema()["delivered_ts"].is_timestamp()
    assert clean.orders.to_pandas().sort_values("order_id").delivered_ts.isna().tolist() == [
        False, True, True]


def test_a_contract_column_given_twice_is_structural_in_any_source():
    frame = _orders().assign(**{" AMOUNT ": [1.0, 2.0, 3.0]})
    with pytest.raises(ContractError) as err:
        _validate(orders=frame)
    assert [(p.table, p.column) for p in err.value.problems] == [("orders", "amount")]
    assert "the column appears 2 times ('amount', ' AMOUNT ')" in str(err.value)


def test_structural_messages_quote_the_data_without_control_characters():
    frame = _orders().drop(columns="amount").rename(columns={"customer_id": "x\x1b[2J"})
    with pytest.raises(ContractError) as err:
        _validate(orders=frame)
    assert "\x1b" not in str(err.value)
    assert r"x\x1b[2J" in str(err.value)  # still named, as an escape
