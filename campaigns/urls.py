from django.urls import include, path

urlpatterns: list = [
    path("", include("campaigns.segments.urls")),
    path("", include("campaigns.channels.urls")),
    path("", include("campaigns.dashboard.urls")),
]
