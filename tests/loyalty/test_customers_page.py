"""The dashboard's customer list (/dashboard/customers/): who may see it, the
search box, the merchant's scope, keyset pages and what a row shows."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loyalty.customers.selectors import PAGE_SIZE, customer_page, parse_search
from loyalty.enrollment.services import enroll_customer
from loyalty.models import Card
from loyalty.program.services import program_for
from tests import factories
from tests.loyalty.conftest import T0

URL = "/dashboard/customers/"


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def rows(response) -> list[int]:
    """Card ids listed on the page, in order."""
    return [row.card_id for row in response.context["rows"]]


def test_url():
    assert reverse("customer_list") == URL


@pytest.mark.parametrize(("person", "status"), [("owner", 200), ("marketer", 200), ("cashier", 403)])
def test_who_may_see_customers(client, request, person, status, program):
    client.force_login(request.getfixturevalue(person))
    response = client.get(URL)
    assert response.status_code == status
    if status == 403:
        assert "Клиенты" not in [str(item.label) for item in response.context["nav_items"]]


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_nav_entry_for_owner_and_marketer_and_active_on_the_card_page(client, marketer, enroll):
    card = enroll(name="Анна")
    client.force_login(marketer)
    nav = client.get(URL).context["nav_items"]
    assert [str(item.label) for item in nav if item.active] == ["Клиенты"]
    # The card page belongs to Customers, not to Home.
    nav = client.get(reverse("card_detail", args=[card.pk])).context["nav_items"]
    assert [str(item.label) for item in nav if item.active] == ["Клиенты"]


# --- search ----------------------------------------------------------------------------------


def test_phone_typed_the_way_people_say_it(owner_client, enroll):
    anna = enroll(phone="+79161234567", name="Анна Смирнова")
    enroll(phone="+79161234568", name="Анна Петрова")
    for typed in ("8 (916) 123-45-67", "+7 916 123 45 67", "89161234567", "9161234567"):
        response = owner_client.get(URL, {"q": typed})
        assert rows(response) == [anna.pk], typed
    html = response.content.decode()
    assert "Телефон +7 916 123-45-67" in html
    assert f'href="{reverse("card_detail", args=[anna.pk])}"' in html


def test_card_number_with_or_without_spaces(owner_client, enroll):
    card = enroll(name="Борис")
    enroll(name="Вера")
    spaced = " ".join(card.number[i : i + 4] for i in range(0, 12, 4))
    for typed in (card.number, spaced, f"{card.number[:4]}-{card.number[4:8]}-{card.number[8:]}"):
        assert rows(owner_client.get(URL, {"q": typed})) == [card.pk], typed


def test_name_any_case_any_word_order(owner_client, enroll):
    anna = enroll(name="Анна Смирнова")
    enroll(name="Анна Петрова")
    enroll(name="Борис Смирнов")
    assert rows(owner_client.get(URL, {"q": "смирнова"})) == [anna.pk]
    assert rows(owner_client.get(URL, {"q": "СМИРНОВА анна"})) == [anna.pk]
    assert len(rows(owner_client.get(URL, {"q": "анна"}))) == 2


def test_email_and_part_of_a_number(owner_client, enroll):
    anna = enroll(phone="+79161234567", name="Анна", email="anna.s@example.com")
    boris = enroll(phone="+79037654321", name="Борис", email="boris@example.com")
    assert rows(owner_client.get(URL, {"q": "ANNA.S@"})) == [anna.pk]
    assert rows(owner_client.get(URL, {"q": "45 67"})) == [anna.pk]  # the last digits of a phone
    assert rows(owner_client.get(URL, {"q": boris.number[-5:]})) == [boris.pk]  # part of a card number


def test_too_few_digits_match_nobody_and_say_so(owner_client, enroll):
    enroll(phone="+79161234567", name="Анна")
    response = owner_client.get(URL, {"q": "45"})
    assert rows(response) == []
    assert "никого не нашлось" in response.content.decode()


def test_nothing_found_is_a_clear_page(owner_client, enroll):
    enroll(name="Анна")
    response = owner_client.get(URL, {"q": "Зинаида"})
    assert response.status_code == 200 and rows(response) == []
    html = response.content.decode()
    assert "По запросу «Зинаида» никого не нашлось." in html
    assert "Показать всех" in html


def test_overlong_or_odd_queries_are_harmless(owner_client, enroll):
    enroll(name="Анна")
    for typed in ("x" * 5000, "%", "_", "'; DROP TABLE loyalty_card; --", "\t \n"):
        assert owner_client.get(URL, {"q": typed}).status_code == 200
    assert Card.objects.count() == 1


def test_how_a_query_is_read():
    assert parse_search("8 (916) 123-45-67", country="RU").kind == "phone"
    assert parse_search("8 (916) 123-45-67", country="RU").value == "+79161234567"
    assert parse_search("4123 4567 8903", country="RU").kind == "number"
    assert parse_search("4567", country="RU").kind == "digits"
    assert parse_search("a@b", country="RU").kind == "email"
    assert parse_search("  Анна   Смирнова ", country="RU").query == "Анна Смирнова"
    assert parse_search("", country="RU").kind == "all"


# --- scope -----------------------------------------------------------------------------------


def test_other_merchants_customers_are_never_listed(owner_client, merchant, enroll, other_merchant):
    mine = enroll(phone="+79161234567", name="Анна Смирнова", email="anna@example.com")
    program_for(merchant=other_merchant)
    theirs = enroll_customer(
        merchant=other_merchant,
        phone="+79161234567",
        name="Анна Смирнова",
        email="anna@example.com",
        location=factories.LocationFactory(merchant=other_merchant),
    )
    for query in ("", "8 916 123-45-67", "Анна", "anna@", "4567", mine.number, theirs.number):
        listed = rows(owner_client.get(URL, {"q": query}))
        assert theirs.pk not in listed, query
    assert rows(owner_client.get(URL)) == [mine.pk]
    assert rows(owner_client.get(URL, {"q": theirs.number})) == []
    # Not through a cursor either.
    assert theirs.pk not in [c.pk for c in customer_page(merchant=merchant, after=f"9{'9' * 18}-{theirs.pk + 1}").cards]


# --- pages -----------------------------------------------------------------------------------


def _walk(client, params, link):
    """Follow ``link`` ("older_url"/"newer_url") from the page ``params`` to the end."""
    seen, pages = [], 0
    response = client.get(URL, params)
    while True:
        pages += 1
        seen.extend(rows(response))
        url = response.context[link]
        if not url:
            return seen, pages, response
        response = client.get(URL, {k: v[0] for k, v in parse_qs(urlparse(url).query).items()})
        assert pages < 20, "the pages never end"


def test_keyset_pages_walk_every_customer_once_newest_first_and_back(owner_client, enroll):
    cards = [enroll(name=f"Клиент {i}", now=T0 + timedelta(minutes=i)) for i in range(PAGE_SIZE * 2 + 3)]
    # Three customers who joined in the same microsecond, across the end of the first page
    # (23 joined later): the id breaks the tie, so none is skipped or shown twice.
    same = T0 + timedelta(minutes=29, seconds=30)
    cards += [enroll(name=f"Одновременно {i}", now=same) for i in range(3)]
    expected = [c.pk for c in sorted(cards, key=lambda c: (c.created_at, c.pk), reverse=True)]

    assert [c.pk for c in cards[-3:]] == sorted(expected[PAGE_SIZE - 2 : PAGE_SIZE + 1])
    forward, pages, last = _walk(owner_client, {}, "older_url")
    assert forward == expected
    assert pages == 3
    html = last.content.decode()
    assert "Далее" in html and 'rel="next"' not in html and 'rel="prev"' in html

    # And back from the last page to the first, page by page.
    back_params = {k: v[0] for k, v in parse_qs(urlparse(last.context["newer_url"]).query).items()}
    backward, back_pages, first = _walk(owner_client, back_params, "newer_url")
    assert back_pages == 2
    assert first.context["is_first"] and rows(first) == expected[:PAGE_SIZE]
    assert backward == expected[PAGE_SIZE : PAGE_SIZE * 2] + expected[:PAGE_SIZE]


def test_a_search_has_pages_too(owner_client, enroll):
    for i in range(PAGE_SIZE + 5):
        enroll(name=f"Смирнов {i}", now=T0 + timedelta(minutes=i))
    enroll(name="Петров", now=T0 + timedelta(hours=5))
    seen, pages, _last = _walk(owner_client, {"q": "смирнов"}, "older_url")
    assert pages == 2 and len(seen) == PAGE_SIZE + 5 and len(set(seen)) == len(seen)


def test_a_page_costs_the_same_and_counts_nothing(owner_client, enroll, django_assert_max_num_queries):
    for i in range(PAGE_SIZE + 2):
        enroll(now=T0 + timedelta(minutes=i))
    first = owner_client.get(URL)
    older = first.context["older_url"]
    with CaptureQueriesContext(connection) as queries:
        owner_client.get(URL + older)
    sql = [q["sql"] for q in queries.captured_queries]
    assert not [s for s in sql if "COUNT(" in s.upper()], "the list must not count the merchant's customers"
    # Session, user, merchant, the program's rules, one for the page: independent of the number of customers.
    with django_assert_max_num_queries(len(sql)):
        owner_client.get(URL)


def test_a_made_up_or_stale_cursor_gives_the_first_page(owner_client, enroll):
    cards = [enroll(now=T0 + timedelta(minutes=i)) for i in range(3)]
    for params in ({"after": "garbage"}, {"before": "1-2-3"}, {"after": "9" * 30 + "-1"}):
        response = owner_client.get(URL, params)
        assert response.status_code == 200
        assert rows(response) == [c.pk for c in reversed(cards)], params
    # A "previous" link whose page no longer has a full page above it shows the first page whole.
    response = owner_client.get(URL, {"before": f"{10**15}-1"})
    assert response.status_code == 200 and response.context["is_first"]


# --- what a row shows ------------------------------------------------------------------------


def test_row_shows_balance_tier_and_times_in_the_merchants_zone(owner_client, merchant, enroll, buy, rules):
    rules(welcome_bonus=0, returning_after_days=None)
    card = enroll(phone="+79161234567", name="Анна Смирнова", email="anna@example.com")
    buy(card, "2000.00", now=datetime(2026, 3, 10, 21, 30, tzinfo=UTC))  # 5 % cashback = 100 points
    html = owner_client.get(URL).content.decode()
    row = owner_client.get(URL).context["rows"][0]
    assert row.balance == "100 баллов"
    assert "+7 916 123-45-67" in html and "anna@example.com" in html
    assert card.number[:4] + " " + card.number[4:8] in html
    # 21:30 UTC is 00:30 the next day in Moscow, where the merchant is.
    assert "11.03.2026 00:30" in html
    assert "10.03.2026" in html  # joined (T0, noon in Moscow)
    assert row.tier == (card.tier.name if card.tier_id else "")


def test_stamp_programs_show_stamps(owner_client, enroll, rules):
    rules(mechanic="stamps", stamps_per_reward=8)
    enroll(name="Анна")
    row = owner_client.get(URL).context["rows"][0]
    assert row.balance == "0 из 8 штампов"


def test_empty_list_points_to_the_qr_poster(owner_client, program):
    response = owner_client.get(URL)
    html = response.content.decode()
    assert "Клиентов пока нет" in html
    assert f'href="{reverse("enroll_qr")}"' in html
