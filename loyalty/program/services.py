"""Writes for a merchant's program: the default program, and saving new rules
(which always creates a new immutable ProgramVersion)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from loyalty.exceptions import InvalidProgram
from loyalty.models import Mechanic, Program, ProgramVersion, Tier
from loyalty.program.limits import (
    CASHBACK_TIER_EARN_RATE,
    TIER_NAME_MAX,
    program_limits,
    program_name_problem,
    tier_limits,
)
from loyalty.program.rules import RULE_FIELDS, Rules, cached_rules, rules_for_version, snapshot
from merchants import audit
from merchants.currency import POINT_VALUE_STEPS, default_amount

logger = logging.getLogger(__name__)

# A café's sensible start: 5 % cashback, 100 welcome points, points pay at most
# 30 % of a bill, and three tiers by lifetime spend.
# Names here are the English ones; ``default_tiers`` writes them in the merchant's language
# (they are stored text from then on: the owner renames them). Amounts are in roubles;
# ``default_tiers`` and ``default_program_values`` scale them to the merchant's currency
# (``merchants.currency.default_amount``: 10,000 RUB → 100 USD, 20,000 JPY, 30 KWD).
DEFAULT_TIERS: list[dict[str, Any]] = [
    {"name": "Bronze", "threshold": Decimal("0"), "earn_rate": None, "discount_percent": Decimal("3")},
    {"name": "Silver", "threshold": Decimal("10000"), "earn_rate": Decimal("7"), "discount_percent": Decimal("5")},
    {"name": "Gold", "threshold": Decimal("30000"), "earn_rate": Decimal("10"), "discount_percent": Decimal("10")},
]

# Countries where a business most likely speaks to its customers in Russian. The program is
# made on first use (which may be a customer's request in any language), so the merchant's
# country decides, not the language of whoever happens to trigger it.
RUSSIAN_SPEAKING_COUNTRIES = frozenset({"RU", "BY", "KZ", "KG"})


def merchant_language(merchant) -> str:
    return "ru" if merchant.country in RUSSIAN_SPEAKING_COUNTRIES else "en"


def default_tiers(*, merchant, currency: str | None = None) -> list[dict[str, Any]]:
    """The default tiers with their names in the merchant's language ("Бронза" or "Bronze") and
    thresholds in its currency (``currency``: another one than the merchant's)."""
    currency = currency or merchant.currency
    with translation.override(merchant_language(merchant)):
        names = (pgettext("tier", "Bronze"), pgettext("tier", "Silver"), pgettext("tier", "Gold"))
    return [
        {**spec, "name": name, "threshold": default_amount(spec["threshold"], currency)}
        for spec, name in zip(DEFAULT_TIERS, names, strict=True)
    ]


# The model's defaults for a point: worth 1 rouble, 0.05 of them per rouble under the points
# mechanic (1 per 20 roubles: the same 5 % as the cashback).
_ROUBLE_POINT_VALUE = Decimal("1")
_ROUBLE_POINTS_PER_UNIT = Decimal("0.05")


def default_program_values(currency: str) -> dict[str, Decimal]:
    """The program's money defaults in ``currency``: a point is worth 1 RUB, 1 JPY, 0.01 USD, 0.005 KWD,
    5 KZT, and the points mechanic pays the same 5 % in points (5 per dollar, 0.05 per yen)."""
    point_value = default_amount(_ROUBLE_POINT_VALUE, currency, steps=POINT_VALUE_STEPS)
    per_unit = (_ROUBLE_POINTS_PER_UNIT * _ROUBLE_POINT_VALUE / point_value).quantize(Decimal("0.0001"))
    return {"point_value": point_value, "points_per_unit": per_unit}


def follow_currency_change(*, merchant, old_currency: str) -> None:
    """The merchant's currency changed (allowed only before its first purchase): the program's money
    settings still at the old currency's defaults move to the new one's (tiers of 10,000 and 30,000
    roubles become 100 and 300 dollars; a point worth 1 rouble, 0.01 dollar). What the owner set stays
    as set (the tiers move only while all of them are the defaults, so that they stay in order); the
    program page shows it in the new currency. One new version, if anything moved."""
    program = Program.objects.filter(merchant=merchant).first()
    if program is None or program.current_version_id is None:
        return  # made on first use, in the new currency
    changes: dict[str, Any] = {}
    old_values, new_values = default_program_values(old_currency), default_program_values(merchant.currency)
    for name, old_default in old_values.items():
        if getattr(program, name) == old_default and new_values[name] != old_default:
            changes[name] = new_values[name]
    tiers = list(Tier.objects.filter(program=program).order_by("threshold", "pk"))
    old_thresholds = [spec["threshold"] for spec in default_tiers(merchant=merchant, currency=old_currency)]
    new_thresholds = [spec["threshold"] for spec in default_tiers(merchant=merchant)]
    if [tier.threshold for tier in tiers] == old_thresholds and old_thresholds != new_thresholds:
        changes["tiers"] = [
            {"id": tier.pk, **{name: getattr(tier, name) for name in TIER_FIELDS}, "threshold": threshold}
            for tier, threshold in zip(tiers, new_thresholds, strict=True)
        ]
    if not changes:
        return
    try:
        save_program(merchant=merchant, actor=None, **changes)
    except InvalidProgram:
        # Cannot happen with the defaults; if it ever did, the program stays as the owner left it
        # rather than the profile failing.
        logger.exception("program defaults of merchant %s did not follow its currency", merchant.pk)


def program_for(*, merchant) -> Program:
    """The merchant's program, created with defaults (and version 1) on first use."""
    program = Program.objects.filter(merchant=merchant).select_related("current_version").first()
    if program is not None and program.current_version_id is not None:
        return program
    try:
        with transaction.atomic():
            program, _created = Program.objects.get_or_create(
                merchant=merchant, defaults={"name": merchant.name, **default_program_values(merchant.currency)}
            )
            program = Program.objects.select_for_update().get(pk=program.pk)
            if program.current_version_id is None:
                for spec in default_tiers(merchant=merchant):
                    Tier.objects.create(merchant=merchant, program=program, **spec)
                _new_version(program=program, actor=None)
    except IntegrityError:
        # Another request created it at the same moment.
        pass
    return Program.objects.select_related("current_version").get(merchant=merchant)


def current_rules(*, merchant) -> Rules:
    """The rules now in force (one small query; parsed versions are cached)."""
    version_id = Program.objects.filter(merchant=merchant).values_list("current_version_id", flat=True).first()
    if version_id is None:
        version_id = program_for(merchant=merchant).current_version_id
        assert version_id is not None  # program_for always returns a program with a version
    return rules_for_version_id(version_id)


def rules_for_version_id(version_id: int) -> Rules:
    cached = cached_rules(version_id)
    if cached is not None:
        return cached
    return rules_for_version(ProgramVersion.objects.get(pk=version_id))


def _new_version(*, program: Program, actor) -> ProgramVersion:
    tiers = list(Tier.objects.filter(program=program))
    number = (ProgramVersion.objects.filter(program=program).aggregate(n=Max("number"))["n"] or 0) + 1
    version = ProgramVersion.objects.create(
        merchant_id=program.merchant_id,
        program=program,
        number=number,
        rules=snapshot(program, tiers),
        created_at=timezone.now(),
        created_by=actor,
    )
    program.current_version = version
    program.updated_at = version.created_at
    program.save(update_fields=["current_version", "updated_at"])
    return version


TIER_FIELDS = ("name", "threshold", "earn_rate", "discount_percent")


def _tier_label(index: int, tier: Tier) -> str:
    name = (tier.name or "").strip()
    if name:
        return _("Tier %(n)d “%(name)s”") % {"n": index + 1, "name": name}
    return _("Tier %(n)d") % {"n": index + 1}


def _amount(value) -> str:
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return number_format(value, use_l10n=True, force_grouping=True)


@transaction.atomic
def save_program(*, merchant, actor, **changes: Any) -> ProgramVersion:
    """Apply ``changes`` (program fields, and optionally ``tiers``: the complete
    list of tiers as dicts with an optional ``id``) and record a new version.

    Raises InvalidProgram with per-field ``errors`` and changes nothing if the
    result does not validate. Changing the mechanic without passing ``tiers``
    resets the tiers' earn rates (a cashback % is not a points-per-unit rate).
    """
    program_for(merchant=merchant)
    # Lock the program so two saves number their versions one after the other.
    program = Program.objects.select_for_update().get(merchant=merchant)
    tier_specs = changes.pop("tiers", None)
    errors: dict[str, list[str]] = {}
    unknown = set(changes) - set(RULE_FIELDS) - {"name"}
    if unknown:
        raise InvalidProgram(errors={name: [_("Unknown setting.")] for name in sorted(unknown)})

    mechanic_changed = "mechanic" in changes and changes["mechanic"] != program.mechanic
    state_before = _audit_state(program)
    for name, value in changes.items():
        setattr(program, name, value)
    try:
        program.full_clean(exclude=["merchant", "current_version"])
    except ValidationError as exc:
        errors.update({k: [str(m) for m in v] for k, v in exc.message_dict.items()})
    # The bounds, in the merchant's words (they replace a validator's wording of the same problem).
    if "name" in changes:
        problem = program_name_problem(program.name)
        if problem:
            errors["name"] = [problem]
        else:
            program.name = program.name.strip()
    for name, limit in program_limits(merchant.currency).items():
        problem = limit.problem(getattr(program, name))
        if problem:
            errors[name] = [problem]

    if (
        program.mechanic == Mechanic.STAMPS
        and ("stamps_per_reward" in changes or mechanic_changed)
        and program.stamps_per_reward == 1
        and "stamps_per_reward" not in errors
    ):
        # N in "every N-th visit is free": the customer pays for N − 1 visits first.
        errors["stamps_per_reward"] = [_("The free visit can be the 2nd or a later one, not every visit.")]

    existing = {t.pk: t for t in Tier.objects.filter(program=program)}
    if tier_specs is None:
        tiers = list(existing.values())
        if mechanic_changed:
            for tier in tiers:
                tier.earn_rate = None
        to_delete: list[Tier] = []
    else:
        tiers = []
        for spec in tier_specs:
            tier_id = spec.get("id")
            if tier_id is not None and tier_id not in existing:
                errors.setdefault("tiers", []).append(_("Unknown tier."))
                continue
            tier = existing.get(tier_id) or Tier(merchant=merchant, program=program)
            for name in TIER_FIELDS:
                if name in spec:
                    setattr(tier, name, spec[name])
            tiers.append(tier)
        kept = {t.pk for t in tiers if t.pk}
        to_delete = [t for pk, t in existing.items() if pk not in kept]

    limits_of_tier = tier_limits(merchant.currency)
    if program.mechanic == Mechanic.CASHBACK:
        limits_of_tier["earn_rate"] = CASHBACK_TIER_EARN_RATE
    for index, tier in enumerate(tiers):
        label = _tier_label(index, tier)
        problems: list[str] = []
        tier.name = (tier.name or "").strip()
        if not tier.name:
            problems.append(_("Give the tier a name."))
        elif len(tier.name) > TIER_NAME_MAX:
            problems.append(_("At most %(max)d characters.") % {"max": TIER_NAME_MAX})
        for name, limit in limits_of_tier.items():
            problem = limit.problem(getattr(tier, name))
            if problem:
                problems.append(problem)
        if not problems:
            try:
                tier.full_clean(exclude=["merchant", "program"])
            except ValidationError as exc:
                problems.extend(str(m) for v in exc.message_dict.values() for m in v)
        errors.setdefault("tiers", []).extend(f"{label}: {problem}" for problem in problems)
    if not errors.get("tiers"):
        errors.pop("tiers", None)
    if not errors.get("tiers"):
        problems = tier_list_problems(tiers, listed=tier_specs is not None)
        if problems:
            errors["tiers"] = problems
    if errors:
        raise InvalidProgram(errors=errors)

    program.save()
    for tier in to_delete:
        tier.delete()
    for tier in tiers:
        tier.save()
    version = _new_version(program=program, actor=actor)
    # Read back, so that values compare as stored (7 and 7.00 are one percentage).
    changed_before, changed_after = audit.changes(state_before, _audit_state(Program.objects.get(pk=program.pk)))
    if changed_before or changed_after:
        audit.record(
            action="program.changed",
            merchant=merchant,
            actor=actor,
            target=program,
            before=changed_before,
            after={**(changed_after or {}), "version": version.number},
        )
    return version


def _audit_state(program: Program) -> dict[str, Any]:
    """The program's rules and its tiers, as the audit log compares them."""
    state = {name: getattr(program, name) for name in (*RULE_FIELDS, "name")}
    state["tiers"] = [
        {name: getattr(tier, name) for name in ("id", *TIER_FIELDS)}
        for tier in Tier.objects.filter(program=program).order_by("threshold", "pk")
    ]
    return audit.jsonable(state)


def tier_list_problems(tiers, *, listed: bool = True) -> list[str]:
    """What is wrong with the tiers taken together (each with ``name`` and ``threshold``): none at all,
    two with one name or one threshold, no tier from 0, and (``listed``: in the order the merchant
    listed them) a higher tier that starts below the one before it, a mistake rather than something
    to re-sort. The program page asks this too while other fields still have errors, so that the
    owner sees every problem at once."""
    problems: list[str] = []
    if not tiers:
        return [_("The program needs at least one tier.")]
    names = [(t.name or "").strip().lower() for t in tiers]
    thresholds = [t.threshold for t in tiers]
    if len(set(names)) != len(names):
        problems.append(_("Tier names must be different."))
    if len(set(thresholds)) != len(thresholds):
        problems.append(_("Tier thresholds must be different."))
    if min(thresholds) != 0:
        problems.append(_("The lowest tier must start at 0, so every customer has a tier."))
    if listed:
        for index in range(1, len(tiers)):
            before, tier = tiers[index - 1], tiers[index]
            if tier.threshold < before.threshold:
                problems.append(
                    _(
                        "%(tier)s starts at %(threshold)s, below %(before)s (%(before_threshold)s). "
                        "List the tiers from the lowest spend to the highest."
                    )
                    % {
                        "tier": _tier_label(index, tier),
                        "threshold": _amount(tier.threshold),
                        "before": _tier_label(index - 1, before),
                        "before_threshold": _amount(before.threshold),
                    }
                )
    return problems
