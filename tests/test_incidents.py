"""Recurring incidents: a topic clearly more common this month than in the six before."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from ppxlib import incidents


def _tickets(this_month: dict[str, int], per_month_before: dict[str, int],
             after: dict[str, int] | None = None) -> ibis.Table:
    rows = []
    for month, counts in ([(f"2026-{m:02d}", per_month_before) for m in range(4, 10)]
                          + [("2026-10", this_month), ("2026-11", after or {})]):
        for topic, n in counts.items():
            rows += [(topic, pd.Timestamp(f"{month}-15") + pd.Timedelta(minutes=i))
                     for i in range(n)]
    frame = pd.DataFrame(rows, columns=["topic", "opened_ts"]).astype(
        {"topic": object, "opened_ts": "datetime64[ns]"})
    return ibis.memtable(frame)


def test_a_topic_that_jumps_is_flagged_and_steady_ones_are_not():
    t = _tickets({"delivery": 40, "payment": 30, "account": 30},
                 {"delivery": 15, "payment": 45, "account": 40})
    flags = incidents.ticket_topics(t, "2026-10").set_index("topic")
    assert flags.flagged.to_dict() == {"delivery": True, "payment": False, "account": False}
    assert flags.loc["delivery", "share"] == pytest.approx(0.4)
    assert flags.loc["delivery", "trailing_share"] == pytest.approx(0.15)
    assert flags.loc["delivery", "trailing_count"] == 90
    assert incidents.incident_sentences(flags.reset_index(), "tickets") == [
        "'delivery' is 40% of this month's tickets (40), against 15% in the six months before."]


def test_holm_correction_over_topics():
    # a p value that would pass alone (0.01 < 0.05) but not once ten topics are judged
    topics = {f"t{i}": 20 for i in range(10)}
    t = _tickets({**topics, "t0": 31}, topics)
    flags = incidents.ticket_topics(t, "2026-10").set_index("topic")
    assert flags.loc["t0", "p_value"] < 0.05
    assert flags.loc["t0", "p_holm"] > flags.loc["t0", "p_value"]
    np.testing.assert_allclose(flags.p_holm.min(), min(1.0, flags.p_value.min() * 10))


def test_few_cases_are_not_an_incident():
    t = _tickets({"payment": 100, "fraud": 4}, {"payment": 100})
    flags = incidents.ticket_topics(t, "2026-10").set_index("topic")
    assert flags.loc["fraud", "p_holm"] < 0.05 and not flags.loc["fraud", "flagged"]
    assert flags.loc["fraud", "trailing_share"] == 0


def test_point_in_time_nothing_after_the_month_is_read():
    t = _tickets({"payment": 50, "account": 50}, {"payment": 50, "account": 50},
                 after={"account": 500})
    flags = incidents.ticket_topics(t, pd.Period("2026-10", "M")).set_index("topic")
    assert flags["count"].to_dict() == {"account": 50, "payment": 50}
    assert not flags.flagged.any()
    # the month before, its own six months: October's rows do not exist yet
    earlier = incidents.ticket_topics(t, "2026-09").set_index("topic")
    assert earlier["count"].sum() == 100 and earlier.trailing_count.sum() == 500


def test_missing_topics_are_their_own_group_and_return_reasons_work_the_same():
    frame = pd.DataFrame({"reason": ["damaged"] * 5 + [None] * 30,
                          "return_ts": pd.to_datetime(["2026-06-10"] * 5 + ["2026-10-10"] * 30)})
    flags = incidents.return_reasons(ibis.memtable(frame), "2026-10").set_index("topic")
    assert flags.loc["(not given)", "count"] == 30 and flags.loc["(not given)", "flagged"]


def test_no_rows_gives_an_empty_table_and_no_column_a_clear_error():
    t = _tickets({}, {})
    assert incidents.ticket_topics(t, "2026-10").empty
    with pytest.raises(ValueError, match="no column 'reason'"):
        incidents.return_reasons(t.rename(return_ts="opened_ts"), "2026-10")
