"""Validation of a segment definition (the JSON the builder edits, see
``campaigns.models.Segment``). Errors are collected, translated, and raised
together as ``SegmentDefinitionError``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from campaigns.exceptions import SegmentDefinitionError

if TYPE_CHECKING:
    from merchants.models import Merchant

MATCHES = ("all", "any")
MAX_GROUPS = 10
MAX_CONDITIONS = 20


def parse_definition(raw: Any, *, merchant: Merchant) -> dict:
    """Return the definition normalised (values converted, defaults filled),
    or raise ``SegmentDefinitionError`` listing every problem."""
    from campaigns.segments.conditions import clean_condition

    if raw in (None, ""):
        raw = {}
    if not isinstance(raw, dict):
        raise SegmentDefinitionError([_("The segment definition must be an object.")])
    errors: list[str] = []
    match = raw.get("match", "all")
    if match not in MATCHES:
        errors.append(_("Combine groups with “all” or “any”."))
    groups = raw.get("groups", [])
    if not isinstance(groups, list):
        raise SegmentDefinitionError([_("The groups of conditions must be a list.")])
    if len(groups) > MAX_GROUPS:
        errors.append(_("A segment may have at most %(n)d groups.") % {"n": MAX_GROUPS})
    clean_groups = []
    for group in groups[:MAX_GROUPS]:
        if not isinstance(group, dict):
            errors.append(_("Each group of conditions must be an object."))
            continue
        group_match = group.get("match", "all")
        if group_match not in MATCHES:
            errors.append(_("Combine conditions with “all” or “any”."))
        conditions = group.get("conditions", [])
        if not isinstance(conditions, list):
            errors.append(_("The conditions of a group must be a list."))
            continue
        if len(conditions) > MAX_CONDITIONS:
            errors.append(_("A group may have at most %(n)d conditions.") % {"n": MAX_CONDITIONS})
        clean = []
        for condition in conditions[:MAX_CONDITIONS]:
            cleaned, problems = clean_condition(condition, merchant=merchant)
            errors.extend(problems)
            if cleaned is not None:
                clean.append(cleaned)
        clean_groups.append({"match": group_match, "conditions": clean})
    if errors:
        raise SegmentDefinitionError(errors)
    return {"match": match, "groups": clean_groups}
