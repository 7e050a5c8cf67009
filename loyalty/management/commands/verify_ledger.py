from django.core.management.base import BaseCommand, CommandError

from loyalty.ledger.verification import verify_ledger
from merchants.models import Merchant


class Command(BaseCommand):
    help = (
        "Prove every card's cached balance, debt, pending points, stamps and rewards against the append-only "
        "ledger, every lot's remaining points against its entries, and every purchase against its entries and "
        "refunds. Exits non-zero on any mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--merchant", type=int, help="Only this merchant's cards (id).")

    def handle(self, *args, merchant=None, **options):
        if merchant is not None and not Merchant.objects.filter(pk=merchant).exists():
            raise CommandError(f"No merchant with id {merchant}.")
        report = verify_ledger(merchant_id=merchant)
        scope = f"merchant {merchant}" if merchant else "all merchants"
        self.stdout.write(
            f"Checked {scope}: {report.cards} cards, {report.lots} lots, {report.entries} ledger entries, "
            f"{report.purchases} purchases."
        )
        self.stdout.write(
            "Checks: balance = Σ entries; stamps/rewards = Σ entries; debt = −Σ entries without a lot; "
            "lot remaining = Σ its entries (0..points); pending = Σ pending lots; balance = Σ lots − debt; "
            "purchase earned/redeemed/refunded = its entries and refunds."
        )
        for note in report.notes:
            self.stdout.write(f"Note: {note}")
        if not report.ok:
            for problem in report.problems[:50]:
                self.stderr.write(f"MISMATCH {problem}")
            if len(report.problems) > 50:
                self.stderr.write(f"… and {len(report.problems) - 50} more")
            raise CommandError(f"{len(report.problems)} mismatches found.")
        self.stdout.write(self.style.SUCCESS("OK: the ledger verifies."))
