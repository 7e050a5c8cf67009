"""Blocks other apps add to the analytics pages, so that analytics never imports
them (campaigns adds the RFM grid and each campaign's uplift to the analytics
page, and what the measured campaigns returned to the ROI page).

An app calls ``register_section()`` from its ``AppConfig.ready``. A section has
a template, a ``context(merchant=, first_month=, last_month=)`` for it, and
optionally the numbers of its chart for the CSV download
(``csv(merchant=, first_month=, last_month=) -> (header, rows)``), served at
``analytics_csv?chart=<key>``. ``first_month``/``last_month`` are the period
the page shows (the ROI page passes the last 12 months)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

PAGES = ("analytics", "roi")


@dataclass(frozen=True)
class Section:
    key: str
    page: str  # one of PAGES
    template: str
    context: Callable[..., dict]
    csv: Callable[..., tuple[list[str], Sequence[Sequence[Any]]]] | None = None
    order: int = 100
    # JavaScript files (paths under static/) the section needs.
    scripts: tuple[str, ...] = ()
    # Half the width on a desktop (beside another half), else a row of its own.
    half: bool = False


SECTIONS: list[Section] = []


def register_section(section: Section) -> None:
    if section.page not in PAGES:
        raise ValueError(f"unknown analytics page {section.page!r}")
    if all(existing.key != section.key for existing in SECTIONS):
        SECTIONS.append(section)


def sections_for(page: str) -> list[Section]:
    return sorted((s for s in SECTIONS if s.page == page), key=lambda s: s.order)


def csv_section(key: str) -> Section | None:
    return next((s for s in SECTIONS if s.key == key and s.csv is not None), None)


@dataclass(frozen=True)
class RenderedSection:
    key: str
    template: str
    context: dict
    scripts: tuple[str, ...]
    half: bool


def render_sections(page: str, *, merchant, first_month: date, last_month: date) -> list[RenderedSection]:
    return [
        RenderedSection(
            key=s.key,
            template=s.template,
            context=s.context(merchant=merchant, first_month=first_month, last_month=last_month),
            scripts=s.scripts,
            half=s.half,
        )
        for s in sections_for(page)
    ]
