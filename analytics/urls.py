from django.urls import path

from analytics import views

urlpatterns = [
    path("dashboard/analytics/", views.AnalyticsView.as_view(), name="analytics"),
    path("dashboard/analytics/csv/", views.AnalyticsCsvView.as_view(), name="analytics_csv"),
]
