"""Forms of the dashboard's program page. They only parse input; the rules are
validated again and saved by ``loyalty.program.services.save_program``."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.models import Program
from loyalty.money import amount_for_input
from loyalty.program.limits import TIER_NAME_MAX, program_limits, program_name_problem, tier_limits
from loyalty.program.rules import RULE_FIELDS

SECTIONS = [
    (_("Points and cashback"), ["points_per_unit", "cashback_percent", "point_value", "points_expiry_days"]),
    (_("Stamps"), ["stamps_per_reward", "reward_description", "stamp_min_bill", "stamp_expiry_days"]),
    (
        _("Limits"),
        ["max_redeem_percent", "min_bill_to_earn", "min_balance_to_redeem", "daily_earn_cap", "activation_delay_hours"],
    ),
    (
        _("Bonuses"),
        [
            "welcome_bonus",
            "birthday_bonus",
            "birthday_days_before",
            "birthday_valid_days",
            "referral_referrer_bonus",
            "referral_friend_bonus",
            "referral_cap",
            "returning_after_days",
            "returning_multiplier",
            "returning_purchases",
        ],
    ),
    (_("Tiers"), ["tier_window_months", "tier_demotion_enabled"]),
]


class ProgramForm(forms.ModelForm):
    class Meta:
        model = Program
        fields = ["name", *RULE_FIELDS]
        widgets = {"mechanic": forms.RadioSelect}
        # What each rule does, in the words the ledger follows (loyalty/ledger/quotes.py, purchases.py).
        labels = {"stamps_per_reward": _("Every N-th visit is free: N")}
        help_texts = {
            "stamps_per_reward": _(
                "6 means: buy 5, the 6th is free. Each paid visit with a bill of at least the minimum for a stamp "
                "earns a stamp; the stamp of the 5th paid visit turns the five into a reward, and the reward pays "
                "for the 6th visit (the till shows that this purchase is the free one). A reward can also be kept "
                "for a later visit; rewards add up. A free item rung up as 0.00 earns no stamp. At least 2."
            ),
            "min_bill_to_earn": _(
                "Checked against the money paid: the bill after the tier discount, minus the part paid with points "
                "(a bill of 120 paid with 36 points is 84 of money). 0: points on every bill."
            ),
            "daily_earn_cap": _(
                "Points earned on purchases in one day (the business's time zone), after refunds: points a refund "
                "took back do not count. Empty: no cap."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The bounds speak the merchant's language; the column's own checks
        # ("no more than 5 digits in total") would only repeat them in a validator's.
        # Amounts follow the merchant's currency: whole yen, cents, thousandths of a dinar.
        currency = self.instance.merchant.currency
        limits = program_limits(currency)
        _use_limits(self, limits)
        # The columns keep three decimals; the inputs show the currency's ("1" JPY, "1.00" RUB).
        for name, limit in limits.items():
            if limit.kind == "money" and name in self.initial:
                self.initial[name] = amount_for_input(self.initial[name], currency)
        self.fields["name"].required = True
        self.fields["name"].error_messages["required"] = _("Give the program a name: customers see it on their card.")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        problem = program_name_problem(name)
        if problem:
            raise forms.ValidationError(problem, code="invalid")
        return name.strip()

    def sections(self):
        return [(title, [self[name] for name in names]) for title, names in SECTIONS]


def _use_limits(form: forms.BaseForm, limits) -> None:
    for name, limit in limits.items():
        field = form.fields.get(name)
        if field is None:
            continue
        field.validators = [limit]
        if isinstance(field, forms.DecimalField):
            field.max_digits = field.decimal_places = None
        field.widget.attrs.pop("max", None)
        field.widget.attrs.pop("maxlength", None)


class TierForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(
        label=_("Name"), max_length=TIER_NAME_MAX, error_messages={"required": _("Give the tier a name.")}
    )
    threshold = forms.DecimalField(label=_("Spend from"))
    earn_rate = forms.DecimalField(label=_("Earn rate"), required=False)
    discount_percent = forms.DecimalField(label=_("Discount, %"), initial=0)

    def __init__(self, *args, currency: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        _use_limits(self, tier_limits(currency))


TierFormSet = forms.formset_factory(TierForm, extra=1, can_delete=True, max_num=10, validate_max=True)
