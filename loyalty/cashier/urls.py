from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/till/", views.TillPageView.as_view(), name="till"),
    path("dashboard/till/location/", views.TillLocationView.as_view(), name="till_location"),
    path("dashboard/till/lookup/", views.TillLookupView.as_view(), name="till_lookup"),
    path("dashboard/till/quote/", views.TillQuoteView.as_view(), name="till_quote"),
    path("dashboard/till/purchase/", views.TillPurchaseView.as_view(), name="till_purchase"),
    path("dashboard/till/undo/", views.TillUndoView.as_view(), name="till_undo"),
    path("dashboard/till/enrol/", views.TillEnrolView.as_view(), name="till_enrol"),
    path("dashboard/till/purchases/", views.TillPurchasesView.as_view(), name="till_purchases"),
    path("dashboard/till/refund/", views.TillRefundView.as_view(), name="till_refund"),
    path("dashboard/till/settings/", views.TillSettingsView.as_view(), name="till_settings"),
]
