"""The consent wording a merchant's enrolment page shows, and the customers'
consent to the processing of their personal data given when they enrol.

Marketing consent is recorded by ``ConsentRecord`` (loyalty.models.cards); both
carry the version of the text the customer saw, so what a customer agreed to
can always be shown word for word."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from merchants.models import MerchantScopedManager


class ConsentText(models.Model):
    """One version of a merchant's consent wording. Versions never change:
    editing the text saves the next version. A merchant with no version uses
    the built-in default text (version ``DEFAULT_CONSENT_VERSION``)."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="consent_texts")
    version = models.PositiveIntegerField()
    personal_data_text = models.TextField(_("consent to the processing of personal data"))
    marketing_text = models.TextField(_("consent to receive offers"))
    policy_url = models.URLField(_("privacy policy link"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-version"]
        verbose_name = _("consent text")
        verbose_name_plural = _("consent texts")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "version"], name="consent_text_version_unique"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"v{self.version}"


class PersonalDataConsent(models.Model):
    """A customer's consent to the processing of personal data, given on
    enrolment: which text version they saw, through which channel, when."""

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("loyalty.Customer", on_delete=models.CASCADE, related_name="data_consents")
    text_version = models.CharField(_("consent text version"), max_length=64)
    channel = models.CharField(_("channel"), max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    objects = MerchantScopedManager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("personal data consent")
        verbose_name_plural = _("personal data consents")

    def __str__(self) -> str:
        return f"{self.channel} {self.text_version}"
