from django.urls import path

from loyalty.customers import views

urlpatterns = [
    path("dashboard/customers/", views.CustomerListView.as_view(), name="customer_list"),
    path(
        "dashboard/customers/<int:pk>/export.<str:format>", views.CustomerExportView.as_view(), name="customer_export"
    ),
]
