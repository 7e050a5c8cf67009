"""Demo data: customers and months of realistic café purchases, written through
the same services as the POS API (enroll_customer, purchase, refund and the
daily jobs) with ``now=`` in the past, so that ``verify_ledger`` passes.

Customers fall into four groups: regulars (a few visits a week), occasional
visitors, churned ones (came for a while, then stopped) and new ones (joined in
the last three months). Visits follow a weekday pattern (busier Friday and
Saturday), a season (quieter in summer, busier before New Year) and café hours;
bills are 150–900 RUB around each customer's usual check.

Everything is deterministic for a given ``seed``. Events are replayed in time
order, one day at a time, with the birthday and expiry jobs run at each day's
end; batches of events share one transaction to keep it fast.
"""

from __future__ import annotations

import heapq
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from loyalty import ledger
from loyalty.enrollment.services import enroll_customer
from loyalty.exceptions import LoyaltyError
from loyalty.ledger import jobs
from loyalty.money import round_money
from loyalty.program.services import current_rules, program_for

logger = logging.getLogger(__name__)

FIRST_NAMES = [
    ("Анна", "anna"), ("Мария", "maria"), ("Елена", "elena"), ("Ольга", "olga"), ("Наталья", "natalia"),
    ("Екатерина", "ekaterina"), ("Татьяна", "tatiana"), ("Ирина", "irina"), ("Светлана", "svetlana"),
    ("Дарья", "daria"), ("Алексей", "alexey"), ("Дмитрий", "dmitry"), ("Сергей", "sergey"), ("Андрей", "andrey"),
    ("Иван", "ivan"), ("Михаил", "mikhail"), ("Николай", "nikolay"), ("Павел", "pavel"), ("Артём", "artem"),
    ("Максим", "maxim"), ("Ксения", "ksenia"), ("Полина", "polina"), ("Виктор", "viktor"), ("Егор", "egor"),
]  # fmt: skip
LAST_NAMES = [
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров",
    "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев",
]  # fmt: skip
FEMALE = {"anna", "maria", "elena", "olga", "natalia", "ekaterina", "tatiana", "irina", "svetlana", "daria",
          "ksenia", "polina"}  # fmt: skip
MOBILE_PREFIXES = ["903", "905", "909", "910", "915", "916", "917", "919", "925", "926", "929", "962", "965", "977",
                   "985", "999"]  # fmt: skip
# Monday … Sunday.
WEEKDAY_WEIGHT = [0.85, 0.9, 0.95, 1.0, 1.2, 1.3, 1.05]
# January … December: quieter in the summer holidays, busiest before New Year.
MONTH_WEIGHT = [0.95, 1.0, 1.0, 1.0, 0.95, 0.85, 0.8, 0.8, 1.0, 1.05, 1.1, 1.2]
# Local hours and how busy they are.
HOURS = [(8, 3), (9, 4), (10, 3), (11, 2), (12, 3), (13, 4), (14, 3), (15, 2), (16, 2), (17, 3), (18, 4), (19, 3),
         (20, 2), (21, 1)]  # fmt: skip

GROUPS = [
    # name, share, visits per week (min, max)
    ("regular", 0.15, (1.5, 3.5)),
    ("occasional", 0.35, (0.15, 0.6)),
    ("churned", 0.25, (0.6, 2.0)),
    ("new", 0.25, (0.4, 1.5)),
]
BATCH = 400
# After each commit of a demo loading behind a web server on SQLite, the loader waits this long before it
# takes the write lock again. SQLite gives the lock to no one in particular: a writer that waits for it
# (a login saving its session) retries on a timer, every 100 ms once it has waited a quarter of a second,
# while the loader begins its next transaction microseconds after its commit. Without a pause a login
# was seen to wait 2.5–25 s for the lock (30 s is the timeout, then "database is locked" and a 500).
SQLITE_HANDOVER_SECONDS = 0.11
# How long ``load_demo`` keeps a batch open (``commit_every``): a login waits about this long at most, and
# the pauses add at most about a tenth to the loader's wall-clock time on SQLite (they cost no CPU).
LOADER_COMMIT_SECONDS = 1.0


@dataclass
class Persona:
    index: int
    group: str
    joins_at: datetime
    leaves_at: datetime
    visits_per_week: float
    usual_bill: float
    redeems: float  # chance of redeeming when there is something to redeem
    phone: str
    name: str
    email: str
    birthday: date | None
    consent: bool
    source: str
    refers_to: int | None = None  # index of the referrer
    card: object = None
    customer_id: int | None = None
    purchases: list = field(default_factory=list)


@dataclass
class Summary:
    customers: int = 0
    purchases: int = 0
    redemptions: int = 0
    refunds: int = 0
    birthday_bonuses: int = 0
    settled_cards: int = 0
    refused: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.customers} customers, {self.purchases} purchases ({self.redemptions} with points), "
            f"{self.refunds} refunds, {self.birthday_bonuses} birthday bonuses in {self.seconds:.1f} s"
        )


def _personas(rng: random.Random, count: int, start: datetime, end: datetime) -> list[Persona]:
    span = (end - start).total_seconds()
    phones: set[str] = set()
    people = []
    for index in range(count):
        group, _share, (low, high) = rng.choices(GROUPS, weights=[g[1] for g in GROUPS])[0]
        if group == "new":
            joins = end - timedelta(seconds=rng.uniform(0, min(span, 90 * 86400)))
        else:
            joins = start + timedelta(seconds=rng.uniform(0, span * 0.45))
        leaves = end
        if group == "churned":
            leaves = min(end, joins + timedelta(days=rng.uniform(30, 180)))
        while True:
            phone = f"+7{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
            if phone not in phones:
                phones.add(phone)
                break
        first, latin = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        if latin in FEMALE:
            last += "а"
        birthday = None
        if rng.random() < 0.7:
            birthday = date(rng.randint(1960, 2005), 1, 1) + timedelta(days=rng.randrange(365))
        people.append(
            Persona(
                index=index,
                group=group,
                joins_at=joins,
                leaves_at=leaves,
                visits_per_week=rng.uniform(low, high),
                usual_bill=rng.uniform(230, 520),
                redeems=rng.choice([0.0, 0.2, 0.5, 0.8]),
                phone=phone,
                name=f"{first} {last}" if rng.random() < 0.85 else first,
                email=f"{latin}.{index}@example.com" if rng.random() < 0.35 else "",
                birthday=birthday,
                consent=rng.random() < 0.6,
                source=rng.choices(["qr", "cashier", "import"], weights=[50, 45, 5])[0],
            )
        )
    # Some new customers were brought by a regular.
    regulars = [p for p in people if p.group == "regular"]
    for person in people:
        if person.group == "new" and regulars and rng.random() < 0.15:
            referrer = rng.choice(regulars)
            if referrer.joins_at < person.joins_at:
                person.refers_to = referrer.index
                person.source = "referral"
    return people


def _visit_times(rng: random.Random, person: Persona, tz) -> list[datetime]:
    """Visits as a thinned Poisson process following weekday, season and hour."""
    times = []
    rate_per_day = person.visits_per_week / 7 * 1.35  # thinned by the weights below (max 1.3 × 1.2)
    t = person.joins_at + timedelta(minutes=rng.uniform(1, 30))  # often buys right after joining
    first = True
    while t < person.leaves_at:
        local = timezone.localtime(t, tz)
        weight = WEEKDAY_WEIGHT[local.weekday()] * MONTH_WEIGHT[local.month - 1] / (1.3 * 1.2)
        if first or rng.random() < weight:
            hour = rng.choices([h for h, _w in HOURS], weights=[w for _h, w in HOURS])[0]
            visit = local.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
            if first:
                visit = t
            if person.joins_at < visit < person.leaves_at:
                times.append(visit)
            first = False
        t += timedelta(days=rng.expovariate(rate_per_day))
    return sorted(set(times))


def _bill(rng: random.Random, person: Persona) -> Decimal:
    amount = rng.lognormvariate(0, 0.35) * person.usual_bill
    amount = max(150, min(900, amount))
    return Decimal(int(amount / 10) * 10)


@contextmanager
def _sql_not_logged() -> Iterator[None]:
    """With DEBUG on (as `make run` has it) Django logs every SQL statement, and on SQLite
    it quotes each statement's parameters with one more query to do so: about half of the
    demo's work. The loader runs in its own process (``load_demo``), so it turns that off
    while it writes; the web server beside it keeps DEBUG."""
    debug = settings.DEBUG
    settings.DEBUG = False
    try:
        yield
    finally:
        settings.DEBUG = debug


def generate(
    merchant,
    customers: int = 2000,
    months: int = 12,
    seed: int = 1,
    *,
    end: datetime | None = None,
    refund_share: float = 0.01,
    visit_rate: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
    commit_every: float | None = None,
) -> Summary:
    """Create ``customers`` customers and ``months`` months of purchases up to
    ``end`` (default: now) for ``merchant``. Returns a summary with timings.

    At ``visit_rate=1`` a customer averages about 24 purchases a year (2,000
    customers × 12 months ≈ 48,000 purchases); lower it for a quicker, thinner
    history (the time is proportional to the number of purchases).

    ``progress(done, total)`` is called after each event (enrolment or visit);
    ``commit_every`` (seconds) also commits the open batch when it has been open
    that long, so that a web server sharing an SQLite file is never kept waiting
    for its write lock while the demo loads behind it; with ``commit_every`` on
    SQLite, every commit is followed by a pause (``SQLITE_HANDOVER_SECONDS``) in
    which a waiting writer gets the lock."""
    with _sql_not_logged():
        return _generate(
            merchant, customers, months, seed, end=end, refund_share=refund_share, visit_rate=visit_rate,
            progress=progress, commit_every=commit_every,
        )  # fmt: skip


def _generate(
    merchant,
    customers: int,
    months: int,
    seed: int,
    *,
    end: datetime | None,
    refund_share: float,
    visit_rate: float,
    progress: Callable[[int, int], None] | None,
    commit_every: float | None,
) -> Summary:
    started = time.monotonic()
    rng = random.Random(seed)
    end = end or timezone.now()
    start = end - timedelta(days=round(months * 30.44))
    tz = merchant.tzinfo
    program_for(merchant=merchant)
    rules = current_rules(merchant=merchant)
    locations = list(merchant.locations.filter(is_active=True).order_by("pk"))
    summary = Summary()
    people = _personas(rng, customers, start, end)
    for person in people:
        person.visits_per_week *= visit_rate

    # One queue of events in time order: (time, order, kind, person index).
    events: list[tuple[datetime, int, str, int]] = []
    order = 0
    for person in people:
        events.append((person.joins_at, order, "join", person.index))
        order += 1
        for visit in _visit_times(rng, person, tz):
            events.append((visit, order, "buy", person.index))
            order += 1
    heapq.heapify(events)
    total = len(events)
    done = 0

    day = timezone.localtime(start, tz).date()
    next_day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    receipt = 0
    pending_refunds: list[tuple[datetime, int, object]] = []
    batch_open = 0
    # Each changed card is announced once (wallet passes), after the last commit.
    coalesce = ledger.coalesced_card_changes()
    coalesce.__enter__()
    atomic = transaction.atomic()
    atomic.__enter__()
    batch_started = time.monotonic()
    try:
        while events:
            when, _order, kind, index = heapq.heappop(events)
            while when >= next_day_end:
                # The day is over: the daily jobs run (as beat would) before the next day's events.
                summary.birthday_bonuses += jobs.grant_birthday_bonuses(
                    merchant=merchant, now=next_day_end - timedelta(hours=14)
                )
                summary.settled_cards += jobs.settle_due_cards(merchant=merchant, now=next_day_end)
                next_day_end += timedelta(days=1)
            person = people[index]
            location = rng.choice(locations) if locations else None
            if kind == "join":
                referral_code = ""
                if person.refers_to is not None and people[person.refers_to].card is not None:
                    referral_code = people[person.refers_to].card.customer.referral_code
                try:
                    person.card = enroll_customer(
                        merchant=merchant, phone=person.phone, name=person.name, email=person.email,
                        birthday=person.birthday, location=location, source=person.source,
                        marketing_consent=person.consent, consent_channel=person.source,
                        consent_text_version="2025-01" if person.consent else "", referral_code=referral_code,
                        now=when,
                    )  # fmt: skip
                    summary.customers += 1
                except LoyaltyError:
                    summary.refused += 1
            elif person.card is not None:
                receipt += 1
                bill = _bill(rng, person)
                card = person.card
                redeem = 0
                if rules.uses_points and card.spendable_points >= 50 and rng.random() < person.redeems:
                    redeem = min(card.spendable_points, rules.max_redeem_points(bill))
                p = None
                for points in dict.fromkeys([redeem, 0]):
                    # The card in hand may be a little stale (a bonus, an expiry, a refund since);
                    # a refused redemption is retried without points, as a cashier would.
                    try:
                        p = ledger.purchase(
                            merchant=merchant, card=card, location=location, bill_amount=bill,
                            redeem_points=points, receipt_id=f"DEMO-{seed}-{receipt:07d}",
                            idempotency_key=f"demo-{seed}-{receipt}-{points}", now=when,
                        )  # fmt: skip
                        redeem = points
                        break
                    except LoyaltyError:
                        summary.refused += 1
                if p is None:
                    continue
                person.card = p.card
                summary.purchases += 1
                summary.redemptions += 1 if redeem else 0
                if rng.random() < refund_share:
                    later = when + timedelta(minutes=rng.uniform(2, 60 * 24 * 3))
                    if later < end:
                        pending_refunds.append((later, receipt, p))
                batch_open += 1
            # Refunds whose time has come.
            due = [r for r in pending_refunds if r[0] <= when]
            for refund_at, number, p in due:
                pending_refunds.remove((refund_at, number, p))
                amount = None if rng.random() < 0.6 else round_money(p.bill_amount / 2, merchant.currency)
                try:
                    ledger.refund(
                        merchant=merchant,
                        purchase=p,
                        amount=amount,
                        idempotency_key=f"demo-{seed}-refund-{number}",
                        now=refund_at,
                    )
                    summary.refunds += 1
                except LoyaltyError:
                    summary.refused += 1
            done += 1
            if batch_open >= BATCH or (commit_every is not None and time.monotonic() - batch_started >= commit_every):
                atomic.__exit__(None, None, None)
                if commit_every is not None and connection.vendor == "sqlite":
                    time.sleep(SQLITE_HANDOVER_SECONDS)
                atomic = transaction.atomic()
                atomic.__enter__()
                batch_open = 0
                batch_started = time.monotonic()
            if progress is not None:
                progress(done, total)
        summary.settled_cards += jobs.settle_due_cards(merchant=merchant, now=end)
    except BaseException as exc:
        atomic.__exit__(type(exc), exc, exc.__traceback__)
        coalesce.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        atomic.__exit__(None, None, None)
        coalesce.__exit__(None, None, None)
    summary.seconds = time.monotonic() - started
    logger.info("demo data for %s: %s", merchant, summary)
    return summary


# Steps other apps add to the demo (campaigns seeds campaigns with history): loyalty never imports
# them; they register themselves from their AppConfig.ready. Each takes the merchant and ``now``,
# is idempotent, and returns a short line for the terminal (or None).
DemoStep = Callable[..., "str | None"]
_EXTRA_STEPS: list[DemoStep] = []


def register_demo_step(step: DemoStep) -> None:
    if step not in _EXTRA_STEPS:
        _EXTRA_STEPS.append(step)


def run_extra_steps(merchant, *, now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    return [line for step in _EXTRA_STEPS if (line := step(merchant, now=now))]
