"""Customer search on PostgreSQL (loyalty/customers/selectors.py with the trigram indexes of
migration 0009): parts of all four fields, the phone-or-card union, scope and pages, that the
indexes can serve the queries, and that the migration applies and reverses (also on SQLite)."""

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from loyalty.customers.selectors import PAGE_SIZE, customer_page
from loyalty.enrollment.services import enroll_customer
from loyalty.models import Card, Customer
from loyalty.program.services import program_for
from tests import factories
from tests.loyalty.conftest import T0

TRIGRAM_INDEXES = {"customer_name_trgm", "customer_email_trgm", "customer_phone_trgm", "card_number_trgm"}
BEFORE, AFTER = ("loyalty", "0008_card_merchant_created_idx"), ("loyalty", "0009_customer_search_trigram_indexes")


def found(merchant, query, **cursor) -> list[int]:
    return [card.pk for card in customer_page(merchant=merchant, query=query, **cursor).cards]


def with_number(card, number):
    Card.objects.filter(pk=card.pk).update(number=number)
    card.number = number
    return card


@pytest.fixture
def people(enroll):
    """Four customers, newest last; card numbers fixed so parts of them can be typed."""
    anna = with_number(
        enroll(phone="+79161234567", name="Анна Смирнова", email="Anna.Smirnova@Example.com", now=T0), "400011112222"
    )
    boris = with_number(
        enroll(phone="+79037654321", name="Борис Смирнов", email="boris@mail.test", now=T0 + timedelta(minutes=1)),
        "400033334444",
    )
    vera = with_number(
        enroll(phone="+79254000112", name="Вера Кузнецова", now=T0 + timedelta(minutes=2)), "400055556666"
    )
    gleb = with_number(
        # "3456" is in Gleb's card number and in Anna's phone.
        enroll(phone="+79857778899", name="Глеб Орлов", email="gleb@example.com", now=T0 + timedelta(minutes=3)),
        "400034567777",
    )
    return anna, boris, vera, gleb


def test_a_part_of_each_field_finds_the_customer(merchant, people):
    anna, boris, vera, gleb = people
    # Phone: digits from the middle and from the end, typed with punctuation.
    assert found(merchant, "123-45") == [anna.pk]
    assert found(merchant, "54321") == [boris.pk]
    # Card number: a middle part.
    assert found(merchant, "5555") == [vera.pk]
    assert found(merchant, "3333 44") == [boris.pk]
    # Name: a part of a word in any case, several words in any order; newest first.
    assert found(merchant, "МИРНОВ") == [boris.pk, anna.pk]
    assert found(merchant, "смирнова ан") == [anna.pk]
    assert found(merchant, "знец") == [vera.pk]
    # E-mail: a part, in any case.
    assert found(merchant, "a.smirnova@EXAMPLE") == [anna.pk]
    assert found(merchant, "@example.com") == [gleb.pk, anna.pk]
    assert found(merchant, "@nowhere.test") == []
    assert found(merchant, "Зинаида") == []
    assert found(merchant, "9999") == []


def test_a_word_of_one_or_two_letters_is_the_start_of_a_word(merchant, enroll):
    anna = enroll(name="Анна Смирнова", now=T0)
    anton = enroll(name="Иван Антонов", now=T0 + timedelta(minutes=1))
    enroll(name="Светлана Петрова", now=T0 + timedelta(minutes=2))  # "ан" inside a word only
    assert found(merchant, "ан") == [anton.pk, anna.pk]
    assert found(merchant, "А") == [anton.pk, anna.pk]
    assert found(merchant, "ан см") == [anna.pk]
    assert found(merchant, "ла") == []
    assert len(found(merchant, "лана")) == 1  # three letters and more: anywhere in a word


def test_text_without_three_letters_in_a_row_still_matches_anywhere(merchant, enroll):
    cafe = enroll(name="Кафе 100% вкуса", email="Q@cafe.test", now=T0)
    anna = enroll(name="Анна", email="anna.k@mail.test", now=T0 + timedelta(minutes=1))
    hyphen = enroll(name="Анна-Мария О'Нил", now=T0 + timedelta(minutes=2))
    assert found(merchant, "%") == [cafe.pk]
    assert found(merchant, "0%") == []  # two characters from a letter or digit: the start of a word
    assert found(merchant, "-") == [hyphen.pk]
    assert found(merchant, "'") == [hyphen.pk]
    assert found(merchant, "q@") == [cafe.pk]
    assert found(merchant, ".K@M") == [anna.pk]
    assert found(merchant, "_") == []


def test_phone_or_card_number_lists_each_card_once_newest_first(merchant, people):
    anna, boris, vera, gleb = people
    # "3456": Anna's phone (+7916123|4567 -> "3456" in "1234567") and Gleb's card number.
    assert found(merchant, "3456") == [gleb.pk, anna.pk]
    # "4000": every card number, and Vera's phone ("+79254000112") too: Vera is listed once.
    assert found(merchant, "4000") == [gleb.pk, vera.pk, boris.pk, anna.pk]
    # A whole phone that is also 11 digits long: the exact phone.
    assert found(merchant, "89161234567") == [anna.pk]
    # A whole card number: the exact card.
    assert found(merchant, "400055556666") == [vera.pk]


def test_other_merchants_never_leak(merchant, other_merchant, people):
    anna, boris, vera, gleb = people
    program_for(merchant=other_merchant)
    location = factories.LocationFactory(merchant=other_merchant)
    twin = enroll_customer(
        merchant=other_merchant,
        phone="+79161234567",
        name="Анна Смирнова",
        email="Anna.Smirnova@Example.com",
        location=location,
        now=T0 + timedelta(hours=1),
    )
    with_number(twin, "400055556666")
    for query in ("1234567", "4567", "5555", "400055556666", "смирнова", "anna.smirnova@", "4000", "3456"):
        listed = found(merchant, query)
        assert twin.pk not in listed, query
        assert listed, query
    assert found(other_merchant, "4000") == [twin.pk]
    assert found(other_merchant, "смирнов") == [twin.pk]


def _walk(merchant, query):
    """Every page older than the first, then back again; the cards seen each way."""
    page = customer_page(merchant=merchant, query=query)
    forward, pages = [c.pk for c in page.cards], [page]
    while page.older:
        page = customer_page(merchant=merchant, query=query, after=page.older)
        forward += [c.pk for c in page.cards]
        pages.append(page)
    backward = []
    while page.newer:
        page = customer_page(merchant=merchant, query=query, before=page.newer)
        backward = [c.pk for c in page.cards] + backward
    return forward, backward, pages


def test_union_pages_walk_both_ways(merchant, enroll):
    """More matches than a page, found half by phone and half by card number, in turns and
    some in the same instant: each listed once, newest first, forward and back."""
    expected = []
    for i in range(PAGE_SIZE * 2 + 4):
        now = T0 + timedelta(minutes=i // 3)  # three at a time join in the same instant
        if i % 2:
            card = enroll(phone=f"+7916{i:03d}8642", now=now)
        else:
            card = with_number(enroll(phone=f"+7903{i:03d}0000", now=now), f"5{i:03d}8642{i:04d}")
        expected.append(card)
    with_number(enroll(phone="+79160000000", now=T0 + timedelta(days=1)), "777700000000")  # matches nothing
    expected = [c.pk for c in sorted(expected, key=lambda c: (c.created_at, c.pk), reverse=True)]

    forward, backward, pages = _walk(merchant, "8642")
    assert forward == expected
    assert [len(p.cards) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 4]
    assert backward == expected[: PAGE_SIZE * 2]


def test_name_search_pages(merchant, enroll):
    for i in range(PAGE_SIZE + 3):
        enroll(name=f"Иван Петров {i}", now=T0 + timedelta(minutes=i))
    enroll(name="Пётр Иванов", now=T0 + timedelta(days=1))
    forward, backward, pages = _walk(merchant, "петров")
    assert len(forward) == len(set(forward)) == PAGE_SIZE + 3 and len(pages) == 2
    assert backward == forward[:PAGE_SIZE]


def test_a_page_among_the_newest_cards_comes_from_their_walk_and_is_the_same_page(merchant, enroll, monkeypatch):
    from loyalty.customers import selectors

    monkeypatch.setattr(selectors, "WALK", 60)
    expected = []
    for i in range(80):
        card = enroll(name=f"Анна Сорокина {i}" if i % 2 else f"Борис {i}", now=T0 + timedelta(minutes=i // 3))
        if i % 2:
            expected.append(card)
    expected = [c.pk for c in sorted(expected, key=lambda c: (c.created_at, c.pk), reverse=True)]
    with CaptureQueriesContext(connection) as queries:
        first = found(merchant, "сорокин")
    # The newest 60 cards hold 30 matches: the walk finds the page (26 with the "is there more" card),
    # and the page is read by those ids, not searched for again.
    walk, page = [q["sql"] for q in queries.captured_queries]
    assert "MATERIALIZED" in walk and "LIKE" in walk
    assert "LIKE" not in page
    assert first == expected[:PAGE_SIZE]
    # The next page has 15 matches among its next 60 cards: the search over all of them finds it.
    forward, backward, pages = _walk(merchant, "сорокин")
    assert forward == expected
    assert [len(p.cards) for p in pages] == [PAGE_SIZE, 40 - PAGE_SIZE]
    assert backward == expected[:PAGE_SIZE]


def test_the_union_is_one_statement_and_sql_says_union(merchant, people):
    with CaptureQueriesContext(connection) as queries:
        found(merchant, "3456")
    assert len(queries.captured_queries) == 1
    assert " UNION ALL " in queries.captured_queries[0]["sql"]


# --- the indexes ----------------------------------------------------------------------------


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("смирн", "customer_name_trgm"),
        ("SMIRNOVA@exa", "customer_email_trgm"),
        ("1234567", "customer_phone_trgm"),
        ("1234567", "card_number_trgm"),
        ("11112", "card_number_trgm"),
        ("ан", "customer_name_trgm"),  # the start of a word: "  а", " ан"
        ("zq@", "customer_email_trgm"),  # the end of a word: "zq "
        (".k@", "customer_email_trgm"),  # a word inside the text: "  k", " k "
        ("x@", ""),  # no trigram: no full scan of a trigram index
        # No trigram, but punctuation: only the names that have some (the partial index) can hold it.
        ("%", "customer_name_punctuation_idx"),
        ("-", "customer_name_punctuation_idx"),
    ],
)
@pytest.mark.django_db(transaction=True)  # VACUUM (GIN keeps its statistics in its metapage) runs outside one
def test_the_trigram_index_serves_the_search(merchant, query, index):
    """The query's expressions match the indexes' (e.g. UPPER(name) for icontains). On a test's
    rows a scan is cheaper, so scans are priced out here; the planner still has to be able to use
    the index, which it cannot if the query compares another expression."""
    customers = Customer.objects.bulk_create(
        Customer(
            merchant=merchant,
            phone=f"+7916{i:07d}",
            name=f"Клиент {i}",
            email=f"client{i}@example.com",
            referral_code=f"R{i}",
        )
        for i in range(2000)
    )
    Card.objects.bulk_create(
        Card(merchant=merchant, customer=c, number=str(200_000_000_000 + i * 7919), barcode=f"test-{i}")
        for i, c in enumerate(customers)
    )
    with CaptureQueriesContext(connection) as queries:
        found(merchant, query)
    statements = [q["sql"] for q in queries.captured_queries]
    if query.isdigit():
        (statement,) = statements
    else:
        # Text: first the walk of the newest cards (selectors.WALK); none of these customers matches,
        # so the page comes from the search over all of them, the statement the index must serve.
        walk, statement = statements
        assert "MATERIALIZED" in walk and "MATERIALIZED" not in statement
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE loyalty_customer")
        cursor.execute("VACUUM ANALYZE loyalty_card")
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_indexscan = off")
        try:
            plan = _plan(statement)
        finally:
            cursor.execute("RESET enable_seqscan")
            cursor.execute("RESET enable_indexscan")
    if index:
        assert index in plan, plan
    else:
        assert "_trgm" not in plan, plan


@pytest.mark.django_db(transaction=True)
def test_migration_applies_and_reverses_on_postgresql():
    def trigram_indexes():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indisvalid AND c.relname = ANY(%s)",
                [list(TRIGRAM_INDEXES)],
            )
            return {row[0] for row in cursor.fetchall()}

    assert trigram_indexes() == TRIGRAM_INDEXES
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    assert trigram_indexes() == set()
    executor = MigrationExecutor(connection)
    executor.migrate([AFTER])
    assert trigram_indexes() == TRIGRAM_INDEXES
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


SQLITE_SCRIPT = textwrap.dedent(
    """
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("migrate", "loyalty", "0008", verbosity=0)
    call_command("migrate", verbosity=0)

    from loyalty.customers.selectors import customer_page
    from loyalty.models import Card, Customer
    from loyalty.enrollment.services import enroll_customer
    from loyalty.program.services import program_for
    from merchants.models import Location, Merchant

    merchant = Merchant.objects.create(name="M", slug="m", country="RU", currency="RUB", time_zone="Europe/Moscow")
    location = Location.objects.create(merchant=merchant, name="L")
    program_for(merchant=merchant)
    anna = enroll_customer(merchant=merchant, phone="+79161234567", name="Анна Смирнова", location=location)
    boris = enroll_customer(merchant=merchant, phone="+79037654321", name="Борис", email="b@x.test", location=location)
    Card.objects.filter(pk=boris.pk).update(number="400034567777")

    def found(query):
        return [c.pk for c in customer_page(merchant=merchant, query=query).cards]

    assert found("3456") == [boris.pk, anna.pk], found("3456")
    assert found("Смирнова") == [anna.pk], found("Смирнова")  # SQLite folds the case of ASCII only
    assert found("B@X") == [boris.pk], found("B@X")
    print("sqlite ok")
    """
)


def test_migrations_and_search_on_sqlite(tmp_path):
    """The zero-config default: every migration applies and 0009 reverses on SQLite, where the
    search is a plain LIKE (run in a child process: this test session's database is PostgreSQL)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sqlite ok" in result.stdout
