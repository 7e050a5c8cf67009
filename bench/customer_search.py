#!/usr/bin/env python
"""Customer search benchmark: the dashboard's customers page at a million customers.

    .venv/bin/python bench/customer_search.py [--customers 1000000] [--others 3x20000] [--reuse] [--keep]

What it does, on PostgreSQL at 127.0.0.1:

1. Drops and recreates the database ``loyalty_bench_search`` (``--db``) and migrates it
   (``--reuse``: keeps the database if it already holds the data set and only migrates it,
   so a new index is built on the existing rows; the time ``migrate`` takes is printed).
2. Loads, with COPY, one merchant with ``--customers`` customers and their cards, and
   ``--others`` (e.g. ``3x20000``) customers of other merchants who share names, e-mail
   domains and some phone numbers with the big one: Russian names from a fixed list,
   e-mails for 60 % of them, random mobile numbers, random 12-digit card numbers,
   join dates spread over three years. Then VACUUM ANALYZE.
3. Runs each kind of search through the real selector (``loyalty.customers.selectors.
   customer_page``, Django set up against that database, DEBUG=0) for the big merchant
   and for one small merchant: first "cold" (a new database connection, the first time
   that query runs in it: PostgreSQL's own caches empty, the operating system's page
   cache not dropped: the machine is shared) and then warm (the median of ``--repeat``).
   For each it prints the rows found, wall time, the application's and the PostgreSQL
   backend's CPU time (from /proc; not counting parallel workers, which the plans
   before the indexes used) and the plan nodes PostgreSQL chose (EXPLAIN).

Target (issue 11): every search under 100 ms at 1,000,000 customers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
SERVER = "postgres://postgres@127.0.0.1:5432"
BIG_SLUG = "bench-search-big"
TARGET_MS = 100.0

FEMALE = (
    "Анна Мария Елена Ольга Наталья Екатерина Татьяна Ирина Светлана Юлия Анастасия Дарья Ксения Полина "
    "Алина Виктория Марина Галина Людмила Вера Надежда Любовь Софья Алёна Евгения Валерия Кристина Яна"
).split()
MALE = (
    "Александр Сергей Дмитрий Андрей Алексей Максим Иван Михаил Евгений Николай Владимир Павел Артём Денис "
    "Роман Игорь Олег Никита Кирилл Егор Антон Виктор Юрий Василий Константин Илья Григорий Тимур"
).split()
SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов Волков Алексеев "
    "Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев Макаров Никитин Захаров Зайцев "
    "Соловьёв Борисов Яковлев Григорьев Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв "
    "Гусев Киселёв Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков "
    "Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков"
).split()
DOMAINS = ["mail.ru", "gmail.com", "yandex.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru"]
OPERATORS = ["916", "903", "905", "909", "915", "925", "926", "929", "977", "985", "999", "910", "952", "960"]
_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch  y  e yu ya".split(" "),
        strict=True,
    )
)


def translit(text: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in text.lower())


# --- the data set ------------------------------------------------------------------------------


def _person(rng: random.Random) -> tuple[str, str]:
    surname = rng.choice(SURNAMES)
    if rng.random() < 0.55:
        first, surname = rng.choice(FEMALE), surname + "а"
    else:
        first = rng.choice(MALE)
    name = f"{first} {surname}"
    email = ""
    if rng.random() < 0.6:
        local = rng.choice([f"{translit(first)}.{translit(surname)}", f"{translit(surname)}{rng.randrange(1, 9999)}"])
        email = f"{local}@{rng.choice(DOMAINS)}"
    return name, email


def _copy_text(rows) -> io.StringIO:
    def cell(value):
        if value is None:
            return r"\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")

    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(cell(v) for v in row))
        buffer.write("\n")
    buffer.seek(0)
    return buffer


def _columns(model, values: dict) -> tuple[list[str], list]:
    """All concrete columns of ``model``: the given values, else the field's default (the bench
    writes with COPY, and Django keeps defaults in Python, not in the database)."""
    names, defaults = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in values:
            continue
        names.append(field.column)
        if field.column in values:
            defaults.append(values[field.column])
        elif field.has_default():
            defaults.append(field.get_default())
        else:
            defaults.append(None)
    return names, defaults


def load(customers: int, others: list[int], seed: int) -> None:
    from django.db import connection

    from loyalty.models import Card, Customer
    from merchants.models import Merchant

    rng = random.Random(seed)
    merchants = [
        Merchant.objects.create(
            name="Bench Search", slug=BIG_SLUG, country="RU", currency="RUB", time_zone="Europe/Moscow"
        )
    ]
    merchants += [
        Merchant.objects.create(
            name=f"Other {i}", slug=f"bench-search-other-{i}", country="RU", currency="RUB", time_zone="Europe/Moscow"
        )
        for i in range(len(others))
    ]
    sizes = [customers, *others]
    end = datetime(2026, 11, 1, tzinfo=UTC)
    span = timedelta(days=3 * 365).total_seconds()
    next_id = 1
    shared_phones: list[str] = []
    customer_rows, card_rows = [], []
    cust_cols, cust_defaults = _columns(
        Customer,
        {"id": 0, "merchant_id": 0, "phone": "", "name": "", "email": "", "referral_code": "", "created_at": None},
    )
    card_cols, card_defaults = _columns(
        Card,
        {
            "id": 0,
            "merchant_id": 0,
            "customer_id": 0,
            "number": "",
            "barcode": "",
            "created_at": None,
            "updated_at": None,
        },
    )
    ci = {c: i for i, c in enumerate(cust_cols)}
    ki = {c: i for i, c in enumerate(card_cols)}
    started = time.perf_counter()
    for merchant, size in zip(merchants, sizes, strict=True):
        phone_ids = rng.sample(range(len(OPERATORS) * 10**7), size)
        numbers = rng.sample(range(10**11, 10**12), size)
        moments = sorted(rng.random() * span for _ in range(size))
        phones = [f"+7{OPERATORS[op]}{rest:07d}" for op, rest in (divmod(p, 10**7) for p in phone_ids)]
        if merchant.slug == BIG_SLUG:
            shared_phones = phones[::50]
        else:
            # Some people are customers of two merchants: the same phone number.
            taken = set(phones)
            for k in range(0, size, 10):
                if shared_phones and shared_phones[-1] not in taken:
                    phones[k] = shared_phones.pop()
        for k in range(size):
            name, email = _person(rng)
            phone = phones[k]
            created = end - timedelta(seconds=span) + timedelta(seconds=moments[k])
            row = list(cust_defaults)
            row[ci["id"]], row[ci["merchant_id"]], row[ci["phone"]] = next_id, merchant.pk, phone
            row[ci["name"]], row[ci["email"]], row[ci["created_at"]] = name, email, created.isoformat()
            row[ci["referral_code"]] = f"R{next_id:x}".upper()
            customer_rows.append(row)
            card = list(card_defaults)
            card[ki["id"]], card[ki["merchant_id"]], card[ki["customer_id"]] = next_id, merchant.pk, next_id
            card[ki["number"]], card[ki["barcode"]] = str(numbers[k]), f"bench{next_id:x}"
            card[ki["created_at"]] = card[ki["updated_at"]] = created.isoformat()
            card_rows.append(card)
            next_id += 1
    generated = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table, cols, rows in (
            (Customer._meta.db_table, cust_cols, customer_rows),
            (Card._meta.db_table, card_cols, card_rows),
        ):
            with raw.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                buffer = _copy_text(rows)
                while chunk := buffer.read(1 << 20):
                    copy.write(chunk)
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [next_id])
    copied = time.perf_counter()
    connection.close()
    print(
        f"loaded {sum(sizes):,} customers and cards ({customers:,} of the big merchant, others {others}): "
        f"generated in {generated - started:.1f} s, COPY {copied - generated:.1f} s"
    )


def vacuum_analyze() -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("loyalty_customer", "loyalty_card"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(f"VACUUM ANALYZE {time.perf_counter() - started:.1f} s")


# --- measuring ---------------------------------------------------------------------------------


def backend_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plan_nodes(sql: str, params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    nodes: list[str] = []

    def walk(node):
        kind = node["Node Type"]
        if "Index Name" in node:
            kind += f"({node['Index Name']})"
        nodes.append(kind)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return " > ".join(nodes)


def run_search(merchant, query: str, after: str = ""):
    from django.db import connection

    from loyalty.customers.selectors import customer_page

    statements: list[tuple[str, object]] = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        app0, wall0 = time.process_time(), time.perf_counter()
        page = customer_page(merchant=merchant, query=query, after=after)
        wall, app = time.perf_counter() - wall0, time.process_time() - app0
    return page, wall, app, statements


def measure(merchant, label: str, query: str, repeat: int, after_page: int = 0) -> dict:
    from django.db import connection

    from loyalty.customers.selectors import customer_page

    after = ""
    for _ in range(after_page):
        after = customer_page(merchant=merchant, query=query, after=after).older or ""
    connection.close()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    def one():
        pg0 = backend_cpu_seconds(pid)
        page, wall, app, statements = run_search(merchant, query, after)
        return page, wall, app, backend_cpu_seconds(pid) - pg0, statements

    page, cold, cold_app, cold_pg, statements = one()
    # The backend's CPU clock ticks in 10 ms: the warm figures are totals over the repeats, divided.
    pg0 = backend_cpu_seconds(pid)
    warm = [one() for _ in range(repeat)]
    pg_per_search = (backend_cpu_seconds(pid) - pg0) / repeat
    plans = [plan_nodes(sql, params) for sql, params in statements if sql.lstrip(" (").upper().startswith("SELECT")]
    result = {
        "label": label,
        "query": query + (f" (page {after_page + 1})" if after_page else ""),
        "kind": page.search.kind,
        "rows": len(page.cards),
        "more": page.older is not None,
        "cold_ms": cold * 1000,
        "warm_ms": statistics.median(w[1] for w in warm) * 1000,
        "app_cpu_ms": statistics.mean(w[2] for w in warm) * 1000,
        "pg_cpu_ms": pg_per_search * 1000,
        "statements": len(statements),
        "plan": " | ".join(plans),
    }
    return result


def searches(merchant, rng: random.Random) -> list[tuple[str, str, int]]:
    """(label, query, page) for the kinds of search the page understands, drawn from the data."""
    from loyalty.models import Card

    sample = list(
        Card.objects.for_merchant(merchant).select_related("customer").filter(customer__email__gt="").order_by("?")[:1]
        if Card.objects.for_merchant(merchant).count() < 50_000
        else Card.objects.for_merchant(merchant)
        .select_related("customer")
        .filter(pk__gte=rng.randrange(1, 900_000), customer__email__gt="")
        .order_by("pk")[:1]
    )
    card = sample[0]
    customer = card.customer
    surname = customer.name.split()[1]
    local, domain = customer.email.split("@")
    return [
        ("all, first page", "", 0),
        ("all, page 3", "", 2),
        ("exact phone", customer.phone, 0),
        ("exact card number", card.number, 0),
        ("phone part, 7 digits", customer.phone[-7:], 0),
        ("phone part, 4 digits", customer.phone[-4:], 0),
        ("card part, 6 digits", card.number[3:9], 0),
        ("card part, 4 digits", card.number[-4:], 0),
        ("digits, very common (operator)", "7916", 0),
        ("digits, very common, page 2", "7916", 1),
        ("digits, nothing", "00000000000000", 0),
        ("name part", surname[:-2].lower(), 0),
        ("name, two words", customer.name.lower(), 0),
        ("name, very common", "ова", 0),
        ("name, very common, page 2", "ова", 1),
        ("name, nothing", "зинаидович", 0),
        ("name, 2 letters", "ан", 0),
        ("name, 2 letters, rare", "ъё", 0),
        ("name, 1 letter", "ж", 0),
        ("e-mail part", f"{local[-4:]}@{domain[:2]}", 0),
        ("e-mail whole", customer.email, 0),
        ("e-mail, very common", "@mail.ru", 0),
        ("e-mail, nothing", "nobody@nowhere.example", 0),
        ("e-mail, 1 char", "@", 0),
        ("e-mail, no trigram, rare", "zq@", 0),
        ("name, no letters", "%", 0),
    ]


def report(results: list[dict]) -> None:
    header = (
        f"{'search':34} {'query':28} {'kind':6} {'rows':>5} {'cold ms':>8} {'warm ms':>8} {'app ms':>7} "
        f"{'pg ms':>7}  ok  plan"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ok = "yes" if max(r["cold_ms"], r["warm_ms"]) < TARGET_MS else "NO"
        rows = f"{r['rows']}{'+' if r['more'] else ''}"
        print(
            f"{r['label'][:34]:34} {r['query'][:28]:28} {r['kind']:6} {rows:>5} {r['cold_ms']:8.1f} "
            f"{r['warm_ms']:8.1f} {r['app_cpu_ms']:7.1f} {r['pg_cpu_ms']:7.1f}  {ok:3} {r['plan']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="loyalty_bench_search")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--others", default="3x20000", help="other merchants: COUNTxCUSTOMERS")
    parser.add_argument("--reuse", action="store_true", help="keep the database if it holds the data set")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    count, size = (int(x) for x in args.others.split("x"))
    others = [size] * count

    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.db]).fetchone()
        fresh = not (exists and args.reuse)
        if fresh:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{args.db}"')

    os.environ["DATABASE_URL"] = f"{SERVER}/{args.db}"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ.setdefault("SECRETS_ENCRYPTION_KEY", "bench-only-" + "y" * 40)
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ.setdefault("PUBLIC_BASE_URL", "http://localhost")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from merchants.models import Merchant

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrate: {time.perf_counter() - started:.1f} s")
    if fresh or not Merchant.objects.filter(slug=BIG_SLUG).exists():
        load(args.customers, others, args.seed)
    vacuum_analyze()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_index "
            "WHERE indrelid IN ('loyalty_customer'::regclass, 'loyalty_card'::regclass) ORDER BY 1"
        )
        print("indexes: " + ", ".join(f"{name} {size}" for name, size in cursor.fetchall()))

    rng = random.Random(args.seed)
    results = []
    big = Merchant.objects.get(slug=BIG_SLUG)
    small = Merchant.objects.exclude(pk=big.pk).order_by("pk").first()
    for merchant, who in ((big, "big"), (small, "small")):
        print(f"\n{who} merchant: {merchant.cards.count():,} customers")
        batch = []
        for label, query, page in searches(merchant, rng):
            batch.append(measure(merchant, label, query, args.repeat, after_page=page))
        report(batch)
        results += [{**r, "merchant": who} for r in batch]
    worst = max(max(r["cold_ms"], r["warm_ms"]) for r in results if r["merchant"] == "big")
    print(f"\nslowest search of the big merchant: {worst:.1f} ms (target < {TARGET_MS:.0f} ms)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=1))
    connection.close()
    if not args.keep:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
