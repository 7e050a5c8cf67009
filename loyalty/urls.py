from django.urls import include, path

urlpatterns = [
    path("api/", include("loyalty.api.urls")),
    path("", include("loyalty.cashier.urls")),
    path("", include("loyalty.wallet.urls")),
    path("", include("loyalty.design.urls")),
    path("", include("loyalty.enrollment.urls")),
    path("", include("loyalty.program.urls")),
    path("", include("loyalty.customers.urls")),
]
