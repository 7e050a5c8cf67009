"""POS API routes, mounted under /api/ by loyalty/urls.py: everything lives
under /api/pos/v1/. Unknown paths there get a 404 in the API's error shape."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

pos_v1 = [
    path("cards/lookup/", views.CardLookupApi.as_view(), name="pos-card-lookup"),
    path("cards/<str:card_number>/", views.CardDetailApi.as_view(), name="pos-card-detail"),
    path("cards/<str:card_number>/history/", views.CardHistoryApi.as_view(), name="pos-card-history"),
    path("customers/", views.CustomerEnrollApi.as_view(), name="pos-customer-enroll"),
    path("quotes/", views.QuoteApi.as_view(), name="pos-quote"),
    path("purchases/", views.PurchaseCreateApi.as_view(), name="pos-purchase-create"),
    path("refunds/", views.RefundCreateApi.as_view(), name="pos-refund-create"),
]

urlpatterns = [
    path("pos/v1/", include(pos_v1)),
    path(
        "pos/v1/schema/",
        # Only the POS API, even if other DRF views appear elsewhere in the project.
        SpectacularAPIView.as_view(patterns=[path("api/pos/v1/", include(pos_v1))]),
        name="pos-schema",
    ),
    # The split view serves Swagger UI's start-up script from its own URL (?script): the Content-Security-Policy
    # allows no inline script. Its <style> carries the nonce (templates/drf_spectacular/swagger_ui.html).
    path("pos/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="pos-schema"), name="pos-docs"),
    re_path(r"^pos/.*$", views.NotFoundApi.as_view()),
]
