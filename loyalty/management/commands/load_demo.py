"""Load the demo merchant: a coffee shop with two locations and three staff
logins, plus (once the loyalty core is there) its customers and a year of
purchases. Idempotent: a second run finds the demo merchant and does nothing."""

from django.core.management.base import BaseCommand
from django.db import transaction

from loyalty import demo
from merchants.models import Location, Merchant, Role, User

DEMO_SLUG = "zerno-demo"
DEMO_PASSWORD = "zerno-demo-2026"
STAFF = [
    ("owner@zerno.demo", "Анна Смирнова", Role.OWNER),
    ("marketer@zerno.demo", "Илья Петров", Role.MARKETER),
    ("cashier@zerno.demo", "Мария Иванова", Role.CASHIER),
]
LOCATIONS = [
    ("Зерно на Тверской", "Тверская ул., 12, Москва", "55.764600", "37.605400"),
    ("Зерно на Покровке", "ул. Покровка, 27, Москва", "55.758900", "37.646300"),
]


class Command(BaseCommand):
    help = "Create the demo coffee shop, its staff logins and demo customers (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--months", type=int, default=12)
        # Visits per customer relative to a real café's (regulars a few times a
        # week). 0.4 keeps the first start of `make run` to a couple of minutes;
        # 1.0 is the full picture (about 48,000 purchases, several minutes).
        parser.add_argument("--visit-rate", type=float, default=0.4)
        parser.add_argument("--print-password", action="store_true", help="Print the demo password and exit.")

    def handle(self, *args, customers: int, months: int, visit_rate: float, print_password: bool, **options):
        if print_password:
            self.stdout.write(DEMO_PASSWORD)
            return
        merchant = Merchant.objects.filter(slug=DEMO_SLUG).first()
        if merchant is not None:
            if merchant.customers.exists():
                self.stdout.write(f"Demo merchant already loaded: {merchant.name}")
            else:
                # A previous run stopped before the customers were written.
                self._load_customers(merchant, customers=customers, months=months, visit_rate=visit_rate)
            return
        with transaction.atomic():
            merchant = Merchant.objects.create(
                name="Кофейня «Зерно»", slug=DEMO_SLUG, country="RU", currency="RUB", time_zone="Europe/Moscow"
            )
            for name, address, lat, lng in LOCATIONS:
                Location.objects.create(merchant=merchant, name=name, address=address, latitude=lat, longitude=lng)
            for email, full_name, role in STAFF:
                if not User.objects.filter(email=email).exists():
                    User.objects.create_user(email, DEMO_PASSWORD, full_name=full_name, merchant=merchant, role=role)
            if not User.objects.filter(email="support@platform.demo").exists():
                User.objects.create_superuser("support@platform.demo", DEMO_PASSWORD, full_name="Platform support")
        self.stdout.write(self.style.SUCCESS(f"Created demo merchant {merchant.name} with {len(STAFF)} staff logins"))
        self._load_customers(merchant, customers=customers, months=months, visit_rate=visit_rate)

    def _load_customers(self, merchant: Merchant, *, customers: int, months: int, visit_rate: float) -> None:
        self.stdout.write(
            f"Generating {customers} customers and {months} months of purchases through the ledger "
            "(a few minutes; the site starts when it is done)..."
        )
        with transaction.atomic():
            demo.generate(merchant, customers=customers, months=months, visit_rate=visit_rate)
        self.stdout.write(self.style.SUCCESS("Demo customers loaded."))
