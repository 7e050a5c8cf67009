"""Load the demo merchant: a coffee shop with two locations and three staff
logins, plus its customers and a year of purchases. Idempotent: a second run
finds the demo merchant and does nothing.

``make run`` calls it twice: ``--staff-only`` before the web server starts (a
second; the logins work at once), then without it behind the running server,
with a progress bar and an estimate on the terminal and the progress in
``merchants.demo_status`` for the dashboard. The purchases are committed in
short batches, so an interrupted load leaves a partial history (still consistent:
every batch went through the ledger); the next start says so instead of loading
on top of it."""

import sys

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from tqdm import tqdm

from loyalty import demo
from merchants import demo_status
from merchants.models import Location, Merchant, Role, User
from merchants.platform_roles import SUPPORT_AGENT, sync_platform_groups

DEMO_SLUG = "zerno-demo"
DEMO_PASSWORD = "zerno-demo-2026"
# The demo support login's authenticator key (admin asks platform staff for a TOTP code, issue 13). Published on
# purpose, demo only: add PJSXE3TPFVSGK3LPFUZGMYJNNNSXSIJB to an authenticator app, or run `load_demo --print-totp`.
DEMO_TOTP_KEY = b"zerno-demo-2fa-key!!"
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
        parser.add_argument(
            "--print-totp", action="store_true", help="Print the demo support login's current 2FA code and exit."
        )
        parser.add_argument(
            "--staff-only", action="store_true", help="Create the merchant, its locations and logins; no customers."
        )

    def handle(
        self,
        *args,
        customers: int,
        months: int,
        visit_rate: float,
        print_password: bool,
        staff_only: bool = False,
        print_totp: bool = False,
        **options,
    ):
        if print_password:
            self.stdout.write(DEMO_PASSWORD)
            return
        if print_totp:
            from django_otp.oath import totp

            self.stdout.write(f"{totp(DEMO_TOTP_KEY):06d}")
            return
        merchant = Merchant.objects.filter(slug=DEMO_SLUG).first()
        if merchant is None:
            merchant = self._create_merchant()
        self._support_authenticator()
        if staff_only:
            return
        if merchant.customers.exists():
            status = demo_status.read()
            if status is not None and status.slug == merchant.slug and status.state != demo_status.DONE:
                self.stdout.write(
                    self.style.WARNING(
                        f"The demo data was interrupted at {status.done} of {status.total} events and is partial "
                        "(consistent: verify_ledger passes). For the whole demo, start from an empty database "
                        "(remove var/db.sqlite3)."
                    )
                )
            else:
                self.stdout.write(f"Demo data already loaded: {merchant.name}")
                self._extra_steps(merchant)
            return
        self._load_customers(merchant, customers=customers, months=months, visit_rate=visit_rate)

    def _create_merchant(self) -> Merchant:
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
                # A support agent, not a superuser: the least a support person needs (merchants.platform_roles).
                support = User.objects.create_user(
                    "support@platform.demo", DEMO_PASSWORD, full_name="Platform support", is_staff=True
                )
                sync_platform_groups()
                support.groups.add(Group.objects.get(name=SUPPORT_AGENT))
        self.stdout.write(self.style.SUCCESS(f"Created demo merchant {merchant.name} with {len(STAFF)} staff logins"))
        return merchant

    def _support_authenticator(self) -> None:
        """The demo support login's authenticator, with the published demo key (also for databases made
        before admin required a second factor)."""
        from merchants.models import AuthenticatorDevice

        support = User.objects.filter(email="support@platform.demo").first()
        if support is not None and not AuthenticatorDevice.objects.filter(user=support, confirmed=True).exists():
            device = AuthenticatorDevice(user=support, name="demo", confirmed=True)
            device.set_key(DEMO_TOTP_KEY)
            device.save()

    def _load_customers(self, merchant: Merchant, *, customers: int, months: int, visit_rate: float) -> None:
        self.stdout.write(
            f"Loading demo data: {customers} customers and {months} months of purchases through the ledger..."
        )
        self.stdout.flush()
        status = demo_status.DemoStatus(slug=merchant.slug, state=demo_status.LOADING)
        demo_status.write(status)
        bar = tqdm(
            desc="Demo data",
            unit=" events",
            file=sys.stderr,
            mininterval=0.5,
            # On a terminal, as wide as it is; into a log file (make run shows var/log/demo.log), 80 columns.
            dynamic_ncols=sys.stderr.isatty(),
            ncols=None if sys.stderr.isatty() else 80,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
            "[{elapsed} so far, about {remaining} left]",
        )
        last_write = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last_write
            if bar.total != total:
                bar.reset(total=total)
            bar.update(done - bar.n)
            now = bar.format_dict["elapsed"]
            if now - last_write >= 1 or done == total:
                last_write = now
                rate = bar.format_dict.get("rate") or (done / now if now else None)
                status.done, status.total = done, total
                status.seconds_left = (total - done) / rate if rate else None
                demo_status.write(status)

        try:
            summary = demo.generate(
                merchant,
                customers=customers,
                months=months,
                visit_rate=visit_rate,
                progress=progress,
                commit_every=demo.LOADER_COMMIT_SECONDS,
            )
        except BaseException:
            bar.close()
            status.state = demo_status.FAILED
            demo_status.write(status)
            raise
        bar.close()
        status.state, status.seconds_left = demo_status.DONE, 0
        demo_status.write(status)
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {summary}."))
        self._extra_steps(merchant)

    def _extra_steps(self, merchant: Merchant) -> None:
        # Other apps' demo steps (campaigns with history); each is idempotent.
        for line in demo.run_extra_steps(merchant):
            self.stdout.write(self.style.SUCCESS(line))
