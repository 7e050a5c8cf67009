"""The rules a ledger operation runs under: an immutable, typed view of one
ProgramVersion's JSON snapshot, plus the pure calculations on it.

Versions never change, so a parsed ``Rules`` is cached per version id for the
life of the process.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from decimal import Decimal
from typing import Any

from django.db.models import DecimalField

from loyalty.models import Mechanic, Program, ProgramVersion
from loyalty.money import HUNDRED, fits_currency, money_to_points, percent_of, quantum

DECIMAL_FIELDS = {
    "points_per_unit",
    "cashback_percent",
    "point_value",
    "stamp_min_bill",
    "returning_multiplier",
    "max_redeem_percent",
    "min_bill_to_earn",
}
# Amounts of money in the merchant's currency: a snapshot writes them with its decimals ("1.00" RUB, "1" JPY).
MONEY_FIELDS = {"point_value", "stamp_min_bill", "min_bill_to_earn"}
# Program fields copied into every version.
RULE_FIELDS = [
    "mechanic",
    "points_per_unit",
    "cashback_percent",
    "point_value",
    "points_expiry_days",
    "stamps_per_reward",
    "reward_description",
    "stamp_min_bill",
    "stamp_expiry_days",
    "tier_window_months",
    "tier_demotion_enabled",
    "welcome_bonus",
    "birthday_bonus",
    "birthday_days_before",
    "birthday_valid_days",
    "referral_referrer_bonus",
    "referral_friend_bonus",
    "referral_cap",
    "returning_after_days",
    "returning_multiplier",
    "returning_purchases",
    "max_redeem_percent",
    "min_bill_to_earn",
    "min_balance_to_redeem",
    "daily_earn_cap",
    "activation_delay_hours",
]


@dataclass(frozen=True)
class TierRule:
    id: int
    name: str
    threshold: Decimal
    earn_rate: Decimal | None
    discount_percent: Decimal


@dataclass(frozen=True)
class Rules:
    version_id: int
    version_number: int
    mechanic: str
    points_per_unit: Decimal
    cashback_percent: Decimal
    point_value: Decimal
    points_expiry_days: int | None
    stamps_per_reward: int
    reward_description: str
    stamp_min_bill: Decimal
    stamp_expiry_days: int | None
    tier_window_months: int | None
    tier_demotion_enabled: bool
    welcome_bonus: int
    birthday_bonus: int
    birthday_days_before: int
    birthday_valid_days: int
    referral_referrer_bonus: int
    referral_friend_bonus: int
    referral_cap: int
    returning_after_days: int | None
    returning_multiplier: Decimal
    returning_purchases: int
    max_redeem_percent: Decimal
    min_bill_to_earn: Decimal
    min_balance_to_redeem: int
    daily_earn_cap: int | None
    activation_delay_hours: int
    tiers: tuple[TierRule, ...]  # ascending threshold

    @property
    def uses_points(self) -> bool:
        return self.mechanic in Mechanic.with_points()

    @property
    def uses_stamps(self) -> bool:
        return self.mechanic == Mechanic.STAMPS

    @property
    def stamps_to_reward(self) -> int:
        """Stamps that earn a reward. ``stamps_per_reward`` is N in "every N-th
        visit is free" (6: buy 5, the 6th is free): each of the N − 1 paid
        visits earns a stamp, the (N − 1)-th stamp turns into a reward, and the
        reward pays for the N-th visit. (A program saved with N = 1 from before
        this rule: a reward for every stamp.)"""
        return max(1, self.stamps_per_reward - 1)

    @property
    def uses_discount(self) -> bool:
        return self.mechanic == Mechanic.DISCOUNT

    def tier(self, tier_id: int | None) -> TierRule | None:
        """The card's tier; a card with no (or a deleted) tier is on the lowest."""
        for tier in self.tiers:
            if tier.id == tier_id:
                return tier
        return self.tiers[0] if self.tiers else None

    def tier_for_spend(self, spend: Decimal) -> TierRule | None:
        reached = None
        for tier in self.tiers:
            if spend >= tier.threshold:
                reached = tier
        return reached or (self.tiers[0] if self.tiers else None)

    def discount_percent(self, tier: TierRule | None) -> Decimal:
        if self.uses_discount and tier is not None:
            return tier.discount_percent
        return Decimal(0)

    def discount_amount(self, bill: Decimal, tier: TierRule | None, *, currency: str | None = None) -> Decimal:
        """The tier discount, rounded half-up to the currency's minor unit."""
        pct = self.discount_percent(tier)
        return percent_of(bill, pct, currency) if pct else Decimal("0.00")

    def max_redeem_points(self, amount_after_discount: Decimal) -> int:
        """Most points that may pay for this bill under the share cap (floor)."""
        if not self.uses_points:
            return 0
        cap_money = amount_after_discount * self.max_redeem_percent / HUNDRED
        return money_to_points(cap_money, rate=Decimal(1), divisor=self.point_value)

    def earn_points(self, paid: Decimal, tier: TierRule | None, multiplier: Decimal = Decimal(1)) -> int:
        """Points for ``paid`` money (floor, once, after the multiplier)."""
        if not self.uses_points:
            return 0
        rate = tier.earn_rate if tier is not None and tier.earn_rate is not None else None
        if self.mechanic == Mechanic.POINTS:
            return money_to_points(paid, rate=(rate if rate is not None else self.points_per_unit) * multiplier)
        percent = rate if rate is not None else self.cashback_percent
        return money_to_points(paid, rate=percent * multiplier, divisor=HUNDRED * self.point_value)


def _money_text(value: Decimal, currency: str, places: int) -> str:
    """An amount with the currency's decimals, or the column's if it has more (saved before a check)."""
    step = quantum(currency) if fits_currency(Decimal(value), currency) else Decimal(1).scaleb(-places)
    return str(Decimal(value).quantize(step))


def snapshot(program: Program, tiers) -> dict[str, Any]:
    """The JSON stored in a ProgramVersion."""
    data: dict[str, Any] = {}
    currency = program.merchant.currency
    for name in RULE_FIELDS:
        value = getattr(program, name)
        if isinstance(value, Decimal):
            model_field = program._meta.get_field(name)
            assert isinstance(model_field, DecimalField)  # only DecimalFields hold Decimals
            places = model_field.decimal_places
            if name in MONEY_FIELDS:
                value = _money_text(value, currency, places)
            else:
                value = str(value.quantize(Decimal(1).scaleb(-places)))
        data[name] = value
    data["tiers"] = [
        {
            "id": t.pk,
            "name": t.name,
            "threshold": _money_text(Decimal(t.threshold), currency, 3),
            "earn_rate": None if t.earn_rate is None else str(Decimal(t.earn_rate).quantize(Decimal("0.0001"))),
            "discount_percent": str(Decimal(t.discount_percent).quantize(Decimal("0.01"))),
        }
        for t in sorted(tiers, key=lambda t: (t.threshold, t.pk))
    ]
    return data


_cache: dict[int, Rules] = {}


def cached_rules(version_id: int) -> Rules | None:
    return _cache.get(version_id)


def rules_for_version(version: ProgramVersion) -> Rules:
    cached = _cache.get(version.pk)
    if cached is not None:
        return cached
    data = dict(version.rules)
    kwargs: dict[str, Any] = {"version_id": version.pk, "version_number": version.number}
    names = {f.name for f in fields(Rules)} - {"version_id", "version_number", "tiers"}
    for name in names:
        value = data.get(name)
        kwargs[name] = Decimal(value) if name in DECIMAL_FIELDS and value is not None else value
    kwargs["tiers"] = tuple(
        TierRule(
            id=t["id"],
            name=t["name"],
            threshold=Decimal(t["threshold"]),
            earn_rate=None if t["earn_rate"] is None else Decimal(t["earn_rate"]),
            discount_percent=Decimal(t["discount_percent"]),
        )
        for t in data.get("tiers", [])
    )
    rules = Rules(**kwargs)
    _cache[version.pk] = rules
    return rules


def rules_as_dict(rules: Rules) -> dict[str, Any]:
    return asdict(rules)
