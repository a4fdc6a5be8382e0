"""A seeded generator of shop data with known truth.

Purchases follow a BG/NBD process (Fader, Hardie & Lee 2005) in continuous time, spend follows
the Gamma-Gamma model, and the post-purchase experience (delivery, returns, surveys, support)
is layered on top with stated effects, so that every model and diagnostic in the workbook can be
checked against the truth that produced the data.

Time unit of the BG/NBD parameters is the **week** (as in the CDNOW literature): a customer's
purchase rate ``lambda ~ Gamma(shape=r, rate=alpha)`` is per week, and after every repeat purchase
they drop out with probability ``p ~ Beta(a, b)``. On top of that, a late delivery makes the
customer drop out with an extra probability ``late_churn`` (after any order, the first included).
With ``late_share=0`` or ``late_churn=0`` the purchases are pure BG/NBD.

Spend per order is ``Gamma(shape=p, rate=nu)`` with ``nu ~ Gamma(shape=q, rate=gamma)`` per
customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

DAY = np.timedelta64(1, "D")
#: ShopParameters fields of the stated confounders (off by default)
CONFOUNDERS = ("region_repeat_factor", "late_rate_factor", "category_return_factor",
               "category_spend_factor")
SECONDS_PER_DAY = 86_400

#: CSAT (1-5) answer probabilities of scores 1..5 after an on-time and after a late delivery.
CSAT_ON_TIME = (0.03, 0.05, 0.12, 0.35, 0.45)
CSAT_LATE = (0.15, 0.20, 0.25, 0.25, 0.15)
#: NPS (0-10) answer weights of scores 0..10 after a good and after a bad (late or returned)
#: first order.
NPS_GOOD = (1, 1, 1, 1, 2, 3, 6, 12, 18, 25, 30)
NPS_BAD = (6, 5, 6, 8, 9, 10, 11, 14, 12, 10, 9)


@dataclass(frozen=True)
class ShopParameters:
    """The truth behind a simulated shop. Defaults give a plausible mid-size online shop."""

    # BG/NBD, time unit = week
    r: float = 0.55
    alpha: float = 12.0
    a: float = 0.8
    b: float = 3.0
    # Gamma-Gamma spend (mean order value = p * gamma / (q - 1) = 60)
    p: float = 6.0
    q: float = 4.0
    gamma: float = 30.0
    # delivery
    late_share: float = 0.15  # share of delivered orders that arrive after the promised date
    late_churn: float = 0.25  # extra probability of dropping out after a late delivery
    region_late_factor: dict[str, float] = field(
        default_factory=lambda: {"north": 0.6, "south": 1.0, "east": 1.8, "west": 0.9,
                                 "central": 0.7}
    )
    # returns, surveys, support
    return_rate: float = 0.08
    late_return_factor: float = 1.8
    csat_response_rate: float = 0.25
    nps_response_rate: float = 0.30
    ces_response_rate: float = 0.40
    ticket_rate: float = 0.04
    late_ticket_rate: float = 0.35
    never_resolved_share: float = 0.02
    # Stated confounders, all off by default (the data then stays as it always was; switching
    # one on changes the shop). See :meth:`confounded`.
    #: per region, a factor on the purchase-rate shape ``r`` of its customers (0.5: they come
    #: back half as readily); the hazard of the second order is this factor times the others'
    region_repeat_factor: dict[str, float] | None = None
    #: a late first delivery multiplies the customer's purchase rate by a Beta(r k, r (1 - k))
    #: draw, which makes the hazard of the second order exactly k times that of comparable
    #: customers delivered on time (1.0 = no such effect)
    late_rate_factor: float = 1.0
    #: per category, a factor on the return probability of its orders
    category_return_factor: dict[str, float] | None = None
    #: per category, a factor on the amount of its orders
    category_spend_factor: dict[str, float] | None = None

    @classmethod
    def confounded(cls, **changes) -> ShopParameters:
        """A shop whose raw experience comparisons mislead, with the true effects stated.

        Late deliveries fall mostly on *east* (``region_late_factor``), whose customers also
        come back half as readily; a late first delivery lowers the hazard of a second order
        to 0.7 times that of comparable customers (and nothing else: ``late_churn`` is 0, so
        the effect is proportional and :meth:`adjusted_late_hazard_ratio` is one number).
        Electronics orders are returned three times as often and cost 2.5 times as much;
        a return itself changes nothing about coming back (true hazard ratio 1).

        Examples
        --------
        >>> ShopParameters.confounded().adjusted_late_hazard_ratio()
        0.7
        """
        stated = {"region_repeat_factor": {"east": 0.5}, "late_rate_factor": 0.7,
                  "late_churn": 0.0, "category_return_factor": {"electronics": 3.0},
                  "category_spend_factor": {"electronics": 2.5}}
        return cls(**{**stated, **changes})

    def _repeat_factor(self, region: str) -> float:
        return (self.region_repeat_factor or {}).get(region, 1.0)

    def adjusted_late_hazard_ratio(self) -> float:
        """True hazard ratio of the second order, late first delivery against on time, among
        customers alike in everything else.

        Within a region the time to the second order is Lomax: survival
        ``(alpha / (alpha + t)) ** (r m)`` (t in weeks, m the region's repeat factor), and a
        late first delivery raises it to the power ``late_rate_factor`` -- proportional
        hazards with that ratio. ``late_churn`` removes a share of late customers at once,
        whose ratio to on-time customers then changes with time: NaN, no single number.
        """
        return float(self.late_rate_factor) if self.late_churn == 0 else float("nan")

    def adjusted_repurchase_difference(self, days: float = 90) -> float:
        """True difference in the share reordering within ``days`` of a first order, late
        minus on time, for customers alike in everything else, averaged over the regions
        (customers are spread evenly over them).

        In a region with on-time survival ``S = (alpha / (alpha + t)) ** (r m)`` a late
        customer reorders with probability ``(1 - late_churn) (1 - S ** k)``; with no
        confounders and ``k = 1`` this is :meth:`repurchase_difference`.

        Examples
        --------
        >>> p = ShopParameters()
        >>> round(p.adjusted_repurchase_difference(), 12) == round(p.repurchase_difference(), 12)
        True
        """
        weeks = days / 7
        diffs = []
        for region in self.region_late_factor:
            on_time = (self.alpha / (self.alpha + weeks)) ** (self.r * self._repeat_factor(region))
            late = (1 - self.late_churn) * (1 - on_time ** self.late_rate_factor)
            diffs.append(late - (1 - on_time))
        return float(np.mean(diffs))

    def repurchase_difference(self, days: float = 90) -> float:
        """True difference in the share reordering within ``days`` of a first order, late
        minus on time.

        Before a first repeat purchase BG/NBD has no drop-out, so an on-time customer
        reorders within t weeks with probability ``1 - (alpha / (alpha + t)) ** r``; a late
        first delivery first removes the customer with probability ``late_churn``.
        """
        weeks = days / 7
        on_time = 1 - (self.alpha / (self.alpha + weeks)) ** self.r
        return -self.late_churn * on_time

    def csat_satisfied_share(self, late: bool, cut: int = 4) -> float:
        """True share of CSAT answers (1-5) at ``cut`` or above about a late or an on-time
        delivery: 0.80 on time and 0.40 late for the top two boxes.

        A CSAT answer is drawn from :data:`CSAT_LATE` or :data:`CSAT_ON_TIME` by whether its
        order arrived after the promised time, and nothing else moves it, so the share is
        the sum of the probabilities of the scores from ``cut`` to 5.

        Examples
        --------
        >>> round(ShopParameters().csat_satisfied_share(late=True), 2)
        0.4
        """
        weights = CSAT_LATE if late else CSAT_ON_TIME
        return float(sum(weights[cut - 1:]))

    def csat_late_difference(self, cut: int = 4) -> float:
        """True difference in the satisfied share of CSAT, late minus on-time delivery.

        Examples
        --------
        >>> round(ShopParameters().csat_late_difference(), 2)
        -0.4
        """
        return self.csat_satisfied_share(True, cut) - self.csat_satisfied_share(False, cut)

    def nps_expected(self, bad: bool) -> float:
        """True NPS (points) of answers about a bad (late or returned) or a good first order.

        Examples
        --------
        >>> ShopParameters().nps_expected(bad=False), ShopParameters().nps_expected(bad=True)
        (40.0, -36.0)
        """
        weights = NPS_BAD if bad else NPS_GOOD
        return 100 * (sum(weights[9:]) - sum(weights[:7])) / sum(weights)

    def nps_late_difference(self) -> float:
        """True NPS difference, late minus on-time first delivery, in points.

        A late first order always gets the "bad" answers; an on-time one only when it was
        returned, which happens with probability ``return_rate`` (returns are drawn apart from
        the answer; the few returns still to come at the end of the data are ignored).

        Examples
        --------
        >>> round(ShopParameters().nps_late_difference(), 1)
        -69.9
        """
        on_time = ((1 - self.return_rate) * self.nps_expected(False)
                   + self.return_rate * self.nps_expected(True))
        return self.nps_expected(True) - on_time


@dataclass
class SimulatedShop:
    """Tables of a simulated shop (contract schema) plus the truth that produced them."""

    orders: pd.DataFrame
    returns: pd.DataFrame
    surveys: pd.DataFrame
    tickets: pd.DataFrame
    customers: pd.DataFrame  # per-customer latent truth: lambda, p, nu, dropout time
    parameters: ShopParameters
    start: dt.datetime
    end: dt.datetime
    seed: int

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four contract tables, for :func:`ppxlib.open`."""
        return {"orders": self.orders, "returns": self.returns,
                "surveys": self.surveys, "tickets": self.tickets}

    def truth(self) -> dict:
        """JSON-friendly description of how the data was made."""
        parameters = asdict(self.parameters)
        # confounders that are off are not part of how the data was made (and a shop made
        # before they existed keeps its truth file)
        off = ShopParameters()
        for name in CONFOUNDERS:
            if parameters[name] == getattr(off, name):
                del parameters[name]
        return {"seed": self.seed, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "customers": len(self.customers), "time_unit": "week",
                "parameters": parameters}

    def write(self, folder: str | Path, fmt: str = "csv",
              tables: dict[str, pd.DataFrame] | None = None) -> list[Path]:
        """Write the tables as ``<folder>/<table>.csv`` (or ``.csv.gz``, ``.parquet``).

        ``tables`` replaces the shop's own tables (e.g. :func:`inject_defects` output).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in (tables or self.tables()).items():
            path = folder / f"{name}.{fmt}"
            if fmt == "parquet":
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
            written.append(path)
        return written


CHANNELS = ("web", "app", "marketplace")
CHANNEL_WEIGHTS = (0.55, 0.30, 0.15)
CATEGORIES = ("apparel", "shoes", "home", "beauty", "electronics")
CATEGORY_WEIGHTS = (0.35, 0.2, 0.2, 0.15, 0.1)
RETURN_REASONS = ("size or fit", "damaged", "not as described", "changed mind")
TICKET_TOPICS = ("payment", "product question", "return", "account")
TICKET_CHANNELS = ("email", "chat", "phone")

GOOD_COMMENTS = ("Fast delivery, thank you!", "Everything as described.", "Great packaging",
                 "Will order again", "")
BAD_COMMENTS = ("Parcel arrived days late", "Courier left it outside & it got wet",
                "Nobody answered my emails", "Item damaged <b>again</b>",
                "<script>alert('refund')</script> still waiting for my refund",
                "Returns process is far too hard", "")


def _purchases(rng: np.random.Generator, n: int, prm: ShopParameters, first: np.ndarray,
               end: np.datetime64, late_prob: np.ndarray, shape: np.ndarray | None = None):
    """Simulate BG/NBD purchase times (with the late-delivery drop-out) for n customers.

    ``shape`` is each customer's Gamma shape of the purchase rate (``r`` unless a region
    confounder is on, :attr:`ShopParameters.region_repeat_factor`).
    """
    lam = rng.gamma(prm.r if shape is None else shape, 1.0 / prm.alpha, size=n) / 7.0  # per day
    drop = rng.beta(prm.a, prm.b, size=n)
    horizon = (end - first) / DAY  # days from first purchase to observation end
    cust, times, late = [np.arange(n)], [np.zeros(n)], []
    first_late = rng.random(n) < late_prob
    late.append(first_late)
    if prm.late_rate_factor != 1.0:  # drawn only when on: default shops keep their numbers
        # Gamma(s) x Beta(s k, s (1 - k)) is Gamma(s k): the survival to the second order is
        # raised to the power k, a proportional effect on its hazard
        s = np.broadcast_to(prm.r if shape is None else shape, (n,))[first_late]
        k = prm.late_rate_factor
        if not 0 < k < 1:
            raise ValueError(f"late_rate_factor must lie in (0, 1], got {k}")
        lam[first_late] *= rng.beta(s * k, s * (1 - k))
    t = np.zeros(n)
    alive = ~(first_late & (rng.random(n) < prm.late_churn))
    idx = np.arange(n)
    while idx.size:
        idx = idx[alive[idx]]
        if not idx.size:
            break
        t[idx] += rng.exponential(1.0 / lam[idx])
        idx = idx[t[idx] <= horizon[idx]]
        if not idx.size:
            break
        is_late = rng.random(idx.size) < late_prob[idx]
        cust.append(idx)
        times.append(t[idx].copy())
        late.append(is_late)
        dropped = rng.random(idx.size) < drop[idx]
        dropped |= is_late & (rng.random(idx.size) < prm.late_churn)
        alive[idx[dropped]] = False
    cust_all = np.concatenate(cust)
    days = np.concatenate(times)
    ts = first[cust_all] + (days * SECONDS_PER_DAY).astype("timedelta64[s]")
    return cust_all, ts, np.concatenate(late), lam, drop


def simulate_shop(
    customers: int = 5_000,
    seed: int = 42,
    start: str | dt.datetime = "2023-11-01",
    end: str | dt.datetime = "2026-11-01",
    parameters: ShopParameters | None = None,
) -> SimulatedShop:
    """Simulate a shop's orders, returns, surveys and tickets with known truth.

    Parameters
    ----------
    customers : int
        Number of customers; each places a first order at a uniform time in ``[start, end)``.
    seed : int
        Seed of the random generator; the same seed gives the same tables.
    start, end : str or datetime
        The observation window (``end`` is exclusive: nothing happens at or after it).
    parameters : ShopParameters, optional
        The truth. Defaults to :class:`ShopParameters()`.

    Returns
    -------
    SimulatedShop

    Examples
    --------
    >>> shop = simulate_shop(customers=200, seed=1)
    >>> shop.orders.customer_id.nunique()
    200
    >>> shop.orders.order_ts.max() < pd.Timestamp("2026-11-01")
    True
    """
    prm = parameters or ShopParameters()
    rng = np.random.default_rng(seed)
    start64 = np.datetime64(pd.Timestamp(start).to_datetime64(), "s")
    end64 = np.datetime64(pd.Timestamp(end).to_datetime64(), "s")
    span = int((end64 - start64) / np.timedelta64(1, "s"))

    n = customers
    first = start64 + rng.integers(0, span, size=n).astype("timedelta64[s]")
    channel = rng.choice(CHANNELS, size=n, p=CHANNEL_WEIGHTS)
    regions = np.array(list(prm.region_late_factor))
    region = rng.choice(regions, size=n)
    factor = np.array([prm.region_late_factor[x] for x in region])
    late_prob = np.clip(prm.late_share * factor / np.mean(list(prm.region_late_factor.values())),
                        0, 1)
    nu = rng.gamma(prm.q, 1.0 / prm.gamma, size=n)

    shape = None
    if prm.region_repeat_factor:
        shape = prm.r * np.array([prm._repeat_factor(x) for x in region])
    cust, ts, late, lam, drop = _purchases(rng, n, prm, first, end64, late_prob, shape)
    order = np.lexsort((cust, ts))
    cust, ts, late = cust[order], ts[order], late[order]
    m = cust.size

    amount = np.round(rng.gamma(prm.p, 1.0 / nu[cust]), 2)
    amount = np.maximum(amount, 0.01)
    own_channel = rng.random(m) < 0.85
    order_channel = np.where(own_channel, channel[cust], rng.choice(CHANNELS, size=m))
    category = rng.choice(CATEGORIES, size=m, p=CATEGORY_WEIGHTS)
    if prm.category_spend_factor:  # a confounder, off by default (no random numbers drawn)
        amount = np.round(amount * _by_category(prm.category_spend_factor, category), 2)
    discount = np.where(rng.random(m) < 0.2, np.round(amount * 0.1, 2), 0.0)
    promised_days = rng.integers(2, 6, size=m)
    promised = ts + (promised_days * SECONDS_PER_DAY).astype("timedelta64[s]")
    on_time_days = rng.uniform(0.5, 1.0, size=m) * promised_days
    late_days = promised_days + rng.uniform(1, 8, size=m)
    delivered = ts + (np.where(late, late_days, on_time_days) * SECONDS_PER_DAY).astype(
        "timedelta64[s]")
    in_transit = delivered >= end64
    delivered_col = pd.Series(delivered).where(~in_transit)
    ids = np.array([f"C{i:06d}" for i in range(n)])
    orders = pd.DataFrame({
        "order_id": np.arange(100_001, 100_001 + m),
        "customer_id": ids[cust],
        "order_ts": ts,
        "amount": amount,
        "channel": order_channel,
        "region": region[cust],
        "category": category,
        "discount": discount,
        "promised_ts": promised,
        "delivered_ts": delivered_col.to_numpy(),
        "status": np.where(in_transit, "in_transit", "delivered"),
    })

    # returns: more likely after a late delivery
    p_return = prm.return_rate * np.where(late, prm.late_return_factor, 1.0)
    if prm.category_return_factor:
        p_return = p_return * _by_category(prm.category_return_factor, category)
    ret_ts = delivered + (rng.uniform(1, 28, size=m) * SECONDS_PER_DAY).astype("timedelta64[s]")
    returned = (rng.random(m) < p_return) & ~in_transit & (ret_ts < end64)
    reasons = rng.choice(RETURN_REASONS, size=m)
    reasons = np.where(late & (rng.random(m) < 0.4), "late delivery", reasons)
    returns = pd.DataFrame({
        "order_id": orders.order_id.to_numpy()[returned],
        "return_ts": ret_ts[returned],
        "amount": amount[returned],
        "reason": reasons[returned],
    })

    surveys = _surveys(rng, prm, orders, late, returned, end64, ids)
    tickets = _tickets(rng, prm, orders, late, returned, end64)
    surveys = pd.concat([surveys, _ces(rng, prm, tickets, end64)], ignore_index=True)
    surveys = surveys.sort_values(["response_ts", "customer_id"], kind="stable")
    surveys.insert(0, "response_id", np.arange(1, len(surveys) + 1))

    truth = pd.DataFrame({"customer_id": ids, "first_ts": first, "channel": channel,
                          "region": region, "lambda_per_week": lam * 7, "p_drop": drop,
                          "nu": nu})
    return SimulatedShop(orders, returns, surveys.reset_index(drop=True), tickets, truth, prm,
                         pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime(),
                         seed)


def _by_category(factors: dict[str, float], category: np.ndarray) -> np.ndarray:
    """Each order's factor from a per-category dict (1 for categories it does not name)."""
    lookup = np.array([factors.get(c, 1.0) for c in CATEGORIES])
    return lookup[pd.Categorical(category, categories=CATEGORIES).codes]


def _comment(rng: np.random.Generator, bad: np.ndarray) -> np.ndarray:
    good = rng.choice(GOOD_COMMENTS, size=bad.size)
    poor = rng.choice(BAD_COMMENTS, size=bad.size)
    has = rng.random(bad.size) < 0.4
    return np.where(has, np.where(bad, poor, good), "")


def _surveys(rng, prm, orders, late, returned, end64, ids) -> pd.DataFrame:
    m = len(orders)
    delivered = orders.delivered_ts.to_numpy()
    # CSAT (1-5) a few days after delivery; late deliveries score lower
    answer_ts = delivered + (rng.uniform(0, 3, size=m) * SECONDS_PER_DAY).astype("timedelta64[s]")
    delivered_yet = ~orders.status.eq("in_transit").to_numpy()
    csat_mask = (rng.random(m) < prm.csat_response_rate) & delivered_yet
    csat_mask &= answer_ts < end64
    on_time_dist, late_dist = list(CSAT_ON_TIME), list(CSAT_LATE)
    score_on = rng.choice(np.arange(1, 6), size=m, p=on_time_dist)
    score_late = rng.choice(np.arange(1, 6), size=m, p=late_dist)
    score = np.where(late, score_late, score_on)
    csat = pd.DataFrame({
        "customer_id": orders.customer_id.to_numpy()[csat_mask],
        "response_ts": answer_ts[csat_mask],
        "metric": "csat", "score": score[csat_mask].astype(float),
        "order_id": orders.order_id.to_numpy()[csat_mask],
        "scale_min": 1.0, "scale_max": 5.0, "touchpoint": "delivery",
        "comment": _comment(rng, score[csat_mask] <= 2),
    })
    # NPS (0-10) 30 days after the first order; a bad first experience lowers it
    first = ~orders.customer_id.duplicated().to_numpy()
    nps_ts = orders.order_ts.to_numpy() + np.timedelta64(30, "D")
    nps_mask = first & (rng.random(m) < prm.nps_response_rate) & (nps_ts < end64)
    bad = late | returned
    good_dist, bad_dist = np.array(NPS_GOOD, float), np.array(NPS_BAD, float)
    nps_good = rng.choice(np.arange(11), size=m, p=good_dist / good_dist.sum())
    nps_bad = rng.choice(np.arange(11), size=m, p=bad_dist / bad_dist.sum())
    nps_score = np.where(bad, nps_bad, nps_good)
    nps = pd.DataFrame({
        "customer_id": orders.customer_id.to_numpy()[nps_mask],
        "response_ts": nps_ts[nps_mask],
        "metric": "nps", "score": nps_score[nps_mask].astype(float),
        "order_id": orders.order_id.to_numpy()[nps_mask],
        "scale_min": 0.0, "scale_max": 10.0, "touchpoint": "relationship",
        "comment": _comment(rng, nps_score[nps_mask] <= 6),
    })
    return pd.concat([csat, nps], ignore_index=True)


def _tickets(rng, prm, orders, late, returned, end64) -> pd.DataFrame:
    m = len(orders)
    rate = np.where(late, prm.late_ticket_rate, prm.ticket_rate)
    rate = np.where(returned, np.maximum(rate, 0.3), rate)
    has = rng.random(m) < rate
    opened = orders.order_ts.to_numpy() + (rng.uniform(1, 10, size=m) * SECONDS_PER_DAY).astype(
        "timedelta64[s]")
    has &= opened < end64
    channel = rng.choice(TICKET_CHANNELS, size=m, p=(0.5, 0.35, 0.15))
    topic = np.where(late, "delivery", np.where(returned, "return",
                                                   rng.choice(TICKET_TOPICS, size=m)))
    speed = {"email": 30.0, "chat": 4.0, "phone": 8.0}
    median_h = np.array([speed[c] for c in channel])
    hours = median_h * np.exp(rng.normal(0, 1.0, size=m))
    resolved = opened + (hours * 3600).astype("timedelta64[s]")
    open_now = (resolved >= end64) | (rng.random(m) < prm.never_resolved_share)
    frame = pd.DataFrame({
        "customer_id": orders.customer_id.to_numpy()[has],
        "opened_ts": opened[has],
        "order_id": orders.order_id.to_numpy()[has],
        "resolved_ts": pd.Series(resolved[has]).where(~open_now[has]).to_numpy(),
        "channel": channel[has],
        "topic": topic[has],
    })
    frame = frame.sort_values("opened_ts", kind="stable").reset_index(drop=True)
    frame.insert(0, "ticket_id", [f"T{i:07d}" for i in range(len(frame))])
    return frame


def _ces(rng, prm, tickets, end64) -> pd.DataFrame:
    """CES 2.0 (1-7, higher = easier) after a resolved ticket; slow resolution scores lower."""
    resolved = tickets.resolved_ts.notna().to_numpy()
    k = len(tickets)
    answer_ts = tickets.resolved_ts.to_numpy() + np.timedelta64(1, "h")
    mask = resolved & (rng.random(k) < prm.ces_response_rate)
    mask &= np.where(resolved, answer_ts < end64, False)
    hours = ((tickets.resolved_ts - tickets.opened_ts).dt.total_seconds() / 3600).to_numpy()
    base = np.where(hours <= 24, 5.8, np.where(hours <= 72, 4.5, 3.2))
    score = np.clip(np.round(base + rng.normal(0, 1.1, size=k)), 1, 7)
    return pd.DataFrame({
        "customer_id": tickets.customer_id.to_numpy()[mask],
        "response_ts": answer_ts[mask],
        "metric": "ces", "score": score[mask],
        "order_id": tickets.order_id.to_numpy()[mask],
        "scale_min": 1.0, "scale_max": 7.0, "touchpoint": "support",
        "comment": _comment(rng, score[mask] <= 3),
    })


#: Defects :func:`inject_defects` adds: (table, rule) -> rows the validator must exclude.
INJECTED_DEFECTS = {
    ("orders", "duplicate_row"): 3,
    ("orders", "conflicting_order_id"): 4,
    ("orders", "negative_amount"): 2,
    ("orders", "missing_customer_id"): 1,
    ("orders", "future_order_ts"): 1,
    ("returns", "unknown_order"): 1,
    ("surveys", "score_outside_scale"): 2,
    ("surveys", "unknown_metric"): 1,
    ("tickets", "resolved_before_opened"): 2,
}


def inject_defects(shop: SimulatedShop, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The shop's tables with a few typical export defects added (see :data:`INJECTED_DEFECTS`).

    The defects are what real exports contain: rows exported twice, an order id reused with
    another amount, refunds booked as negative orders, a missing customer, a mistyped year,
    an orphan return, survey scores off the scale or under a misspelt metric, and tickets
    whose resolution time precedes their opening. The committed sample carries them so that
    its reports show a working data-quality section.

    Examples
    --------
    >>> tables = inject_defects(simulate_shop(customers=300, seed=3))
    >>> len(tables["orders"]) - len(simulate_shop(customers=300, seed=3).orders)
    9
    """
    rng = np.random.default_rng(seed)
    orders = shop.orders.copy()
    # Defects go on orders nothing else refers to, so none cascades into another table.
    referenced = set(shop.returns.order_id) | set(shop.tickets.order_id) | set(
        shop.surveys.order_id.dropna())
    free = np.flatnonzero(~orders.order_id.isin(referenced).to_numpy())
    picks = rng.choice(free, size=9, replace=False)
    extra = orders.iloc[picks].reset_index(drop=True)
    extra.loc[3:4, "amount"] = (extra.loc[3:4, "amount"] * 2).round(2)  # id reused, new amount
    extra.loc[5:8, "order_id"] += np.array([10, 11, 20, 30]) * 1_000_000
    extra.loc[5:6, "amount"] = -extra.loc[5:6, "amount"]  # refunds booked as orders
    extra.loc[7, "customer_id"] = None
    extra.loc[8, "order_ts"] = pd.Timestamp("2036-01-15 10:00:00")  # mistyped year
    extra.loc[8, ["promised_ts", "delivered_ts"]] = pd.NaT
    orders = pd.concat([orders, extra], ignore_index=True)
    orders = orders.sort_values(["order_ts", "order_id"], kind="stable").reset_index(drop=True)

    returns = pd.concat([shop.returns, pd.DataFrame({
        "order_id": [999_999_999], "return_ts": [pd.Timestamp(shop.start) + pd.Timedelta(days=40)],
        "amount": [25.0], "reason": ["changed mind"]})], ignore_index=True)

    surveys = shop.surveys.copy()
    nps_rows = surveys.index[surveys.metric == "nps"][:1]
    csat_rows = surveys.index[surveys.metric == "csat"][:1]
    surveys.loc[nps_rows, "score"] = 11.0
    surveys.loc[csat_rows, "score"] = 6.0
    surveys.loc[surveys.index[surveys.metric == "csat"][1:2], "metric"] = "cast"

    tickets = shop.tickets.copy()
    resolved = tickets.index[tickets.resolved_ts.notna()][:2]
    tickets.loc[resolved, "resolved_ts"] = (tickets.loc[resolved, "opened_ts"]
                                            - pd.Timedelta(hours=5))
    return {"orders": orders, "returns": returns, "surveys": surveys, "tickets": tickets}
