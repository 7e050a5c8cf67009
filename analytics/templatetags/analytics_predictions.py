"""``{% customer_prediction card %}``: the predicted value block on the customer's
card page. The loyalty app's template loads it by name; loyalty's code never
imports analytics."""

from __future__ import annotations

from django import template

from analytics.models import CustomerPrediction, PredictionFit

register = template.Library()


@register.inclusion_tag("analytics/_prediction.html", takes_context=True)
def customer_prediction(context, card) -> dict:
    merchant = context["merchant"]
    fit = PredictionFit.objects.for_merchant(merchant).first()
    prediction = (
        CustomerPrediction.objects.for_merchant(merchant).filter(customer_id=card.customer_id).first()
        if fit is not None and fit.status == PredictionFit.Status.FITTED
        else None
    )
    return {"merchant": merchant, "fit": fit, "prediction": prediction, "card": card}
