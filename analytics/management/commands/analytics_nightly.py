"""Run the analytics nightly jobs now, in this process: the summaries' rebuild with cohorts and
tiers, then the predicted customer value of every active merchant (or of ``--merchant``).
Beat runs the same tasks at night; this is for right after an import or the demo load
(``make run`` calls it when the demo has loaded, so the quick start shows cohorts, tiers and
predictions at once), or to refresh by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from analytics.tasks import fit_predictions_task, nightly_summaries_task
from merchants.models import Merchant


class Command(BaseCommand):
    help = "Rebuild the analytics summaries, cohorts and tiers, and fit the predictions, now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--merchant", type=int, help="fit the predictions of this merchant id only")

    def handle(self, *args, merchant: int | None = None, **options) -> None:
        nightly_summaries_task()
        self.stdout.write("Analytics: summaries, cohorts and tiers rebuilt.")
        merchants = Merchant.objects.filter(is_active=True).order_by("pk")
        if merchant is not None:
            merchants = merchants.filter(pk=merchant)
        for merchant_id in merchants.values_list("pk", flat=True):
            fit_predictions_task(merchant_id)
        self.stdout.write("Analytics: predicted customer value fitted.")
