"""Template helpers for grammatical admin titles (``merchants.admin_grammar``)."""

from __future__ import annotations

from django import template

from merchants import admin_grammar

register = template.Library()


@register.filter
def accusative(opts) -> str:
    return admin_grammar.accusative(opts)


@register.simple_tag(takes_context=True)
def grammatical_title(context) -> str:
    opts = context.get("opts") or getattr(context.get("cl"), "opts", None)
    return admin_grammar.grammatical_title(context.get("title"), opts)
