"""Segment conditions on the nightly predicted customer value (BG/NBD with
Gamma-Gamma, fitted by analytics): the probability that a customer is still
active, the expected purchases and spend of the next 90 days, and the fifth of
the merchant's customers the expected spend falls in. Read through
``analytics.selectors`` (the one module of analytics other domains may import)
as uncorrelated subqueries of customer ids, so a segment stays one SQL query.

A customer without a prediction (no purchase yet, or a merchant with too little
history for a fit) matches none of these conditions.

And the ready-made segments the builder offers, such as "probably churning,
high value"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from analytics.selectors import customer_predictions
from campaigns.segments.conditions import BuildContext, ConditionType, register_condition

HUNDRED = Decimal(100)
RANGE_OPS = ("lte", "gte", "between")


def _compare(name: str, op: str, value: Any) -> Q:
    if op == "between":
        return Q(**{f"{name}__gte": value[0], f"{name}__lte": value[1]})
    if op == "eq":
        return Q(**{name: value})
    return Q(**{f"{name}__{op}": value})


def _decimal(value: Any) -> Any:
    return [Decimal(str(v)) for v in value] if isinstance(value, list) else Decimal(str(value))


def _predicted(ctx: BuildContext, q: Q) -> Q:
    ids: QuerySet = customer_predictions(merchant=ctx.merchant).filter(q).values("customer_id")
    return Q(pk__in=ids)


def _alive(ctx: BuildContext, c: dict) -> Q:
    # Entered in whole percent, stored as a probability 0–1.
    value = c["value"]
    share = [Decimal(v) / HUNDRED for v in value] if isinstance(value, list) else Decimal(value) / HUNDRED
    return _predicted(ctx, _compare("p_alive", c["op"], share))


def _purchases(ctx: BuildContext, c: dict) -> Q:
    return _predicted(ctx, _compare("expected_purchases_90d", c["op"], _decimal(c["value"])))


def _spend(ctx: BuildContext, c: dict) -> Q:
    return _predicted(ctx, _compare("expected_spend_90d", c["op"], _decimal(c["value"])))


def _spend_fifth(ctx: BuildContext, c: dict) -> Q:
    # Fifths by rank among the merchant's predicted customers, 5 the top: with n
    # customers ranked 1…n by expected spend, fifth = 1 + ⌊5 (rank − 1) / n⌋. Ties
    # share the lowest rank (RANK()), so equal predictions always share a fifth
    # (as the RFM scores do); with 10 customers the top 2 are fifth 5.
    table = customer_predictions(merchant=ctx.merchant).model._meta.db_table
    op, value = c["op"], c["value"]
    low, high = (
        (value[0], value[1]) if op == "between" else {"gte": (value, 5), "lte": (1, value), "eq": (value, value)}[op]
    )
    sql = f"""
        SELECT customer_id FROM (
            SELECT customer_id,
                   1 + (5 * (RANK() OVER (ORDER BY expected_spend_90d) - 1)) / COUNT(*) OVER () AS fifth
              FROM {table} WHERE merchant_id = %s
        ) ranked WHERE fifth BETWEEN %s AND %s
    """  # noqa: S608 (the table name is the model's; values are parameters)
    return Q(pk__in=RawSQL(sql, [ctx.merchant.pk, low, high]))


_HELP = gettext_lazy("From the nightly prediction; customers without a prediction are not counted.")

for _condition in (
    ConditionType(
        "predicted_alive",
        gettext_lazy("Probability still active (predicted)"),
        "number",
        RANGE_OPS,
        _alive,
        help=_HELP,
        max_value=100,
        unit="%",
    ),
    ConditionType(
        "predicted_purchases_90d",
        gettext_lazy("Expected purchases in the next 90 days"),
        "decimal",
        RANGE_OPS,
        _purchases,
        help=_HELP,
    ),
    ConditionType(
        "predicted_spend_90d",
        gettext_lazy("Expected spend in the next 90 days"),
        "money",
        RANGE_OPS,
        _spend,
        help=_HELP,
    ),
    ConditionType(
        "predicted_spend_fifth",
        gettext_lazy("Expected 90-day spend: fifth of customers"),
        "number",
        ("gte", "eq", "lte", "between"),
        _spend_fifth,
        help=gettext_lazy("5: the fifth of your customers with the highest expected spend; 1: the lowest."),
        min_value=1,
        max_value=5,
    ),
):
    register_condition(_condition)


# -- ready-made segments ------------------------------------------------------

PRESETS: dict[str, tuple[Promise, Promise, dict]] = {
    "churning_high_value": (
        gettext_lazy("Probably churning, high value"),
        gettext_lazy(
            "The model gives them at most a 50% chance of still being your customers, and their spend "
            "so far is in your top fifth (RFM monetary score 5)."
        ),
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "conditions": [
                        {"field": "predicted_alive", "op": "lte", "value": 50},
                        {"field": "rfm_score", "score": "m", "op": "eq", "value": 5},
                    ],
                }
            ],
        },
    ),
}
