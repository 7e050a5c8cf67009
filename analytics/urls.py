from django.urls import path

from analytics import tool_views, views

urlpatterns = [
    path("dashboard/analytics/", views.AnalyticsView.as_view(), name="analytics"),
    path("dashboard/analytics/csv/", views.AnalyticsCsvView.as_view(), name="analytics_csv"),
    path("dashboard/analytics/roi/", tool_views.RoiView.as_view(), name="roi_calculator"),
    path("dashboard/customers/import/", tool_views.ImportListView.as_view(), name="customer_import"),
    path("dashboard/customers/import/<int:pk>/", tool_views.ImportDetailView.as_view(), name="customer_import_detail"),
    path(
        "dashboard/customers/import/<int:pk>/progress/",
        tool_views.ImportProgressView.as_view(),
        name="customer_import_progress",
    ),
    path(
        "dashboard/customers/import/<int:pk>/errors.csv",
        tool_views.ImportErrorsCsvView.as_view(),
        name="customer_import_errors",
    ),
    *(
        path(f"dashboard/customers/export/{kind}.csv", tool_views.ExportView.as_view(kind=kind), name=f"export_{kind}")
        for kind in tool_views.ExportView.kinds
    ),
]
