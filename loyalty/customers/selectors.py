"""Reads for the customer list. Every query starts from ``for_merchant``.

The list is keyset-paginated, newest first, on (created_at, id) of the card (a
card is created with its customer, in the same instant), so a page costs the same
at the 1st and the 4,000th page and nothing counts the merchant's customers: the
page knows only whether there is a newer and an older page. The index
``card_merchant_created_idx`` (merchant, created_at, id) serves both directions.

What the search box understands:
- a phone number typed any way ("8 (916) 123-45-67", "+7 916 1234567"), read in
  the merchant's country and matched exactly (unique index);
- a card number (spaces and dashes ignored), matched exactly (unique index);
- at least 4 digits: a part of a phone or card number ("4567");
- text with "@": a part of the e-mail;
- other text: every word is in the name ("смирнова анна" finds "Анна Смирнова");
  a word of one or two letters is the start of a word of the name ("ан" finds
  "Анна Смирнова" and "Иван Антонов", not "Иван Петров").

On PostgreSQL the parts are found through trigram indexes (pg_trgm, migration
0009): a bitmap of the matching customers (or cards), sorted, when few match; a walk
of ``card_merchant_created_idx`` that stops at the page's end when many do. The
planner picks. A trigram index needs three letters or digits in a row, or fewer
where a word starts or ends inside the text ("ан" at the start of a word is the
trigrams "  а", " ан", which is why short words match word starts; "zq@" is "zq ");
text without any (e.g. "x@" or "%") is compared with a regular expression, or a
plain LIKE where it has no letter, that no trigram index serves (a full scan of a
GIN index is slower than a scan of the rows); in a name, such a text with ASCII
punctuation reads only the names that have some (partial index, migration 0019).
Part of a number may
be in the phone or in the card number: the two are asked separately, each through
its own index and already cut to a page, and the page is the cards of that union
(an OR across the join would scan). SQLite keeps plain LIKE.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from loyalty.card_numbers import CARD_NUMBER_LENGTH
from loyalty.models import Card, Customer
from loyalty.phones import normalize_phone

PAGE_SIZE = 25
MAX_QUERY_LENGTH = 100
MIN_PARTIAL_DIGITS = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_PHONE_PUNCTUATION = re.compile(r"[\s()\-.+]")
# Runs of letters and digits: what pg_trgm takes trigrams from in a LIKE pattern (see _has_trigram).
_WORD_RUN = re.compile(r"[^\W_]+")
SHORT_WORD = 2
# ASCII's punctuation as a PostgreSQL regular expression: the condition of the partial index
# customer_name_punctuation_idx (migration 0019), written exactly as there.
NAME_PUNCTUATION = "[!-/:-@[-`{-~]"
_ASCII_PUNCTUATION = frozenset(string.punctuation)


@dataclass(frozen=True)
class Search:
    """How a query was read: ``kind`` is "all", "phone", "number", "digits",
    "email" or "name"; ``value`` is what is matched (the E.164 phone, the digits…)."""

    query: str
    kind: str
    value: str
    condition: Q
    # The condition as alternatives that each have an index of their own (OR of them == condition).
    alternatives: tuple[Q, ...] = ()


def parse_search(query: str, *, country: str) -> Search:
    query = " ".join((query or "").split())[:MAX_QUERY_LENGTH]
    if not query:
        return Search("", "all", "", Q())
    bare = _PHONE_PUNCTUATION.sub("", query)
    if bare.isdigit():
        e164 = normalize_phone(query, region=country)
        if len(bare) == CARD_NUMBER_LENGTH and not e164:
            return Search(query, "number", bare, Q(number=bare))
        if e164:
            alternatives: tuple[Q, ...] = (Q(customer__phone=e164),)
            if len(bare) == CARD_NUMBER_LENGTH:
                alternatives += (Q(number=bare),)
            return _either(query, "phone", e164, alternatives)
        if len(bare) >= MIN_PARTIAL_DIGITS:
            return _either(query, "digits", bare, (Q(customer__phone__contains=bare), Q(number__contains=bare)))
        # Too few digits to mean anything: let it match nothing rather than everyone.
        return Search(query, "digits", bare, Q(pk__in=[]))
    if "@" in query:
        return Search(query, "email", query, _contains("customer__email", query))
    condition = Q()
    for word in query.split():
        if len(word) <= SHORT_WORD and word[0].isalnum():
            condition &= Q(customer__name__istartswith=word) | Q(customer__name__icontains=" " + word)
        else:
            condition &= _contains("customer__name", word)
    return Search(query, "name", query, condition)


def _has_trigram(text: str) -> bool:
    """Whether pg_trgm takes a trigram from the pattern ``%text%``: from a run of
    letters and digits, padded with two spaces where something other than a
    wildcard comes before it and one where something comes after it ("zq@"
    gives "zq ", ".k@" gives "  k" and " k "), three characters or more."""
    for run in _WORD_RUN.finditer(text):
        if len(run.group()) + (2 if run.start() > 0 else 0) + (1 if run.end() < len(text) else 0) >= 3:
            return True
    return False


def _contains(field: str, text: str) -> Q:
    """``field`` contains ``text``, any case: through the trigram index if ``text`` has a trigram."""
    if _has_trigram(text):
        return Q(**{f"{field}__icontains": text})
    if not any(char.isalpha() for char in text):
        # No letter, so no case: a plain LIKE on the column, which costs a fraction of a regular
        # expression per row.
        condition = Q(**{f"{field}__contains": text})
    else:
        condition = Q(**{f"{field}__iregex": re.escape(text)})
    if (
        field == "customer__name"
        and not _ASCII_PUNCTUATION.isdisjoint(text)
        and connections[Customer.objects.db].vendor == "postgresql"
    ):
        # Only a name with punctuation can hold this text: said outright, the partial index of those
        # names serves the search instead of a scan of every name ("%" among a million: 100 -> a few ms).
        condition &= Q(customer__name__regex=NAME_PUNCTUATION)
    return condition


def _either(query: str, kind: str, value: str, alternatives: tuple[Q, ...]) -> Search:
    condition = Q()
    for alternative in alternatives:
        condition |= alternative
    return Search(query, kind, value, condition, alternatives)


def encode_cursor(card: Card) -> str:
    delta = card.created_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}-{card.pk}"


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """(created_at, id) or None for anything that isn't a cursor this module wrote."""
    match = _CURSOR.match(cursor or "")
    if not match:
        return None
    micros, pk = int(match.group(1)), int(match.group(2))
    try:
        return _EPOCH + timedelta(microseconds=micros), pk
    except OverflowError:
        return None


@dataclass(frozen=True)
class CustomerPage:
    cards: list[Card]
    search: Search
    newer: str | None  # cursor for the previous (newer) page
    older: str | None  # cursor for the next (older) page
    bad_cursor: bool = False

    @property
    def is_first(self) -> bool:
        return self.newer is None


def _matching(merchant, condition: Q) -> QuerySet[Card]:
    cards = Card.objects.for_merchant(merchant).filter(condition)
    if _mentions_customer(condition):
        # Said twice on purpose: the customer's own merchant_id lets PostgreSQL use
        # (merchant, phone) and the merchant index on the customer table.
        cards = cards.filter(customer__merchant_id=merchant.pk)
    return cards


def _mentions_customer(condition: Q) -> bool:
    return any(
        _mentions_customer(child)
        if isinstance(child, Q)
        else isinstance(child, tuple) and str(child[0]).startswith("customer__")
        for child in condition.children
    )


def _fetch(merchant, search: Search, where: Q, order: tuple[str, ...], limit: int) -> list[Card]:
    """The first ``limit`` cards in ``order`` that the search finds and ``where`` (a keyset bound) keeps."""
    if len(search.alternatives) > 1 and connections[Card.objects.db].vendor == "postgresql":
        # Each alternative through its own index, already cut to ``limit`` (only the keys: no row is
        # built, no customer joined where the alternative doesn't need one). UNION ALL: "IN" lists a card
        # that both found once.
        keys = [
            _matching(merchant, alternative).filter(where).order_by(*order).values("pk")[:limit]
            for alternative in search.alternatives
        ]
        cards: QuerySet[Card] = Card.objects.for_merchant(merchant).filter(pk__in=keys[0].union(*keys[1:], all=True))
    else:
        if search.kind in _WALKED and connections[Card.objects.db].vendor == "postgresql":
            ids = _walk_newest(merchant, search.condition, where, order, limit)
            if ids is not None:
                found = Card.objects.for_merchant(merchant).filter(pk__in=ids)
                return list(found.select_related("customer", "tier").order_by(*order)[:limit])
        cards = _matching(merchant, search.condition)
    return list(cards.filter(where).select_related("customer", "tier").order_by(*order)[:limit])


# A text found in many customers' names or e-mails: PostgreSQL may take the trigram index's bitmap of
# all of them (tens of thousands at a million customers) and sort it, when the newest few thousand
# cards already hold a page. So the page is first looked for among the WALK cards next in the page's
# order (a walk of card_merchant_created_idx, each card's customer checked by its key): if they hold a
# whole page, it is exactly the page. Otherwise (a rare text) the usual query finds it.
WALK = 3000
_WALKED = ("name", "email")


def _on_customer(condition: Q) -> Q:
    """``condition`` (on ``customer__…``) as a condition on the customer itself."""
    children: list = []
    for child in condition.children:
        if isinstance(child, Q):
            children.append(_on_customer(child))
        else:
            name, value = child  # type: ignore[misc]  # a Q's leaves are (lookup, value) pairs
            children.append((name.removeprefix("customer__"), value))
    return Q(*children, _connector=condition.connector, _negated=condition.negated)


def _walk_newest(merchant, condition: Q, where: Q, order: tuple[str, ...], limit: int) -> list[int] | None:
    """The ids of the first ``limit`` cards in ``order`` among the next WALK
    ones, or None if fewer match there."""
    cards = Card.objects.for_merchant(merchant).filter(where).order_by(*order)
    recent = cards.values("id", "customer_id", "created_at")
    recent_sql, recent_params = recent[:WALK].query.sql_with_params()
    matches = Customer.objects.filter(_on_customer(condition), merchant_id=merchant.pk, pk=RawSQL("r.customer_id", []))
    match_sql, match_params = matches.values("pk").query.sql_with_params()
    direction = "DESC" if order[0].startswith("-") else "ASC"
    sql = (
        f"WITH r AS MATERIALIZED ({recent_sql}) "
        f"SELECT r.id FROM r JOIN LATERAL ({match_sql} OFFSET 0) m ON true "
        f"ORDER BY r.created_at {direction}, r.id {direction} LIMIT %s"
    )
    with connections[Card.objects.db].cursor() as cursor:
        cursor.execute(sql, [*recent_params, *match_params, limit])
        ids = [row[0] for row in cursor.fetchall()]
    return ids if len(ids) == limit else None


def _older_than(created_at: datetime, pk: int) -> Q:
    # (created_at, id) < (c, i), written so that "created_at <= c" bounds the index scan.
    return Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | Q(pk__lt=pk))


def _newer_than(created_at: datetime, pk: int) -> Q:
    return Q(created_at__gte=created_at) & (Q(created_at__gt=created_at) | Q(pk__gt=pk))


def customer_page(
    *, merchant, query: str = "", after: str = "", before: str = "", page_size: int = PAGE_SIZE
) -> CustomerPage:
    """One page of the merchant's customers (as their cards), newest first.
    ``after``: the page older than that cursor; ``before``: the page newer than it.
    A cursor that doesn't parse gives the first page with ``bad_cursor``."""
    search = parse_search(query, country=merchant.country)
    newest_first = ("-created_at", "-pk")
    if before:
        key = decode_cursor(before)
        if key is not None:
            rows = _fetch(merchant, search, _newer_than(*key), ("created_at", "pk"), page_size + 1)
            if len(rows) > page_size:
                cards = rows[:page_size][::-1]
                return CustomerPage(cards, search, newer=encode_cursor(cards[0]), older=encode_cursor(cards[-1]))
            # Fewer than a page is newer: that is the first page, shown whole.
            return _first_page(merchant, search, page_size)
        return _first_page(merchant, search, page_size, bad_cursor=True)
    if after:
        key = decode_cursor(after)
        if key is not None:
            rows = _fetch(merchant, search, _older_than(*key), newest_first, page_size + 1)
            cards = rows[:page_size]
            return CustomerPage(
                cards,
                search,
                # The page was reached from a newer one, so there is one (unless the cursor was made up: then
                # the newer page is the first page, which the "before" branch handles).
                newer=encode_cursor(cards[0]) if cards else after,
                older=encode_cursor(cards[-1]) if len(rows) > page_size else None,
            )
        return _first_page(merchant, search, page_size, bad_cursor=True)
    return _first_page(merchant, search, page_size)


def _first_page(merchant, search: Search, page_size: int, *, bad_cursor: bool = False) -> CustomerPage:
    rows = _fetch(merchant, search, Q(), ("-created_at", "-pk"), page_size + 1)
    cards = rows[:page_size]
    older = encode_cursor(cards[-1]) if len(rows) > page_size else None
    return CustomerPage(cards, search, newer=None, older=older, bad_cursor=bad_cursor)
