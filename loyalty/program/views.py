"""The dashboard page where the owner or a marketer edits the bonus program."""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from loyalty.exceptions import InvalidProgram
from loyalty.models import ProgramVersion, Tier
from loyalty.money import amount_for_input
from loyalty.program.forms import ProgramForm, TierFormSet
from loyalty.program.rules import RULE_FIELDS
from loyalty.program.services import program_for, save_program, tier_list_problems
from merchants.permissions import CAN_MANAGE_PROGRAM, MerchantStaffRequiredMixin


class ProgramEditView(MerchantStaffRequiredMixin, View):
    allowed_roles = CAN_MANAGE_PROGRAM
    template_name = "loyalty/program_form.html"

    def _tier_initial(self, program):
        return [
            {"id": t.pk, "name": t.name, "threshold": amount_for_input(t.threshold, self.merchant.currency),
             "earn_rate": t.earn_rate,
             "discount_percent": t.discount_percent}
            for t in Tier.objects.for_merchant(self.merchant).filter(program=program).order_by("threshold", "pk")
        ]  # fmt: skip

    def _render(self, request, program, form, tiers):
        versions = ProgramVersion.objects.for_merchant(self.merchant).select_related("created_by")[:5]
        return render(
            request,
            self.template_name,
            {"program": program, "form": form, "tiers": tiers, "versions": versions},
            status=400 if form.is_bound and (form.errors or tiers.errors or tiers.non_form_errors()) else 200,
        )

    def get(self, request):
        program = program_for(merchant=self.merchant)
        form = ProgramForm(instance=program)
        tiers = TierFormSet(
            prefix="tiers", initial=self._tier_initial(program), form_kwargs={"currency": self.merchant.currency}
        )
        return self._render(request, program, form, tiers)

    def post(self, request):
        program = program_for(merchant=self.merchant)
        # Bind to a copy: the form must not change the program row itself.
        form = ProgramForm(request.POST, instance=program_for(merchant=self.merchant))
        tiers = TierFormSet(
            request.POST,
            prefix="tiers",
            initial=self._tier_initial(program),
            form_kwargs={"currency": self.merchant.currency},
        )
        if not form.is_valid():
            if tiers.is_valid():
                # Say what is wrong with the tiers now too, not after the other fields are fixed.
                listed = [
                    SimpleNamespace(name=f.cleaned_data["name"], threshold=f.cleaned_data["threshold"])
                    for f in tiers.forms
                    if f.cleaned_data and not f.cleaned_data.get("DELETE")
                ]
                problems = tier_list_problems(listed)
                if problems:
                    tiers._non_form_errors = tiers.error_class([*tiers.non_form_errors(), *problems])
            return self._render(request, program, form, tiers)
        if not tiers.is_valid():
            return self._render(request, program, form, tiers)
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in RULE_FIELDS + ["name"]}
        if tiers.has_changed():
            changes["tiers"] = [
                {key: value for key, value in f.cleaned_data.items() if key != "DELETE" and (key != "id" or value)}
                for f in tiers.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
        if not changes:
            messages.info(request, _("Nothing changed."))
            return redirect("program")
        try:
            version = save_program(merchant=self.merchant, actor=request.user, **changes)
        except InvalidProgram as exc:
            for name, errors in exc.errors.items():
                for error in errors:
                    if name == "tiers":
                        tiers._non_form_errors = tiers.error_class([*tiers.non_form_errors(), error])
                    elif name in form.fields:
                        form.add_error(name, error)
                    else:
                        form.add_error(None, error)
            return self._render(request, program, form, tiers)
        messages.success(
            request, _("Saved. The new rules (version %(n)d) apply from the next purchase.") % {"n": version.number}
        )
        return redirect("program")
