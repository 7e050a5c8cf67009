from django.urls import include, path

from loyalty import program_views
from loyalty.customers import views as customers_views

urlpatterns = [
    path("api/", include("loyalty.api.urls")),
    path("", include("loyalty.cashier.urls")),
    path("", include("loyalty.wallet.urls")),
    path("", include("loyalty.design.urls")),
    path("", include("loyalty.enroll.urls")),
    path("dashboard/program/", program_views.ProgramEditView.as_view(), name="program"),
    path("dashboard/customers/", customers_views.CustomerListView.as_view(), name="customer_list"),
]
