"""The conditions a segment is built from: each is validated by its kind and
becomes a ``Q`` over ``Customer`` (with subqueries for what lives in other
tables), so a whole segment is one SQL query.

To add a condition (e.g. consent for a new channel), ``register_condition()``
a ``ConditionType`` with a ``build(ctx, condition) -> Q`` function. Values that
need an expression (a subquery, a computed column) go through
``ctx.alias(expr)``, which names it for ``QuerySet.alias()``.

Days and dates are the merchant's local ones: "30 days since the last
purchase" counts calendar days in the merchant's time zone, and "the last N
days" of a period are today and the N−1 days before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Model,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import ExtractDay, ExtractMonth
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import RfmGroup
from loyalty.models import AppleRegistration, Card, Lot, Purchase, Source, Tier
from merchants.models import Location

if TYPE_CHECKING:
    from merchants.models import Merchant

MAX_PERIOD_DAYS = 3650
OP_LABELS: dict[str, Promise] = {
    "gte": gettext_lazy("at least"),
    "lte": gettext_lazy("at most"),
    "eq": gettext_lazy("exactly"),
    "between": gettext_lazy("between"),
    "in": gettext_lazy("is one of"),
    "is": gettext_lazy("is"),
    "within": gettext_lazy("within the next"),
}
NUMBER_OPS = ("gte", "lte", "eq", "between")
CHANNEL_CONSENT_MODEL = "campaigns.ChannelConsent"


@dataclass
class BuildContext:
    merchant: Merchant
    now: dt.datetime
    aliases: dict[str, Any] = field(default_factory=dict)

    def alias(self, expression: Any) -> str:
        name = f"seg_{len(self.aliases)}"
        self.aliases[name] = expression
        return name

    @property
    def today(self) -> dt.date:
        return self.now.astimezone(self.merchant.tzinfo).date()

    def day_start(self, day: dt.date) -> dt.datetime:
        """The first moment of a local calendar day (aware)."""
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.merchant.tzinfo)


@dataclass(frozen=True)
class PurchaseStat:
    """A condition on one aggregate of the customer's purchases since ``start`` that a customer
    without purchases fails (0 does not satisfy it). In an "all" group, every such condition
    shares one grouped scan of the purchases (``purchase_stats_q``) instead of one each."""

    start: dt.datetime
    aggregate: str  # "count" | "spend"
    op: str
    value: Any


@dataclass(frozen=True)
class ConditionType:
    key: str
    label: str | Promise
    # number | money | decimal | choice | date | bool
    kind: str
    ops: tuple[str, ...]
    build: Callable[[BuildContext, dict], Q]
    help: str | Promise = ""
    # "required" / "optional": the condition takes "days", a period ending today.
    period: str = ""
    choices: Callable[[Merchant], list[tuple[str, str]]] | None = None
    min_value: int = 0
    max_value: int | None = None
    unit: str | Promise = ""
    # Extra named parameters with their allowed values, e.g. {"score": [("r", "Recency"), ...]}.
    params: dict[str, list[tuple[str, str | Promise]]] = field(default_factory=dict)
    # Optional: the condition as a PurchaseStat (None when it cannot be one), for sharing a scan.
    purchase_stat: Callable[[BuildContext, dict], PurchaseStat | None] | None = None


REGISTRY: dict[str, ConditionType] = {}


def register_condition(condition: ConditionType) -> None:
    REGISTRY[condition.key] = condition


# -- validation ---------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _clean_scalar(ct: ConditionType, value: Any, merchant: Merchant) -> tuple[Any, str | None]:
    label = str(ct.label)
    if ct.kind == "number":
        number = _int(value)
        if number is None:
            return None, _("“%(condition)s”: enter a whole number.") % {"condition": label}
        if number < ct.min_value or (ct.max_value is not None and number > ct.max_value):
            if ct.max_value is None:
                return None, _("“%(condition)s”: enter a number of at least %(min)d.") % {
                    "condition": label,
                    "min": ct.min_value,
                }
            return None, _("“%(condition)s”: enter a number from %(min)d to %(max)d.") % {
                "condition": label,
                "min": ct.min_value,
                "max": ct.max_value,
            }
        return number, None
    if ct.kind == "money":
        amount = _money(value)
        if amount is None or amount < 0:
            return None, _("“%(condition)s”: enter an amount of zero or more.") % {"condition": label}
        return str(amount), None
    if ct.kind == "decimal":
        amount = _money(value)
        if amount is None or amount < 0:
            return None, _("“%(condition)s”: enter a number of zero or more.") % {"condition": label}
        return str(amount), None
    if ct.kind == "date":
        day = _date(value)
        if day is None:
            return None, _("“%(condition)s”: enter a date.") % {"condition": label}
        return day.isoformat(), None
    return value, None


def clean_condition(raw: Any, *, merchant: Merchant) -> tuple[dict | None, list[str]]:
    """One condition normalised, or None with the translated problems."""
    if not isinstance(raw, dict):
        return None, [_("Each condition must be an object.")]
    ct = REGISTRY.get(raw.get("field", ""))
    if ct is None:
        return None, [_("Unknown condition “%(field)s”.") % {"field": raw.get("field", "")}]
    label = str(ct.label)
    op = raw.get("op") or ct.ops[0]
    if op not in ct.ops:
        return None, [_("“%(condition)s”: choose how to compare.") % {"condition": label}]
    clean: dict[str, Any] = {"field": ct.key, "op": op}
    errors: list[str] = []
    value = raw.get("value")
    if ct.kind == "choice":
        allowed = {key for key, _label in (ct.choices(merchant) if ct.choices else [])}
        values = value if isinstance(value, list) else ([value] if value not in (None, "") else [])
        values = [str(v) for v in values]
        if not values:
            errors.append(_("“%(condition)s”: choose at least one option.") % {"condition": label})
        elif any(v not in allowed for v in values):
            errors.append(_("“%(condition)s”: one of the chosen options does not exist.") % {"condition": label})
        clean["value"] = values
    elif ct.kind == "bool":
        if not isinstance(value, bool):
            errors.append(_("“%(condition)s”: choose yes or no.") % {"condition": label})
        clean["value"] = value
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors.append(_("“%(condition)s”: enter both ends of the range.") % {"condition": label})
        else:
            low, low_error = _clean_scalar(ct, value[0], merchant)
            high, high_error = _clean_scalar(ct, value[1], merchant)
            if low_error or high_error:
                errors.append(low_error or high_error or "")
            elif (Decimal(low) if ct.kind in ("money", "decimal") else low) > (
                Decimal(high) if ct.kind in ("money", "decimal") else high
            ):
                errors.append(_("“%(condition)s”: the start of the range is after its end.") % {"condition": label})
            clean["value"] = [low, high]
    else:
        scalar, error = _clean_scalar(ct, value, merchant)
        if error:
            errors.append(error)
        clean["value"] = scalar
    if ct.period:
        days = raw.get("days")
        if days in (None, "") and ct.period == "optional":
            clean["days"] = None
        else:
            number = _int(days)
            if number is None or not 1 <= number <= MAX_PERIOD_DAYS:
                errors.append(
                    _("“%(condition)s”: the period is a number of days from 1 to %(max)d.")
                    % {"condition": label, "max": MAX_PERIOD_DAYS}
                )
            clean["days"] = number
    for name, allowed_params in ct.params.items():
        param = raw.get(name, allowed_params[0][0])
        if param not in {key for key, _label in allowed_params}:
            errors.append(_("“%(condition)s”: choose one of the options.") % {"condition": label})
        clean[name] = param
    return (None if errors else clean), errors


# -- building -----------------------------------------------------------------


def condition_q(ctx: BuildContext, condition: dict) -> Q:
    return REGISTRY[condition["field"]].build(ctx, condition)


def _compare(name: str, op: str, value: Any) -> Q:
    if op == "between":
        return Q(**{f"{name}__gte": value[0], f"{name}__lte": value[1]})
    if op == "eq":
        return Q(**{name: value})
    return Q(**{f"{name}__{op}": value})


def _money_value(value: Any) -> Any:
    return [Decimal(v) for v in value] if isinstance(value, list) else Decimal(value)


def _days_since_last_purchase(ctx: BuildContext, c: dict) -> Q:
    # "at least N days" = the last purchase fell on a local day N or more days
    # before today, i.e. before the start of day (today − N + 1).
    def not_after_day(n: int) -> Q:
        return Q(cards__last_purchase_at__lt=ctx.day_start(ctx.today - dt.timedelta(days=n - 1)))

    def not_before_day(n: int) -> Q:
        return Q(cards__last_purchase_at__gte=ctx.day_start(ctx.today - dt.timedelta(days=n)))

    op, value = c["op"], c["value"]
    if op == "gte":
        return not_after_day(value)
    if op == "lte":
        return not_before_day(value)
    if op == "eq":
        return not_after_day(value) & not_before_day(value)
    return not_after_day(value[0]) & not_before_day(value[1])


def _period_start(ctx: BuildContext, days: int) -> dt.datetime:
    return ctx.day_start(ctx.today - dt.timedelta(days=days - 1))


def _holds_for_zero(op: str, value: Any) -> bool:
    if op == "between":
        return value[0] <= 0 <= value[1]
    return {"gte": 0 >= value, "lte": 0 <= value, "eq": value == 0}[op]


def _per_customer(rows: QuerySet, aggregate: Any, op: str, value: Any) -> Q:
    """Customers whose aggregate over ``rows`` (purchases, lots; each with a
    ``card``) compares as asked, a customer without rows counting as 0.

    One grouped, uncorrelated subquery (a hashed semi-join), not one lookup
    per customer. Rows are grouped by card (one per customer and merchant) and
    matched against the card the outer query joins. When 0 satisfies the
    comparison, the customers to leave out are those with rows that do not."""
    grouped = rows.order_by().values("card_id").annotate(n=aggregate)
    if _holds_for_zero(op, value):
        failing = grouped.filter(~_compare("n", op, value)).values("card_id")
        return ~Q(pk__in=Card.objects.filter(pk__in=failing).values("customer_id"))
    return Q(cards__id__in=grouped.filter(_compare("n", op, value)).values("card_id"))


def _purchases_in_period(ctx: BuildContext, days: int) -> QuerySet:
    return Purchase.objects.filter(merchant_id=ctx.merchant.pk, created_at__gte=_period_start(ctx, days))


_SPENT = Sum(F("bill_amount") - F("refunded_amount"), output_field=DecimalField(max_digits=14, decimal_places=2))


def _purchase_count_stat(ctx: BuildContext, c: dict) -> PurchaseStat | None:
    if not c.get("days") or _holds_for_zero(c["op"], c["value"]):
        return None
    return PurchaseStat(_period_start(ctx, c["days"]), "count", c["op"], c["value"])


def _spend_stat(ctx: BuildContext, c: dict) -> PurchaseStat | None:
    value = _money_value(c["value"])
    if not c.get("days") or _holds_for_zero(c["op"], value):
        return None
    return PurchaseStat(_period_start(ctx, c["days"]), "spend", c["op"], value)


def purchase_stats_q(ctx: BuildContext, stats: list[PurchaseStat]) -> Q:
    """Customers satisfying all of ``stats`` (ANDed): one grouped, uncorrelated subquery over
    the purchases since the earliest start, each aggregate FILTERed to its own period."""
    start = min(stat.start for stat in stats)
    rows = Purchase.objects.filter(merchant_id=ctx.merchant.pk, created_at__gte=start).order_by().values("card_id")
    annotations: dict[str, Any] = {}
    having = Q()
    for index, stat in enumerate(stats):
        period = Q(created_at__gte=stat.start) if stat.start > start else None
        aggregate: Count | Sum
        if stat.aggregate == "count":
            aggregate = Count("pk", filter=period)
        else:
            aggregate = Sum(
                F("bill_amount") - F("refunded_amount"),
                filter=period,
                output_field=DecimalField(max_digits=14, decimal_places=2),
            )
        annotations[f"n{index}"] = aggregate
        having &= _compare(f"n{index}", stat.op, stat.value)
    return Q(cards__id__in=rows.annotate(**annotations).filter(having).values("card_id"))


def _purchase_count(ctx: BuildContext, c: dict) -> Q:
    if not c.get("days"):
        return _compare("cards__purchase_count", c["op"], c["value"])
    return _per_customer(_purchases_in_period(ctx, c["days"]), Count("pk"), c["op"], c["value"])


def _spend(ctx: BuildContext, c: dict) -> Q:
    if not c.get("days"):
        return _compare("cards__lifetime_spend", c["op"], _money_value(c["value"]))
    return _per_customer(_purchases_in_period(ctx, c["days"]), _SPENT, c["op"], _money_value(c["value"]))


def _average_check(ctx: BuildContext, c: dict) -> Q:
    # Lifetime spend over lifetime purchases, both kept on the card by the ledger; customers
    # without purchases have no average. Compared as spend against value × purchases, so the
    # card the other conditions join serves this one too (no second join for an alias).
    def times_count(amount: Decimal) -> ExpressionWrapper:
        return ExpressionWrapper(
            F("cards__purchase_count") * Value(amount), output_field=DecimalField(max_digits=20, decimal_places=3)
        )

    op, value = c["op"], _money_value(c["value"])
    q = Q(cards__purchase_count__gt=0)
    if op == "between":
        return q & Q(cards__lifetime_spend__gte=times_count(value[0]), cards__lifetime_spend__lte=times_count(value[1]))
    lookup = "cards__lifetime_spend" if op == "eq" else f"cards__lifetime_spend__{op}"
    return q & Q(**{lookup: times_count(value)})


def _rfm_group(ctx: BuildContext, c: dict) -> Q:
    return Q(rfm__group__in=c["value"], rfm__merchant_id=ctx.merchant.pk)


RFM_SCORE_FIELDS = {"r": "recency", "f": "frequency", "m": "monetary"}


def _rfm_score(ctx: BuildContext, c: dict) -> Q:
    return _compare(f"rfm__{RFM_SCORE_FIELDS[c['score']]}", c["op"], c["value"])


def _tier(ctx: BuildContext, c: dict) -> Q:
    ids = [int(v) for v in c["value"] if v != "none"]
    q = Q(cards__tier_id__in=ids)
    if "none" in c["value"]:
        q |= Q(cards__tier__isnull=True)
    return q


def _balance(ctx: BuildContext, c: dict) -> Q:
    return _compare("cards__balance", c["op"], c["value"])


def _points_expiring(ctx: BuildContext, c: dict) -> Q:
    # Points of open lots whose last valid day is today + N or earlier. The
    # ledger's lots expire at the local midnight after their last valid day
    # (``ledger.batch.expiry_for``), hence "≤ the start of day N + 1".
    lots = Lot.objects.filter(
        merchant_id=ctx.merchant.pk,
        remaining__gt=0,
        expires_at__gt=ctx.now,
        expires_at__lte=ctx.day_start(ctx.today + dt.timedelta(days=c["days"] + 1)),
    )
    return _per_customer(lots, Sum("remaining"), c["op"], c["value"])


def birthday_keys(today: dt.date, days: int) -> set[int]:
    """month × 100 + day of every birthday falling from today to today + days.
    A 29 February birthday is celebrated on 28 February in common years."""
    keys: set[int] = set()
    for offset in range(min(days, 366) + 1):
        day = today + dt.timedelta(days=offset)
        keys.add(day.month * 100 + day.day)
        if day.month == 2 and day.day == 28 and not _is_leap(day.year):
            keys.add(229)
    return keys


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _birthday_within(ctx: BuildContext, c: dict) -> Q:
    name = ctx.alias(ExtractMonth("birthday") * 100 + ExtractDay("birthday"))
    return Q(**{f"{name}__in": sorted(birthday_keys(ctx.today, c["value"]))})


def _enrolled(ctx: BuildContext, c: dict) -> Q:
    def start(value: str) -> dt.datetime:
        return ctx.day_start(dt.date.fromisoformat(value))

    def end(value: str) -> dt.datetime:
        return ctx.day_start(dt.date.fromisoformat(value) + dt.timedelta(days=1))

    op, value = c["op"], c["value"]
    if op == "gte":
        return Q(created_at__gte=start(value))
    if op == "lte":
        return Q(created_at__lt=end(value))
    if op == "eq":
        return Q(created_at__gte=start(value), created_at__lt=end(value))
    return Q(created_at__gte=start(value[0]), created_at__lt=end(value[1]))


def _enrolled_days_ago(ctx: BuildContext, c: dict) -> Q:
    # Same calendar-day counting as days since the last purchase.
    def not_after_day(n: int) -> Q:
        return Q(created_at__lt=ctx.day_start(ctx.today - dt.timedelta(days=n - 1)))

    def not_before_day(n: int) -> Q:
        return Q(created_at__gte=ctx.day_start(ctx.today - dt.timedelta(days=n)))

    op, value = c["op"], c["value"]
    if op == "gte":
        return not_after_day(value)
    if op == "lte":
        return not_before_day(value)
    if op == "eq":
        return not_after_day(value) & not_before_day(value)
    return not_after_day(value[0]) & not_before_day(value[1])


def _source(ctx: BuildContext, c: dict) -> Q:
    return Q(source__in=c["value"])


def _last_purchase_location(ctx: BuildContext, c: dict) -> Q:
    # The card caches the moment of its last purchase: the purchases at these
    # locations made at that moment are the last ones.
    last_here = Purchase.objects.filter(
        merchant_id=ctx.merchant.pk,
        location_id__in=[int(v) for v in c["value"]],
        created_at=F("card__last_purchase_at"),
    )
    return Q(cards__id__in=last_here.values("card_id"))


def _apple_passes(ctx: BuildContext) -> QuerySet:
    return AppleRegistration.objects.filter(merchant_id=ctx.merchant.pk).values("wallet_pass_id")


def _apple_customers(ctx: BuildContext) -> QuerySet:
    return Card.objects.filter(
        merchant_id=ctx.merchant.pk, wallet_pass__registrations__merchant_id=ctx.merchant.pk
    ).values("customer_id")


def _wallet(ctx: BuildContext, c: dict) -> Q:
    # Apple: a device registered the card's pass; Google: the customer saved it; web only:
    # neither (the web card is always there). Apple is the pass the outer query joins tested
    # against the registrations as one hashed set. "Not Apple" is an anti-join on the same pass
    # (no registration row), except beside Google in an OR, where that join could repeat a
    # customer: there it is a hashed NOT IN over the Apple customers. Neither is a correlated
    # lookup per customer.
    chosen = set(c["value"])
    if chosen >= {"apple", "google", "web"}:
        return Q()  # every customer: installed somewhere or not
    apple = Q(cards__wallet_pass__id__in=_apple_passes(ctx))
    google = Q(cards__wallet_pass__google_saved_at__isnull=False)
    not_google = Q(cards__wallet_pass__google_saved_at__isnull=True)
    # With one wallet beside "web only", the sets simplify (Apple or web = Apple or not Google).
    if chosen == {"apple"}:
        return apple
    if chosen == {"google"}:
        return google
    if chosen == {"web"}:
        return Q(cards__wallet_pass__registrations__isnull=True) & not_google
    if chosen == {"apple", "google"}:
        return apple | google
    if chosen == {"apple", "web"}:
        return apple | not_google
    return google | ~Q(pk__in=_apple_customers(ctx))  # Google or web


def _marketing_consent(ctx: BuildContext, c: dict) -> Q:
    # The general consent given at enrolment (the history is in ConsentRecord).
    return Q(marketing_consent=c["value"])


def _channel_consent_model() -> type[Model] | None:
    """Per-channel consent (``campaigns.ChannelConsent``, the sending side's
    model: a row with ``allowed=False`` is an unsubscribe from that channel)."""
    try:
        # Looked up by name: the model may not exist yet in this checkout.
        app_label, model_name = CHANNEL_CONSENT_MODEL.split(".")
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def _channel_consent(ctx: BuildContext, c: dict) -> Q:
    # May receive marketing on at least one of the channels: the general
    # consent, and that channel not turned off.
    model = _channel_consent_model()
    assert model is not None
    q = Q(pk__in=[])
    for channel in c["value"]:
        off = model._default_manager.filter(merchant_id=ctx.merchant.pk, channel=channel, allowed=False)
        q |= ~Q(pk__in=off.values("customer_id"))
    return Q(marketing_consent=True) & q


def _channel_choices(merchant: Merchant) -> list[tuple[str, str]]:
    model = _channel_consent_model()
    field = model._meta.get_field("channel") if model else None
    return [(str(value), str(label)) for value, label in (getattr(field, "choices", None) or [])]


def _tier_choices(merchant: Merchant) -> list[tuple[str, str]]:
    tiers = Tier.objects.for_merchant(merchant).order_by("threshold", "pk")
    return [(str(t.pk), t.name) for t in tiers] + [("none", str(_("No tier")))]


def _location_choices(merchant: Merchant) -> list[tuple[str, str]]:
    return [(str(loc.pk), loc.name) for loc in Location.objects.filter(merchant=merchant).order_by("name", "pk")]


def _rfm_choices(merchant: Merchant) -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in RfmGroup.choices]


def _source_choices(merchant: Merchant) -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in Source.choices]


def _wallet_choices(merchant: Merchant) -> list[tuple[str, str]]:
    return [("apple", "Apple Wallet"), ("google", "Google Wallet"), ("web", str(_("Web card only")))]


_DAYS = gettext_lazy("days")
_POINTS = gettext_lazy("points")

for _condition in (
    ConditionType(
        "days_since_last_purchase",
        gettext_lazy("Days since the last purchase"),
        "number",
        NUMBER_OPS,
        _days_since_last_purchase,
        help=gettext_lazy("Customers who never bought are not counted."),
        unit=_DAYS,
    ),
    ConditionType(
        "purchase_count",
        gettext_lazy("Number of purchases"),
        "number",
        NUMBER_OPS,
        _purchase_count,
        period="optional",
        purchase_stat=_purchase_count_stat,
        help=gettext_lazy("In the last N days; leave the period empty for all time."),
    ),
    ConditionType(
        "spend",
        gettext_lazy("Spend"),
        "money",
        NUMBER_OPS,
        _spend,
        period="optional",
        purchase_stat=_spend_stat,
        help=gettext_lazy("Bills minus refunds, in the last N days; leave the period empty for all time."),
    ),
    ConditionType("average_check", gettext_lazy("Average check"), "money", NUMBER_OPS, _average_check),
    ConditionType("rfm_group", gettext_lazy("RFM group"), "choice", ("in",), _rfm_group, choices=_rfm_choices),
    ConditionType(
        "rfm_score",
        gettext_lazy("RFM score"),
        "number",
        NUMBER_OPS,
        _rfm_score,
        min_value=1,
        max_value=5,
        params={
            "score": [
                ("r", gettext_lazy("Recency")),
                ("f", gettext_lazy("Frequency")),
                ("m", gettext_lazy("Monetary value")),
            ]
        },
    ),
    ConditionType("tier", gettext_lazy("Tier"), "choice", ("in",), _tier, choices=_tier_choices),
    ConditionType("balance", gettext_lazy("Points balance"), "number", NUMBER_OPS, _balance, unit=_POINTS),
    ConditionType(
        "points_expiring",
        gettext_lazy("Points expiring soon"),
        "number",
        ("gte", "lte", "between"),
        _points_expiring,
        period="required",
        help=gettext_lazy("Points whose last valid day is within the next N days."),
        unit=_POINTS,
    ),
    ConditionType(
        "birthday_within",
        gettext_lazy("Birthday within"),
        "number",
        ("within",),
        _birthday_within,
        max_value=366,
        unit=_DAYS,
        help=gettext_lazy("0 is today. 29 February birthdays count on 28 February in common years."),
    ),
    ConditionType("enrolled", gettext_lazy("Enrolment date"), "date", NUMBER_OPS, _enrolled),
    ConditionType(
        "enrolled_days_ago", gettext_lazy("Days since enrolment"), "number", NUMBER_OPS, _enrolled_days_ago, unit=_DAYS
    ),
    ConditionType("source", gettext_lazy("Enrolment source"), "choice", ("in",), _source, choices=_source_choices),
    ConditionType(
        "last_purchase_location",
        gettext_lazy("Location of the last purchase"),
        "choice",
        ("in",),
        _last_purchase_location,
        choices=_location_choices,
    ),
    ConditionType("wallet", gettext_lazy("Card installed in"), "choice", ("in",), _wallet, choices=_wallet_choices),
    ConditionType("marketing_consent", gettext_lazy("Marketing consent"), "bool", ("is",), _marketing_consent),
):
    register_condition(_condition)

if _channel_consent_model() is not None:
    register_condition(
        ConditionType(
            "channel_consent",
            gettext_lazy("May receive marketing by"),
            "choice",
            ("in",),
            _channel_consent,
            choices=_channel_choices,
            help=gettext_lazy("Consent given and the channel not unsubscribed from."),
        )
    )


# The conditions on predicted customer value register themselves (their own module).
import_module("campaigns.segments.predicted")


def schema_for(merchant: Merchant) -> list[dict]:
    """The registry as the builder's JavaScript reads it (labels translated)."""
    return [
        {
            "field": ct.key,
            "label": str(ct.label),
            "kind": ct.kind,
            "ops": [{"value": op, "label": str(OP_LABELS[op])} for op in ct.ops],
            "help": str(ct.help),
            "period": ct.period,
            "unit": str(ct.unit),
            "min": ct.min_value,
            "max": ct.max_value,
            "choices": [{"value": k, "label": v} for k, v in ct.choices(merchant)] if ct.choices else [],
            "params": {
                name: [{"value": k, "label": str(v)} for k, v in options] for name, options in ct.params.items()
            },
        }
        for ct in REGISTRY.values()
    ]
